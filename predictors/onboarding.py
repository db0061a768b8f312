"""Onboarding: "Pick a few movies you like", from groups of well-known movies.

A new visitor has no history, so no model can say anything about them. As
MovieLens does (Chang, Harper and Terveen, CSCW 2015), the site shows groups
of well-known movies and lets the visitor pick: one click per movie, or "more
like this group" for the group's first few. Every pick is stored as a ``like``
event (not a rating: the visitor said "I like it", not how many stars), which
``serving.history_from_events`` reads as a positive, like any click; after
three picks the page puts the visitor's personal rows (/for-you/rows) under the panel.

The groups come from the primary model's own item representations, so that
a group is what that model considers alike:

- GMF, NeuMF, NGCF: each item's serving-side vector (``cached_item_side``: the
  embedding, or NGCF's propagated layers);
- EASE: a rank-``EASE_RANK`` factor of B's rows (U S of a truncated SVD of
  B restricted to the well-known movies' rows): two movies are alike when
  they predict the same movies.

The ``CANDIDATES`` most rated movies the model knows are clustered by
k-means on the length-normalised vectors (cosine k-means); each group is
labelled from the movies it shows: their dominant genres (the genres most
over-represented among them against all candidates) and two titles, the most
rated of them in those genres. Without a trained
model the candidates are grouped by genre instead.

The grouping functions are plain (arrays in, ``Group`` out) for the tests;
``site_groups`` reads the catalog and the model and caches the result per
model version.
"""

import logging
import threading
from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2

from predictors.lazy_modules import LazyModule

# torch loads with the first model's groups, not at django.setup() (predictors/lazy_modules.py).
torch = LazyModule("torch")

log = logging.getLogger(__name__)

CANDIDATES = 150  # the well-known movies: most rated first
GROUPS = 8
MOVIES_PER_GROUP = 6  # shown per group, most rated first
MIN_GROUP_SIZE = 3  # smaller clusters are dropped: too few movies to pick from
GROUP_PICKS = 3  # what "more like this group" likes: the group's first movies
PICKS_FOR_LIST = 3  # likes after which the panel shows the visitor's picks
EASE_RANK = 32
LABEL_GENRES = 2
FROM_GENRES = "genres"  # Groups.source when no model is trained


@dataclass(frozen=True)
class Group:
    genres: tuple[str, ...]  # dominant genres, most dominant first
    examples: tuple[str, ...]  # two most rated titles of the dominant genres
    movie_ids: tuple[int, ...]  # the movies shown, most rated first

    @property
    def label(self):
        """ "Sci-Fi and Action: Star Wars, Return of the Jedi"."""
        genres = " and ".join(self.genres) or "Mixed"
        return f"{genres}: {', '.join(self.examples)}" if self.examples else genres


@dataclass(frozen=True)
class Groups:
    source: str  # the model version label ("ease:3"), or FROM_GENRES
    groups: tuple[Group, ...]


def dominant_genres(member_ids, all_ids, genres_of, count=LABEL_GENRES):
    """The ``count`` genres most over-represented among ``member_ids`` against
    ``all_ids``: by share in the group minus share overall, then by count.
    ``genres_of``: {movie id: genre names}."""
    inside = Counter(genre for pk in member_ids for genre in genres_of.get(pk, ()))
    overall = Counter(genre for pk in all_ids for genre in genres_of.get(pk, ()))
    n_inside, n_all = max(len(member_ids), 1), max(len(all_ids), 1)
    lift = {genre: n / n_inside - overall[genre] / n_all for genre, n in inside.items()}
    ranked = sorted(inside, key=lambda genre: (-lift[genre], -inside[genre], genre))
    # A genre at most as common inside as outside says nothing about the group, unless nothing else does.
    telling = [genre for genre in ranked if lift[genre] > 0] or ranked
    return tuple(telling[:count])


def distinct_genres(ranked, taken, count=LABEL_GENRES):
    """The first ``count`` of ``ranked`` genres, unless another group already
    has that set ("Romance and Action" below "Action and Romance"): then the
    last is swapped for the next genre that makes a new set, if there is one."""
    chosen = ranked[:count]
    if set(chosen) in taken:
        for genre in ranked[count:]:
            if {*chosen[:-1], genre} not in taken:
                return (*chosen[:-1], genre)
    return chosen


def make_group(member_ids, all_ids, popularity, genres_of, titles, shown_by=None, taken=()):
    """A Group of ``member_ids``: the MOVIES_PER_GROUP most rated shown, most
    rated first (the highest ``shown_by`` when given: {id: score}), labelled
    from those; ``popularity``: {id: rating count}. ``taken``: the genre sets
    of the groups above it, which its label does not repeat when it can help it."""
    ordered = sorted(member_ids, key=lambda pk: (-popularity[pk], pk))
    shown = (ordered if shown_by is None else sorted(ordered, key=lambda pk: -shown_by[pk]))[:MOVIES_PER_GROUP]
    # The label describes the movies the visitor sees, not the rest of a large cluster, which they never see.
    genres = distinct_genres(dominant_genres(shown, all_ids, genres_of, count=None), taken)
    # The examples show what the genres say: the most rated shown movies of those genres first.
    typical = sorted(shown, key=lambda pk: (not set(genres) & set(genres_of.get(pk, ())), -popularity[pk], pk))
    return Group(genres=genres, examples=tuple(titles[pk] for pk in typical[:2]), movie_ids=tuple(shown))


def ordered_groups(clusters, all_ids, popularity, genres_of, titles, n_groups, shown_by=None):
    """Clusters (lists of ids) -> the ``n_groups`` Groups with the most ratings
    in total, in that order; clusters under MIN_GROUP_SIZE are left out."""
    kept = [members for members in clusters if len(members) >= MIN_GROUP_SIZE]
    kept.sort(key=lambda members: (-sum(popularity[pk] for pk in members), min(members)))
    groups = []
    for members in kept[:n_groups]:
        taken = [set(group.genres) for group in groups]
        groups.append(make_group(members, all_ids, popularity, genres_of, titles, shown_by, taken))
    return tuple(groups)


def cluster_groups(vectors, movie_ids, popularity, genres_of, titles, n_groups=GROUPS, seed=0, shown_by=None):
    """vectors (n, d), one row per id of ``movie_ids`` -> Groups, by cosine k-means."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if not np.isfinite(vectors).all():
        raise ValueError("item vectors are not all finite; they cannot be clustered")
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # (n, d)
    k = min(n_groups, len(movie_ids) // MIN_GROUP_SIZE)
    if k < 1:
        return ()
    _, assignment = kmeans2(unit, k, iter=20, minit="++", rng=np.random.default_rng(seed))  # (n,)
    clusters = [[movie_ids[i] for i in np.flatnonzero(assignment == c)] for c in range(k)]
    return ordered_groups(clusters, list(movie_ids), popularity, genres_of, titles, n_groups, shown_by)


def genre_groups(movie_ids, popularity, genres_of, titles, n_groups=GROUPS):
    """Groups by genre, for a site without a trained model: each movie joins
    its rarest genre among the candidates (its most telling one)."""
    frequency = Counter(genre for pk in movie_ids for genre in genres_of.get(pk, ()))
    clusters = {}
    for pk in movie_ids:
        genres = genres_of.get(pk) or ("(no genres listed)",)
        clusters.setdefault(min(genres, key=lambda genre: (frequency[genre], genre)), []).append(pk)
    return ordered_groups(list(clusters.values()), list(movie_ids), popularity, genres_of, titles, n_groups)


def item_vectors(model, item_indices):
    """(n, d) the model's representation of these item indices (see the module docstring)."""
    items = torch.as_tensor(item_indices, dtype=torch.int64)
    with torch.no_grad():
        if hasattr(model, "average_row"):  # EASE: rows of B, low-rank
            rows = model.weights[items].double()  # (n, n_items)
            u, s, _ = torch.linalg.svd(rows, full_matrices=False)
            rank = min(EASE_RANK, len(s))
            return (u[:, :rank] * s[:rank]).numpy()  # (n, rank)
        return model.cached_item_side(items).reshape(len(items), -1).double().numpy()  # (n, d)


# --- The site's groups --------------------------------------------------------------------------------------------

_cache = {}
_cache_lock = threading.Lock()


def catalog_candidates(known=None, counts=None, n=CANDIDATES):
    """(ids, {id: rating count}, {id: genre names}, {id: title}) of the ``n``
    most rated catalog movies (only those in ``known`` when given). ``counts``
    ({id: ratings}, or any score: highest first) stands in for the catalog's
    rating counts, the catalog's order breaking ties: the benchmark counts its
    training users' ratings only, not the held-out users' too."""
    from movie.catalog import catalog_movies

    movies = catalog_movies()
    if known is not None:
        movies = movies.filter(pk__in=list(known))
    if counts is None:
        movies = list(movies[:n])
        counts = {movie.pk: movie.rating_count for movie in movies}
    else:  # sorted is stable: ties keep the catalog's order
        top = sorted(movies.values_list("pk", flat=True), key=lambda pk: -counts.get(pk, 0))[:n]
        by_pk = movies.in_bulk(top)
        movies = [by_pk[pk] for pk in top]
    return (
        [movie.pk for movie in movies],
        {movie.pk: counts.get(movie.pk, 0) for movie in movies},
        {movie.pk: tuple(genre.name for genre in movie.genres.all()) for movie in movies},
        {movie.pk: movie.title for movie in movies},
    )


def site_groups(model_name):
    """Groups for the site's catalog from ``model_name``'s active version
    (genres when it has none or cannot be loaded); cached per version."""
    from django.conf import settings

    from movie.catalog import catalog_version
    from predictors import serving

    try:
        loaded = serving.get_predictor(model_name).current()
    except Exception:
        log.exception("Onboarding groups by genre: %s could not be loaded", model_name)
        loaded = None
    version = None if loaded is None else (loaded.version.pk, loaded.version.artifact_sha256)
    # One entry per dataset and model, remade when the version or the catalog
    # (titles, which movies exist) changes.
    key, current = (settings.MOVIELENS_DATASET, model_name), (version, catalog_version())
    with _cache_lock:
        made_for, result = _cache.get(key, (None, None))
    if made_for == current:
        return result
    if loaded is None:
        ids, popularity, genres_of, titles = catalog_candidates()
        result = Groups(FROM_GENRES, genre_groups(ids, popularity, genres_of, titles))
    else:
        result = model_groups(loaded)
    with _cache_lock:
        _cache[key] = (current, result)
    return result


def model_groups(loaded, counts=None):
    """Groups from a loaded model's item vectors; by genre when they cannot be
    clustered (NaN vectors from a diverged training run, say): the home page never fails on them.
    ``counts``: as for ``catalog_candidates``."""
    ids, popularity, genres_of, titles = catalog_candidates(loaded.index, counts)
    try:
        vectors = item_vectors(loaded.model, [loaded.index[pk] for pk in ids])
        return Groups(loaded.version.label, cluster_groups(vectors, ids, popularity, genres_of, titles))
    except Exception:
        log.warning("Onboarding groups by genre: %s could not be clustered", loaded.version.label, exc_info=True)
        return Groups(FROM_GENRES, genre_groups(ids, popularity, genres_of, titles))


def clear_cache():
    with _cache_lock:
        _cache.clear()
