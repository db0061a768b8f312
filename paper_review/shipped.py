"""The reviews that ship with the site: paper_review/reviews/*.md.

Each file starts with a front-matter block of "key: value" lines between two
"---" lines (the review's slug, title, author, date and summary, and the
paper's fields prefixed with "paper_"), followed by the Markdown body.
Loading is idempotent: it creates or updates by slug, so the data migration
and the load_reviews command can both run it any number of times.
"""

import datetime
from dataclasses import dataclass
from pathlib import Path

REVIEWS_DIR = Path(__file__).resolve().parent / "reviews"
REVIEW_KEYS = ("slug", "title", "author", "date", "summary")
PAPER_KEYS = (
    "paper_slug",
    "paper_title",
    "paper_authors",
    "paper_venue",
    "paper_year",
    "paper_link",
    "paper_site_models",
)


class ReviewFileError(ValueError):
    pass


@dataclass
class ShippedReview:
    path: Path
    review: dict
    paper: dict
    body: str


def parse_review_file(path):
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ReviewFileError(f"{path}: must start with a '---' front-matter line.")
    try:
        end = next(n for n, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise ReviewFileError(f"{path}: the front matter has no closing '---' line.") from None
    meta = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if not sep:
            raise ReviewFileError(f"{path}: front-matter line {line!r} is not 'key: value'.")
        meta[key.strip()] = value.strip()
    missing = [key for key in REVIEW_KEYS + PAPER_KEYS if key not in meta]
    if missing:
        raise ReviewFileError(f"{path}: front matter lacks {', '.join(missing)}.")
    review = {key: meta[key] for key in REVIEW_KEYS}
    review["date"] = datetime.date.fromisoformat(review["date"])
    paper = {key.removeprefix("paper_"): meta[key] for key in PAPER_KEYS}
    paper["year"] = int(paper["year"])
    return ShippedReview(path=Path(path), review=review, paper=paper, body="\n".join(lines[end + 1 :]).strip() + "\n")


def shipped_reviews(directory=REVIEWS_DIR):
    return [parse_review_file(path) for path in sorted(Path(directory).glob("*.md"))]


def load_shipped_reviews(paper_model, review_model, directory=REVIEWS_DIR, only_missing=False):
    """Create or update every shipped review; returns [(review, created)].
    ``only_missing``: create the reviews the database lacks, leave the others
    (and any edits made to them in the admin) alone.

    Takes the model classes as arguments so a migration can pass its historical ones.
    """
    results = []
    for shipped in shipped_reviews(directory):
        if only_missing and review_model.objects.filter(slug=shipped.review["slug"]).exists():
            continue
        paper_fields = dict(shipped.paper)
        paper, _ = paper_model.objects.update_or_create(slug=paper_fields.pop("slug"), defaults=paper_fields)
        review_fields = dict(shipped.review, paper=paper, body=shipped.body)
        review, created = review_model.objects.update_or_create(slug=review_fields.pop("slug"), defaults=review_fields)
        results.append((review, created))
    return results
