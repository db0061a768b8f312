from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from paper_review.models import Paper, Review
from paper_review.shipped import REVIEWS_DIR, load_shipped_reviews


class Command(BaseCommand):
    help = "Create or update the shipped paper reviews from Markdown files (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(REVIEWS_DIR), help="Folder of review .md files (default: %(default)s)")

    def handle(self, *args, **options):
        if not Path(options["dir"]).is_dir():
            raise CommandError(f"No such folder: {options['dir']}")
        try:
            results = load_shipped_reviews(Paper, Review, options["dir"])
        except (ValueError, OSError) as error:  # ReviewFileError is a ValueError
            raise CommandError(f"Could not load the reviews: {error}") from error
        for review, created in results:
            self.stdout.write(f"{'created' if created else 'updated'}: {review.slug}")
        created_count = sum(created for _, created in results)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(results)} review(s) loaded: {created_count} created, {len(results) - created_count} updated."
            )
        )
