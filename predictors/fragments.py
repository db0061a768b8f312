"""Rendered pieces of the recommendation pages (a model page's content, an
API answer's body, the onboarding panel), kept per process and catalog
version (movie.catalog.catalog_fragment) on everything they show: the same
visitor's next view with nothing changed reuses them, and any change (a new
event, an activation, a new "Popular now", a catalog edit) is a new key.

Rendering, not choosing, was most of a warm page's time (measured in
docs/tuning.md, "Page and click throughput"). A key holds only values (ids,
labels, versions), so a hit needs no Movie objects at all.
"""

import json
from typing import NamedTuple

from movie.catalog import catalog_fragment, clear_fragments


class ModelPage(NamedTuple):
    """What a model page's content (_model_page_content.html) is made of."""

    model_name: str
    for_you: bool
    versions: dict  # home_rows.active_versions()
    result: object  # the serving.Recommendation, None for an experiment's list
    row: object  # home_rows.Row of the picks
    popular: object
    history: object
    ratings: dict  # movie pk -> the visitor's rating
    training: object  # the training notice, if one shows


def model_page_key(page):
    """Everything a model page's content shows, as values; None (never kept)
    while it shows a training notice, which follows the run."""
    if page.training is not None:
        return None
    result, row = page.result, page.row
    shown = [*row.movie_ids, *page.history.movie_ids]
    return (
        "model page",
        page.model_name,
        page.for_you,
        page.versions.get(page.model_name),
        result.version_label if result else None,
        result.fallback if result else None,
        tuple(row.movie_ids),
        tuple((pk, tuple(named)) for pk, named in sorted(row.because.items())),
        tuple(sorted({pk for named in row.because.values() for pk in named} & row.stated)),  # "liked" or "looked at"
        json.dumps(row.details, sort_keys=True, default=str),
        tuple(page.popular.movie_ids),
        tuple((pk, page.history.kinds.get(pk)) for pk in page.history.movie_ids),
        tuple((pk, page.ratings[pk]) for pk in shown if pk in page.ratings),
    )


def api_key(model_name, versions, history, exclude, k, result):
    """What a recommendations API answer shows; None (never kept) when
    popularity stands in, as that follows the clicks of the site."""
    if result.is_fallback:
        return None
    return ("api", model_name, versions.get(model_name), tuple(history), tuple(sorted(exclude)), k)


def onboarding_key(model_name, versions, source):
    """The onboarding panel of a visitor without likes: the same for all of them.
    The groups' source too: genres stand in while the active version fails to
    load, and must not outlive that."""
    return ("onboarding", model_name, versions.get(model_name), source)


def cached(key, render):
    """render() kept under ``key``; ``key`` None renders every time."""
    return render() if key is None else catalog_fragment(("predictors", *key), render)


def reset():
    """Forget every fragment (tests, whose databases reuse primary keys)."""
    clear_fragments()
