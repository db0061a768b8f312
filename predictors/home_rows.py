"""The rows of a visitor's personal home page, best first:

- "Top picks for you": the primary model's list (or, when an experiment has
  registered a provider for ``surfaces.TOP_PICKS``, the provider's), each
  pick with the liked history movies that explain it (predictors.explain);
- "Because you liked <movie>", for the ``BECAUSE_ROWS`` most recently liked
  movies: the model's item-to-item answer for a history of that movie alone;
- "Popular now" (predictors.popularity);
- "Your recent activity": the movies the visitor opened, clicked, liked or rated.

A movie appears in at most one row: each row leaves out what the rows above
it show, and no recommending row shows a movie of the history (a movie
marked "not interested" is in it, so it is gone from every row at once).
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings

from events.history import latest_ratings, visitor_history
from events.visitors import visitor_key
from movie.catalog import movies_by_ids
from predictors import explain, serving, surfaces
from predictors.metrics_log import record_impression
from predictors.models import ModelVersion
from predictors.names import SERVED_MODELS
from predictors.popularity import popular_movie_ids

log = logging.getLogger(__name__)

ROW_LENGTH = 10
BECAUSE_ROWS = 2
# Candidates asked of the model for a "Because you liked" row: a fixed number,
# so that the answer is cached once per (model version, movie) for everybody.
BECAUSE_CANDIDATES = 60
MIN_ROW_LENGTH = 3  # a "Because you liked" row with fewer left after dedup is dropped
RECENT_SHOWN = 10
ACTIVITY_TYPES = ("click", "view", "rating", "like")
HIDDEN_TYPES = ("not_interested",)
VERDICT_TYPES = ("rating", "like", *HIDDEN_TYPES)  # what the visitor said outright; the newest counts

TOP_PICKS, BECAUSE_LIKED, POPULAR, RECENT = "top-picks", "because-liked", "popular", "recent"


@dataclass
class Row:
    kind: str  # TOP_PICKS, BECAUSE_LIKED, POPULAR or RECENT
    title: str
    movie_ids: list[int]
    because: dict[int, list[int]] = field(default_factory=dict)  # movie pk -> history movie pks
    anchor: int | None = None  # the liked movie of a "Because you liked" row
    details: dict | None = None  # an experiment's impression details (top picks through a provider)
    model_label: str | None = None
    served: serving.Recommendation | None = None  # the model's answer behind the row, for the dashboard
    movies: list = field(default_factory=list)  # Movie objects, set by attach_movies
    anchor_movie: object = None

    @property
    def dismissable(self):
        """Its cards carry "Not interested": every row that recommends."""
        return self.kind != RECENT


def primary_model_name():
    """The model behind "Top picks for you": PRIMARY_MODEL when set, else the
    active version with the best evaluation NDCG@10, else the first served model."""
    if settings.PRIMARY_MODEL in SERVED_MODELS:
        return settings.PRIMARY_MODEL
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE, model_name__in=list(SERVED_MODELS))
    best = max(active, key=lambda version: version.ndcg_at_10 or 0.0, default=None)
    return best.model_name if best else next(iter(SERVED_MODELS))


def hidden_movies(events):
    """Movie pks whose latest verdict (rating, like or "not interested") is
    "not interested", from events newest first."""
    latest = {}
    for event in events:
        if event.event_type in VERDICT_TYPES:
            latest.setdefault(event.movie_id, event.event_type)
    return {pk for pk, kind in latest.items() if kind in HIDDEN_TYPES}


def recent_activity(events, hidden, limit=RECENT_SHOWN):
    """Movie pks of the visitor's latest activity, newest first, one per movie."""
    recent = dict.fromkeys(
        event.movie_id for event in events if event.event_type in ACTIVITY_TYPES and event.movie_id not in hidden
    )
    return list(recent)[:limit]


def liked_newest_first(history):
    return [pk for pk, weight in reversed(history) if weight > 0]


def top_picks(request, visitor, history, model_name, exclude, k=ROW_LENGTH):
    """The "Top picks for you" row: the experiment's list when a provider for
    the surface answers, else the model's; None when the model cannot answer
    (popularity would stand in, and "Popular now" already shows it)."""
    provider = surfaces.provider_for(surfaces.TOP_PICKS)
    answer = None
    if provider is not None:
        try:
            answer = provider(request, visitor, history, k, exclude)
        except Exception:
            log.exception("The top picks provider failed; the primary model answers instead")
    if answer is not None:
        movie_ids = [pk for pk in answer.movie_ids if pk not in exclude][:k]
        return Row(TOP_PICKS, "Top picks for you", movie_ids, dict(answer.because or {}), details=answer.details)
    row, result = model_row(model_name, history, exclude, k)
    return None if result.is_fallback else row


def model_row(model_name, history, exclude, k=ROW_LENGTH):
    """(Row of the model's own top k, explained, without ``exclude``; the
    serving.Recommendation, whose ``fallback`` says when popularity stood in)."""
    result = serving.recommend(model_name, history, k=k + len(exclude))
    movie_ids = [pk for pk in result.movie_ids if pk not in exclude][:k]
    because = {} if result.is_fallback else explain.because(model_name, history, movie_ids)
    label = SERVED_MODELS[model_name]
    return Row(TOP_PICKS, "Top picks for you", movie_ids, because, model_label=label, served=result), result


def because_liked(model_name, anchor, exclude, k=ROW_LENGTH):
    """A "Because you liked <anchor>" row, or None when the model has no
    answer or too little is left once ``exclude`` is taken out."""
    result = serving.recommend(model_name, [anchor], k=BECAUSE_CANDIDATES)
    if result.is_fallback:
        return None
    movie_ids = [pk for pk in result.movie_ids if pk not in exclude][:k]
    if len(movie_ids) < MIN_ROW_LENGTH:
        return None
    return Row(
        BECAUSE_LIKED,
        "Because you liked",
        movie_ids,
        {pk: [anchor] for pk in movie_ids},
        anchor=anchor,
        model_label=SERVED_MODELS[model_name],
    )


def personal_rows(request, visitor, events, model_name, k=ROW_LENGTH):
    """The rows above for a visitor's events (newest first), movie pks only;
    empty for a visitor without history (the page shows its onboarding)."""
    history = serving.history_from_events(events)
    if not history:
        return []
    hidden = hidden_movies(events)
    shown = {pk for pk, _ in history} | hidden  # no recommending row shows these
    rows = []

    def add(row):
        if row is not None and row.movie_ids:
            rows.append(row)
            shown.update(row.movie_ids)

    add(top_picks(request, visitor, history, model_name, frozenset(shown), k))
    for anchor in liked_newest_first(history)[:BECAUSE_ROWS]:
        add(because_liked(model_name, anchor, shown, k))
    add(Row(POPULAR, "Popular now", popular_movie_ids(k, exclude=shown)))
    add(Row(RECENT, "Your recent activity", recent_activity(events, hidden)))
    return rows


def home_rows_for(request):
    """The personal rows of the requesting visitor, movies attached."""
    key = visitor_key(request, create=False)
    events = visitor_history(key)
    rows = personal_rows(request, key, events, primary_model_name())
    for row in rows:
        if row.served is not None:
            record_impression(row.served, key)
    return attach_movies(rows, latest_ratings(events))


def attach_movies(rows, ratings=None):
    """Every row's Movie objects from one catalog query; each card's ``because``
    movies as ``movie.because_movies``, and ``movie.visitor_rating`` from ``ratings``."""
    wanted = {pk for row in rows for pk in row.movie_ids}
    wanted |= {row.anchor for row in rows if row.anchor is not None}
    wanted |= {pk for row in rows for named in row.because.values() for pk in named}
    by_id = {movie.pk: movie for movie in movies_by_ids(sorted(wanted))}
    ratings = ratings or {}
    for row in rows:
        row.anchor_movie = by_id.get(row.anchor)
        row.movies = [
            Card(by_id[pk], [by_id[h] for h in row.because.get(pk, ()) if h in by_id], ratings.get(pk))
            for pk in row.movie_ids
            if pk in by_id
        ]
        if row.anchor_movie is not None:
            row.title = f"Because you liked {row.anchor_movie.title}"
    return rows


class Card:
    """A movie as one row shows it: the Movie's fields plus the row's evidence
    (a wrapper, since one Movie may be a card in one row and the evidence of another)."""

    def __init__(self, movie, because_movies, visitor_rating):
        self.movie, self.because_movies, self.visitor_rating = movie, because_movies, visitor_rating

    def __getattr__(self, name):
        return getattr(self.movie, name)
