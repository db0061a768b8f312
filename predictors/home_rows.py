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

import dataclasses
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.template.defaultfilters import floatformat
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from events.history import latest_ratings
from events.visitors import visitor_key
from movie.catalog import catalog_version, movies_by_ids
from predictors import explain, fragments, serving, surfaces
from predictors.models import ModelVersion
from predictors.names import SERVED_MODELS
from predictors.popularity import popular_movie_ids
from predictors.serving import active_versions
from sitewide.bounded_cache import BoundedCache

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
# A positive the visitor stated ("liked"); a click or a view is one the model
# infers, and the page says "looked at" for it rather than claim a like.
STATED_TYPES = ("like", "rating")
# What a history entry says the visitor did (Verdicts.entries names the event).
HISTORY_WORDS = {
    "click": "clicked",
    "view": "viewed",
    "rating": "rated",
    "like": "liked",
    "not_interested": "not interested",
}

TOP_PICKS, BECAUSE_LIKED, POPULAR, RECENT = "top-picks", "because-liked", "popular", "recent"
CHANGING = (POPULAR, RECENT)  # rows computed on every view, never cached


@dataclass
class Row:
    kind: str  # TOP_PICKS, BECAUSE_LIKED, POPULAR or RECENT
    title: str
    movie_ids: list[int]
    because: dict[int, list[int]] = field(default_factory=dict)  # movie pk -> history movie pks
    anchor: int | None = None  # the liked movie of a "Because you liked" row
    details: dict | None = None  # an experiment's impression details (top picks through a provider)
    kinds: dict[int, str] = field(default_factory=dict)  # movie pk -> the event a history entry is named by
    model_label: str | None = None
    served: serving.Recommendation | None = None  # the model's answer behind the row, for the dashboard
    movies: list = field(default_factory=list)  # Movie objects, set by attach_movies
    anchor_movie: object = None
    cache_key: tuple | None = None  # set on a row from the rows cache: its HTML may be cached on it too
    stated: frozenset = frozenset()  # the history movies the visitor liked outright (Verdicts.stated)

    @property
    def anchor_verb(self):
        return "liked" if self.anchor in self.stated else "looked at"

    @property
    def dismissable(self):
        """Its cards carry "Not interested": every row that recommends."""
        return self.kind != RECENT


_best_by_versions = {}  # active versions -> the best of them by NDCG@10, decided once per activation


def primary_model_name(versions=None):
    """The model behind "Top picks for you": PRIMARY_MODEL when set, else the
    active version with the best evaluation NDCG@10, else the first served model."""
    if settings.PRIMARY_MODEL in SERVED_MODELS:
        return settings.PRIMARY_MODEL
    versions = active_versions() if versions is None else versions
    key = tuple(sorted(versions.items()))
    # One read: another thread's clear() may come between a check and a second read.
    name = _best_by_versions.get(key)
    if name is None:
        active = ModelVersion.objects.filter(pk__in=[pk for pk, _ in versions.values()])
        best = max(active, key=lambda version: version.ndcg_at_10 or 0.0, default=None)
        name = best.model_name if best else next(iter(SERVED_MODELS))
        _best_by_versions.clear()  # only the current activation matters
        _best_by_versions[key] = name
    return name


class Verdicts:
    """A visitor's events (newest first) read once by the one rule every list
    follows (serving.verdicts_from_events), for every list of a page."""

    def __init__(self, events):
        self.by_movie = serving.verdicts_from_events(events)  # movie pk -> (weight, deciding event type), newest first
        self._clicked = {event.movie_id for event in events if event.event_type == "click"}
        self.history = serving.history_of(self.by_movie)  # [(movie pk, weight)] oldest first
        self.hidden = {pk for pk, (_, kind) in self.by_movie.items() if kind in HIDDEN_TYPES}
        # A stated like: a like or a rating above the dislike threshold decides the movie.
        self.stated = frozenset(
            pk for pk, (weight, kind) in self.by_movie.items() if weight > 0 and kind in STATED_TYPES
        )

    def recent(self, limit=RECENT_SHOWN):
        """Movie pks the visitor opened, clicked, liked or rated, newest first,
        without the hidden ones; a rating taken back by ``rating_cleared`` is no activity."""
        return [pk for pk, (_, kind) in self.by_movie.items() if kind in ACTIVITY_TYPES and pk not in self.hidden][
            :limit
        ]

    def entries(self, limit=RECENT_SHOWN):
        """{movie pk: the event type it is named by}, newest first: every movie
        fold-in uses, "not interested" ones too (the model's dislikes). Of a
        click and a view, the click: every click is followed by a view, but
        choosing a movie from a list says more than landing on its page."""
        return {
            pk: "click" if kind == "view" and pk in self._clicked else kind
            for pk, (_, kind) in list(self.by_movie.items())[:limit]
        }


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


def model_row(model_name, history, exclude, k=ROW_LENGTH, versions=None):
    """(Row of the model's own top k, explained, without ``exclude``; the
    serving.Recommendation, whose ``fallback`` says when popularity stood in).

    A model's answer with its explanation is kept per (active version,
    history, exclude, k) with the predictor (``Predictor.derived``): the same
    visitor's next page asks neither the model nor the explainer again."""
    identity = (active_versions() if versions is None else versions).get(model_name)
    derived = serving.get_predictor(model_name).derived
    key = ("row", identity, tuple(history), tuple(sorted(exclude)), k)
    cached = derived.get_many([key]).get(key) if identity is not None else None
    if cached is not None:
        # The model's own time stays: the dashboard's latency is the model's, and it leaves cached lists out.
        return _own_row(cached, dataclasses.replace(cached.served, cached=True))
    # The version read above serves the whole row: no second or third registry query.
    result = serving.recommend(model_name, history, k=k + len(exclude), active=identity)
    scores = dict(zip(result.movie_ids, result.scores, strict=False))
    movie_ids = [pk for pk in result.movie_ids if pk not in exclude][:k]
    # The impression is what the row shows, not the extra asked for to fill it (the dashboard's CTR counts these).
    result = dataclasses.replace(result, movie_ids=movie_ids, scores=[scores[pk] for pk in movie_ids if pk in scores])
    because = {} if result.is_fallback else explain.because(model_name, history, movie_ids, active=identity)
    label = SERVED_MODELS[model_name]
    row = Row(TOP_PICKS, "Top picks for you", movie_ids, because, model_label=label, served=result)
    # Popularity standing in changes with the clicks of the site: never kept.
    if identity is not None and not result.is_fallback:
        derived.put_many({key: _own_row(row, result)[0]})  # the kept copy; this one is the caller's own
    return row, result


def _own_row(row, result):
    """(A copy of ``row`` for one caller to rename and attach movies to, its
    Recommendation): the cached row itself is never handed out, so what one
    page does to its row (/compare/ retitles it) never reaches another page,
    and the cache holds ids only, never Movie objects."""
    result = dataclasses.replace(result)
    copy = dataclasses.replace(row, because=dict(row.because), movies=[], anchor_movie=None, served=result)
    return copy, result


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


def personal_rows(request, visitor, verdicts, model_name, k=ROW_LENGTH):
    """The rows above for a visitor's Verdicts, movie pks only; empty for a
    visitor without history (the page shows its onboarding)."""
    history = verdicts.history
    if not history:
        return []
    shown = {pk for pk, _ in history} | verdicts.hidden  # no recommending row shows these
    rows = []

    def add(row):
        if row is not None and row.movie_ids:
            rows.append(row)
            shown.update(row.movie_ids)

    add(top_picks(request, visitor, history, model_name, frozenset(shown), k))
    for anchor in liked_newest_first(history)[:BECAUSE_ROWS]:
        add(because_liked(model_name, anchor, shown, k))
    add(Row(POPULAR, "Popular now", popular_movie_ids(k, exclude=shown)))
    add(Row(RECENT, "Your recent activity", verdicts.recent()))
    for row in rows:
        row.stated = verdicts.stated
    return rows


ROWS_CACHE_SIZE = 4096
# (catalog version, versions, model, history, hidden, stated, k) -> the personal rows' ids and evidence
_rows_cache = BoundedCache(ROWS_CACHE_SIZE)


def cached_personal_rows(request, visitor, verdicts, k=ROW_LENGTH):
    """``personal_rows`` for the primary model, its recommending rows cached in
    this process on (catalog version, active versions, history, hidden movies): the same
    history shows the same rows without asking the models again, and any new
    event or activation is a new key (read-your-writes). "Popular now" and the
    recent activity are computed on every view (both cheap and changing), and
    while an experiment runs on the row its provider is asked every time."""
    history, hidden = verdicts.history, verdicts.hidden
    if not history:
        return []  # the onboarding panel's page, as personal_rows has it
    versions = active_versions()
    model_name = primary_model_name(versions)
    if surfaces.taken_over(surfaces.TOP_PICKS):
        return personal_rows(request, visitor, verdicts, model_name, k)
    # The catalog version too: a re-import or edit changes titles, posters and which movies exist.
    # The stated likes too: a like of a movie only viewed so far changes no weight, only the words.
    key = (
        catalog_version(),
        tuple(sorted(versions.items())),
        model_name,
        tuple(history),
        tuple(sorted(hidden)),
        tuple(sorted(verdicts.stated)),
        k,
    )
    cached = _rows_cache.get_or_put(
        key,
        lambda: [row for row in personal_rows(request, visitor, verdicts, model_name, k) if row.kind not in CHANGING],
    )
    # Copies: attach_movies sets each view's movies on them.
    rows = [dataclasses.replace(row, cache_key=(key, index)) for index, row in enumerate(cached)]
    shown = {pk for pk, _ in history} | hidden | {pk for row in rows for pk in row.movie_ids}
    rows.append(Row(POPULAR, "Popular now", popular_movie_ids(k, exclude=shown)))
    rows.append(Row(RECENT, "Your recent activity", verdicts.recent()))
    return [row for row in rows if row.movie_ids]


# Row HTML is bounded by size as well as count: a row of ten cards is ~15 KB,
# so the count alone would allow ~180 MB per worker; 32 M characters at most
# (about 32 MB, ~2000 rows).
ROW_HTML_CHARACTERS = 32 * 1024 * 1024
# Row.cache_key -> the row's rendered HTML
_html_cache = BoundedCache(ROWS_CACHE_SIZE * (BECAUSE_ROWS + 1), max_weight=ROW_HTML_CHARACTERS)


def is_rendered(row):
    """Whether the row's HTML is cached (its movies are then not needed)."""
    return row.cache_key is not None and bool(_html_cache.get_many([row.cache_key]))


def rendered_row(row, render):
    """render(row) -> HTML, kept for a row from the rows cache: a cached row
    shows the same movies with the same evidence, so the same HTML (cards are
    most of a warm page's time)."""
    if row.cache_key is None:
        return render(row)

    def render_row():
        if row.movie_ids and not row.movies:  # evicted since is_rendered said it was there
            attach_movies([row])
        return render(row)

    return _html_cache.get_or_put(row.cache_key, render_row)


def reset_cache():
    """Forget cached rows (tests, whose databases reuse primary keys)."""
    _rows_cache.clear()
    _html_cache.clear()
    _best_by_versions.clear()
    fragments.reset()


def home_rows_for(request, events):
    """The personal rows of the requesting visitor from their ``events``
    (visitor_history, as the page read it), movies attached. (No
    RecommendationImpression per view: an insert and commit would be most of a
    warm page's time; the page's rows carry what its script reports.)"""
    rows = cached_personal_rows(request, visitor_key(request, create=False), Verdicts(events))
    attach_movies([row for row in rows if not is_rendered(row)], latest_ratings(events))
    return rows


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
            Card(
                by_id[pk],
                [by_id[h] for h in row.because.get(pk, ()) if h in by_id],
                ratings.get(pk),
                row.kinds.get(pk),
                row.stated,
            )
            for pk in row.movie_ids
            if pk in by_id
        ]
        if row.anchor_movie is not None:
            row.title = f"Because you {row.anchor_verb} {row.anchor_movie.title}"
    return rows


def _links(movies):
    """ "<a>Jaws</a> and <a>Alien</a>"."""
    return format_html_join(
        " and ", '<a href="{}">{}</a>', ((movie.get_absolute_url(), movie.title) for movie in movies)
    )


class Card:
    """A movie as one row shows it: the Movie's fields plus the row's evidence
    (a wrapper, since one Movie may be a card in one row and the evidence of another)."""

    def __init__(self, movie, because_movies, visitor_rating, history_kind=None, stated=frozenset()):
        self.movie, self.because_movies, self.visitor_rating = movie, because_movies, visitor_rating
        self.history_kind = history_kind  # in a history list: the event it is named by (history_entries)
        self.stated = stated  # the row's stated likes: which of because_movies the visitor said they liked

    @property
    def history_words(self):
        return HISTORY_WORDS.get(self.history_kind, "")

    @cached_property
    def because_sentence(self):
        """ "Because you liked <a>Jaws</a> and looked at <a>Alien</a>": a movie
        only clicked or viewed is not called liked. Built here, as a template
        loop over the named movies would cost a card about as much as the rest of it."""
        liked = [named for named in self.because_movies if named.pk in self.stated]
        seen = [named for named in self.because_movies if named.pk not in self.stated]
        parts = ((verb, _links(movies)) for verb, movies in (("liked", liked), ("looked at", seen)) if movies)
        return format_html("Because you {}", format_html_join(" and ", "{} {}", parts))

    @property
    def because_ids(self):
        return " ".join(str(named.pk) for named in self.because_movies)

    def addon_html(self, row_kind, dismissable):
        """What a recommended card adds to the movie's cached card: why it was
        picked (except in a "Because you liked" row, whose title says it), the
        visitor's rating, and "Not interested". Built here rather than by a
        template per card, which cost more than the rest of the card."""
        parts = []
        if self.because_movies and row_kind != BECAUSE_LIKED:
            parts.append(
                format_html('<div class="because" data-because="{}">{}</div>', self.because_ids, self.because_sentence)
            )
        if self.visitor_rating is not None:
            parts.append(
                format_html(
                    '<div class="meta"><span class="stars" title="Your rating">★ {}</span> your rating</div>',
                    floatformat(self.visitor_rating, "-1"),
                )
            )
        if dismissable:
            parts.append(
                format_html(
                    '<button type="button" class="not-interested" data-not-interested data-movie-id="{}" '
                    'aria-label="Not interested in {}">Not interested</button>',
                    self.movie.pk,
                    self.movie.title,
                )
            )
        return mark_safe("\n".join(parts))

    def __getattr__(self, name):
        return getattr(self.movie, name)
