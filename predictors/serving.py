"""In-process predictors: one per model name, shared by the requests of a
process, serving the version the registry marks active.

Each process asks the registry which versions are active (one indexed query)
at most every STATE_RECHECK_SECONDS; only when that changed is the artifact
loaded again, checksum verified, so an admin's activation reaches every
process within that long, without a restart. Results are
cached on (version, history): a reload repeats no fold-in.

A visitor's history is a list of (Movie pk, weight) pairs, oldest first
(``history_from_events``): a click, a view, a ``like`` (the onboarding
panel's picks) or a rating above FOLD_IN_DISLIKE_AT is a like (+1); a rating
at or below it, or a "not interested", is a dislike (-1), which fold-in takes
as a negative, like a low rating. Every movie of the history, liked or not,
is kept out of the list (so "not interested" leaves a movie out of every
recommendation at once). A ``rating_cleared`` takes back the movie's earlier ratings, an
``unhidden`` (the Undo of "not interested") its earlier "not interested"s;
impressions are what the site showed, not what the visitor did, and are no
history.

Anything that goes wrong here ends in the popularity list with a reason the
page can show; the error itself is logged, never raised into the page.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, router
from django.db.models.signals import post_delete, post_save

from predictors.lazy_modules import LazyModule
from predictors.models import ModelVersion
from predictors.names import SERVED_MODELS
from predictors.popularity import popular_movie_ids
from sitewide.bounded_cache import BoundedCache
from sitewide.driver_reads import fetch_all
from sitewide.recheck import Recheck

# torch and DGL load with the first recommendation, not with the URL conf (predictors/lazy_modules.py).
foldin = LazyModule("predictors.foldin")
registry = LazyModule("predictors.registry")

log = logging.getLogger(__name__)

CACHE_SIZE = 2048
DISLIKE_EVENTS = {"not_interested"}
# What the visitor said about a movie outright; the newest of them decides over any click or view.
EXPLICIT_EVENTS = {"rating", "like", "not_interested"}
# Events that take back the movie's earlier events of one type; they are no history themselves.
TAKES_BACK = {"rating_cleared": "rating", "unhidden": "not_interested", "like_cleared": "like"}
NOT_HISTORY_EVENTS = {"impression", *TAKES_BACK}


def dislike_threshold():
    """Stars at or below which a rating is a dislike (settings.FOLD_IN_DISLIKE_AT)."""
    return float(getattr(settings, "FOLD_IN_DISLIKE_AT", 2.0))


def event_weight(event, threshold):
    """foldin.LIKE or foldin.DISLIKE for one event that is history."""
    if event.event_type == "rating":
        return foldin.DISLIKE if event.rating <= threshold else foldin.LIKE
    return foldin.DISLIKE if event.event_type in DISLIKE_EVENTS else foldin.LIKE


def verdicts_from_events(events):
    """Events newest first -> {movie pk: (weight, the event type that decided
    it)}, one per movie of the history, the movie with the newest history event
    first. Its latest rating, like or "not interested" decides when it has one
    (a later click does not undo a low rating), else its latest click or view.
    A rating older than the movie's latest ``rating_cleared``, a "not
    interested" older than its latest ``unhidden`` or a like older than its
    latest ``like_cleared`` is no longer there (TAKES_BACK).
    The one rule every list (fold-in, hidden movies, recent activity) follows."""
    threshold, verdicts, taken_back = dislike_threshold(), {}, set()
    for event in events:  # newest first: the first verdict seen per movie is the latest
        movie_id, kind = event.movie_id, event.event_type
        decided = verdicts.get(movie_id, (None, None))[1] in EXPLICIT_EVENTS
        if kind in TAKES_BACK and not decided:
            taken_back.add((movie_id, TAKES_BACK[kind]))
        if kind in NOT_HISTORY_EVENTS or decided or (movie_id, kind) in taken_back:
            continue
        if kind in EXPLICIT_EVENTS or movie_id not in verdicts:
            verdicts[movie_id] = (event_weight(event, threshold), kind)
    return verdicts


def history_from_events(events):
    """Events newest first (as visitor_history returns them) -> [(movie pk,
    weight)] oldest first, one per movie (``verdicts_from_events``)."""
    return history_of(verdicts_from_events(events))


def history_of(verdicts):
    """``verdicts_from_events``' answer -> [(movie pk, weight)] oldest first."""
    return [(movie_id, weight) for movie_id, (weight, _) in reversed(verdicts.items())]


def as_weighted(history):
    """Movie pks (each a like) or (pk, weight) pairs -> (pk, weight) pairs, one per movie, its latest."""
    latest = {}
    for entry in history:
        movie_id, weight = (entry, foldin.LIKE) if isinstance(entry, int) else entry
        latest.pop(movie_id, None)
        latest[movie_id] = float(weight)
    return list(latest.items())


class Fallback:
    NO_HISTORY = "no-history"
    NOT_TRAINED = "not-trained"
    FAILED = "failed"


@dataclass
class Recommendation:
    model_name: str
    movie_ids: list[int]
    version_label: str | None = None  # "ngcf:3" when the model produced the list
    fallback: str | None = None  # a Fallback value when popularity stood in
    seconds: float = 0.0  # the model's time to answer
    scores: list[float] = field(default_factory=list)
    cached: bool = False  # reused from a cache: ``seconds`` is the first answer's, not this one's

    @property
    def is_fallback(self):
        return self.fallback is not None


def active_versions(names=None):
    """{model name: (version pk, artifact sha256)} of the active versions of
    ``names`` (the served models by default): what a loaded predictor or a
    cached row is valid for. Every model's are read together, again at most
    every STATE_RECHECK_SECONDS per process (sitewide.recheck), so all the
    callers of a process agree on them; at once after this process saved a version."""
    names = SERVED_MODELS if names is None else names
    every = _active_versions.get(router.db_for_read(ModelVersion))
    return {name: every[name] for name in names if name in every}


def _read_active_versions(alias):
    # Plain SQL, asked on every recommendation: the ORM's query building cost more than the query.
    connection = connections[alias]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('id')}, {quote('model_name')}, {quote('artifact_sha256')} "
        f"FROM {quote(ModelVersion._meta.db_table)} WHERE {quote('status')} = %s "
        # Newest last, so that it wins should an activation briefly leave two active.
        f"ORDER BY {quote('version')}"
    )
    rows = fetch_all(connection, sql, [ModelVersion.Status.ACTIVE.value])
    return {name: (pk, sha) for pk, name, sha in rows}


_active_versions = Recheck(_read_active_versions)
post_save.connect(_active_versions.changed, sender=ModelVersion, dispatch_uid="predictors.serving.version_saved")
post_delete.connect(_active_versions.changed, sender=ModelVersion, dispatch_uid="predictors.serving.version_deleted")


# "Read the active version from the registry" (None already means "none is active").
LOOK_UP = object()


class Predictor:
    """The active version of one model in this process."""

    def __init__(self, model_name):
        self.model_name = model_name
        self._loaded = None
        self._load_lock = threading.Lock()
        self._cache = BoundedCache(CACHE_SIZE)  # (version, known history, k) -> answer
        # What callers build from this predictor's answers (explained rows, API bodies),
        # keyed by them with the version's identity: forgotten with the predictor.
        self.derived = BoundedCache(CACHE_SIZE)

    def _active_version(self):
        """(pk, artifact sha256) of the active version: identifies it even
        across databases that reuse primary keys (tests)."""
        return active_versions([self.model_name]).get(self.model_name)

    @staticmethod
    def _identity(loaded):
        return None if loaded is None else (loaded.version.pk, loaded.version.artifact_sha256)

    def current(self, active=LOOK_UP):
        """The loaded active version, loading it if the registry changed; None
        when no version is active. Raises ArtifactError on a bad artifact.
        ``active``: the (pk, sha256) the request already read with
        ``active_versions``, so one page asks the registry once, not per step."""
        if active is LOOK_UP:
            active = self._active_version()
        if active is None:
            return None
        loaded = self._loaded
        if self._identity(loaded) == active:
            return loaded
        with self._load_lock:  # one thread loads; the others wait for it
            if self._identity(self._loaded) != active:
                started = time.monotonic()
                loaded = registry.load_version(ModelVersion.objects.get(pk=active[0]), serving=True)
                loaded.index = loaded.item_index()
                # Item halves of the scores computed once (NGCF's come propagated in the artifact).
                loaded.model.freeze_for_serving()
                foldin.space_for(loaded.model)  # fold-in's per-model part, before the first visitor
                self._loaded = loaded
                log.info("loaded %s in %.2f s", loaded.version.label, time.monotonic() - started)
            return self._loaded

    def recommend(self, loaded, history, k=10):
        """Top-k unseen movies from ``loaded`` (what ``current()`` returned) for
        a visitor whose history is ``history`` ((Movie pk, weight) pairs, oldest first)."""
        known = tuple((loaded.index[pk], weight) for pk, weight in history if pk in loaded.index)
        if not known:
            return None
        key = (self._identity(loaded), known, k)
        return self._cache.get_or_put(key, lambda: self._fold_in_top_k(loaded, known, history, k))

    @staticmethod
    def _fold_in_top_k(loaded, known, history, k):
        user_repr = foldin.fold_in(
            loaded.model, known, foldin.settings_for(loaded.model, getattr(settings, "FOLD_IN", {}))
        )
        indices, scores = foldin.top_k_unseen(loaded.model, user_repr, [index for index, _ in known], k + len(history))
        seen = {pk for pk, _ in history}
        picks = [
            (int(loaded.item_ids[i]), s)
            for i, s in zip(indices, scores, strict=False)
            if int(loaded.item_ids[i]) not in seen
        ][:k]
        return (loaded.version.label, [pk for pk, _ in picks], [s for _, s in picks])


_predictors = {}
_predictors_lock = threading.Lock()


def get_predictor(model_name):
    if model_name not in SERVED_MODELS:
        raise KeyError(model_name)
    with _predictors_lock:
        if model_name not in _predictors:
            _predictors[model_name] = Predictor(model_name)
        return _predictors[model_name]


def reset_predictors():
    """Forget every loaded model (tests; a worker that must drop memory)."""
    with _predictors_lock:
        _predictors.clear()


def recommend(model_name, history, k=10, active=LOOK_UP):
    """The page's list: the model's top-k, or popularity with the reason.
    ``history``: Movie pks (each a like) or (pk, weight) pairs, oldest first
    (``history_from_events``); ``active`` as for ``Predictor.current``."""
    started = time.monotonic()
    history = as_weighted(history)
    history_movie_ids = [pk for pk, _ in history]
    label, answer, fallback = None, None, None
    try:
        predictor = get_predictor(model_name)
        loaded = predictor.current(active)
        if loaded is None:
            fallback = Fallback.NOT_TRAINED
        else:
            label = loaded.version.label
            answer = predictor.recommend(loaded, history, k) if history else None
            if answer is None:  # no history, or none of it is known to the model
                fallback = Fallback.NO_HISTORY
    except Exception:
        log.exception("%s could not recommend; showing the popular list instead", model_name)
        fallback = Fallback.FAILED
    if answer is not None:
        label, movie_ids, scores = answer
        return Recommendation(model_name, movie_ids, label, None, time.monotonic() - started, scores)
    movie_ids = popular_movie_ids(k, exclude=history_movie_ids)
    return Recommendation(model_name, movie_ids, label, fallback, time.monotonic() - started)
