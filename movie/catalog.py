"""Queries over the catalog the site shows (the configured MovieLens dataset).

Views call these; so do the recommendation pages, which need the same movie
cards for their lists.

The catalog changes only when it is imported (or a movie is edited), so each
process keeps what every page asks for again and again (movies by id with
their genres, the most-rated order, the genres, rendered cards) for one
*catalog version*: the dataset's row (fingerprint and import time), a
counter bumped by any change this process makes (and again when it commits), and CACHE_SECONDS. The dataset's row is
read again at most every STATE_RECHECK_SECONDS, so another process's import is seen
within that long.
"""

import threading
import time

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections, transaction
from django.db.models import Count, Max, Prefetch

from movie import search
from movie.models import Dataset, Genre, Movie, MovieTag
from sitewide.bounded_cache import BoundedCache
from sitewide.driver_reads import fetch_all
from sitewide.id_urls import url_for_id
from sitewide.recheck import Recheck

# Movies (and cards) kept per process: a few pages' worth of every list, a
# few MB; a bigger catalog's long tail is read from the database.
CACHED_MOVIES = 4096
CACHED_SEARCHES = 512
CACHED_FRAGMENTS = 8192
# Rendered fragments are also bounded by size: a whole page's content is tens
# of KB, so a count alone would let 8192 of them reach hundreds of MB per
# worker. 32 M characters (about 32 MB of HTML, ~900 whole pages) at most.
FRAGMENT_CHARACTERS = 32 * 1024 * 1024
# An edit that another process makes without re-importing (the admin on
# another web worker) is seen after at most this long.
CACHE_SECONDS = 300

MAX_QUERY_LENGTH = 100


def dataset_movies():
    """Movies of the site's dataset, in no order, nothing prefetched."""
    return Movie.objects.filter(dataset__name=settings.MOVIELENS_DATASET)


def catalog_movies():
    """Movies of the site's dataset, most rated first, genres prefetched."""
    return (
        dataset_movies()
        .prefetch_related(Prefetch("genres", queryset=Genre.objects.order_by("name")))
        .order_by("-rating_count", "title", "pk")
    )


def catalog_genres():
    """Genres that have at least one movie in the site's dataset."""
    return Genre.objects.filter(movies__dataset__name=settings.MOVIELENS_DATASET).distinct().order_by("name")


def title_index():
    """The search index of the site's catalog, rebuilt when an import (or any
    added or removed movie) changes it."""
    return current_cache().value("title index", _title_index)


def matching_movie_ids(query, limit):
    """Pks of the best ``limit`` titles matching ``query``, best match first, and
    how many titles match in all (title_index().find), remembered per catalog
    version: the same searches come again and again."""

    def find():
        found = title_index().find(query, limit)
        return [match.movie_id for match in found.matches], found.total

    return current_cache().searches.get_or_put((query, limit), find)


def _title_index():
    movies = dataset_movies()
    dataset = Dataset.objects.filter(name=settings.MOVIELENS_DATASET).values_list("pk", "fingerprint", "imported_at")
    key = (dataset.first(), tuple(movies.aggregate(n=Count("pk"), last=Max("pk")).values()))
    return search.index_for(key, lambda: list(movies.values_list("pk", "title", "year", "rating_count")))


def clean_query(raw):
    # Strip control characters (NUL breaks some database drivers) and cap the length.
    text = "".join(ch for ch in (raw or "") if ch.isprintable())
    return text.strip()[:MAX_QUERY_LENGTH]


def movies_by_ids(movie_ids):
    """Movies in the order of ``movie_ids`` (e.g. a ranked list), genres
    prefetched; unknown ids are skipped. Each is the caller's own copy, free
    to take attributes (say the visitor's rating)."""
    movie_ids = list(movie_ids)
    found = _kept_or_fetched(current_cache().movies, movie_ids, lambda missing: catalog_movies().in_bulk(missing))
    return [_own_copy(found[movie_id]) for movie_id in movie_ids if movie_id in found]


def movie_summaries(movie_ids):
    """{pk: {"movie_id", "title", "year", "url"}} of the known ``movie_ids``: what
    a list in JSON says of each movie, kept per catalog version without Movie
    objects. The dicts are shared: copy one before adding to it."""
    return _kept_or_fetched(current_cache().summaries, movie_ids, _fetch_summaries)


def _fetch_summaries(movie_ids):
    # Three columns, not Movie objects with their genres: a long catalog's tail
    # (ml-25m's 62k movies) is fetched here again and again.
    rows = dataset_movies().filter(pk__in=movie_ids)
    return {
        pk: {"movie_id": pk, "title": title, "year": year, "url": url_for_id("movie:detail", pk)}
        for pk, title, year in rows.values_list("pk", "title", "year")
    }


def _kept_or_fetched(cache, movie_ids, fetch):
    """{pk: value} of ``movie_ids`` from ``cache``, the missing ones from fetch(missing) and kept."""
    found = cache.get_many(movie_ids)
    missing = [movie_id for movie_id in movie_ids if movie_id not in found]
    if missing:
        fetched = fetch(missing)
        cache.put_many(fetched)
        found.update(fetched)
    return found


def movie_tags(movie_id, limit):
    """The movie's ``limit`` most used tags (MovieTag rows with their tag), most used first."""
    return current_cache().tags.get_or_put((movie_id, limit), lambda: _most_used_tags(movie_id, limit))


def _most_used_tags(movie_id, limit):
    rows = MovieTag.objects.filter(movie_id=movie_id).select_related("tag").order_by("-count", "tag__name")
    return list(rows[:limit])


def ranked_movie_ids():
    """Pks of the whole catalog, most rated first (the order of catalog_movies)."""
    return current_cache().value("ranked", lambda: list(catalog_movies().values_list("pk", flat=True)))


def genre_list():
    """catalog_genres() as a list, read once per catalog version."""
    return current_cache().value("genres", lambda: list(catalog_genres()))


def decade_list():
    """The decades (1990, 2000, ...) of the site catalog's release years, oldest
    first, read once per catalog version: the filter offers only what exists."""

    def decades():
        years = dataset_movies().exclude(year=None).values_list("year", flat=True).distinct()
        return sorted({year - year % 10 for year in years})

    return current_cache().value("decades", decades)


def catalog_fragment(key, render):
    """render() (HTML, say) kept under ``key`` for the current catalog version:
    for page parts that show only catalog values and what ``key`` holds."""
    return current_cache().fragments.get_or_put(key, render)


def clear_fragments():
    """Forget every catalog_fragment (tests, whose databases reuse primary keys)."""
    _cache.fragments.clear()


def _own_copy(movie):
    # A shallow copy of the attributes (copy.copy goes through pickling's
    # __getstate__: ten times slower); the prefetched genres are shared, read-only.
    clone = Movie.__new__(Movie)
    clone.__dict__.update(movie.__dict__)
    return clone


# --- The per-process cache and its version ---------------------------------------


class CatalogCache:
    """What this process keeps for one catalog version."""

    def __init__(self, version):
        self.version = version
        self.movies = BoundedCache(CACHED_MOVIES)
        self.cards = BoundedCache(CACHED_MOVIES)
        self.summaries = BoundedCache(CACHED_MOVIES)
        self.tags = BoundedCache(CACHED_MOVIES)
        self.searches = BoundedCache(CACHED_SEARCHES)
        self.forms = BoundedCache(CACHED_SEARCHES)
        # Rendered page parts (catalog_fragment): str or bytes, weighed by their length.
        self.fragments = BoundedCache(CACHED_FRAGMENTS, max_weight=FRAGMENT_CHARACTERS)
        self._values = {}
        self._lock = threading.Lock()

    def value(self, name, compute):
        if name not in self._values:
            with self._lock:
                if name not in self._values:
                    self._values[name] = compute()
        return self._values[name]


_changes = [0]  # bumped by catalog_changed
_cache = CatalogCache(None)
_cache_lock = threading.Lock()
_request = threading.local()


def catalog_changed(using=None, **kwargs):
    """Signal receiver (movie/apps.py): this process changed the catalog.

    The counter goes up at once, so the changing thread's own reads inside its
    transaction see the change, and again when the transaction commits: a
    thread that read the old rows in between has cached them under the
    version of the first bump, which the second one retires."""
    _changes[0] += 1
    _dataset_rows.changed()
    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        # One hook per run of changes: a re-import sends thousands, and Django's hook list is quadratic in its length.
        hooks = connection.run_on_commit
        if not hooks or hooks[-1][1] is not _count_committed_change:
            transaction.on_commit(_count_committed_change, using=using)


def _count_committed_change():
    _changes[0] += 1


def catalog_version():
    """Identifies the catalog's current content: the dataset's row, read again
    at most every STATE_RECHECK_SECONDS per process, this process's changes
    and the CACHE_SECONDS period; fixed for the length of a request."""
    version = getattr(_request, "version", None)
    if version is None:
        version = (
            settings.MOVIELENS_DATASET,
            _dataset_rows.get(Dataset.objects.db, settings.MOVIELENS_DATASET),
            _changes[0],
            int(time.monotonic() // CACHE_SECONDS),
        )
        if getattr(_request, "active", False):
            _request.version = version
    return version


def _dataset_row(alias, name):
    # Plain SQL: the ORM's query building cost more than the query.
    connection = connections[alias]
    table = connection.ops.quote_name(Dataset._meta.db_table)
    rows = fetch_all(connection, f"SELECT id, fingerprint, imported_at FROM {table} WHERE name = %s", [name])
    return rows[0] if rows else None


# Another process's import is seen within STATE_RECHECK_SECONDS (sitewide/recheck.py).
_dataset_rows = Recheck(_dataset_row)


def current_cache():
    """The CatalogCache of the current catalog version (a fresh one after a change)."""
    global _cache
    version = catalog_version()
    if _cache.version != version:
        with _cache_lock:
            if _cache.version != version:
                _cache = CatalogCache(version)
    return _cache


def _request_began(**kwargs):
    _request.version, _request.active = None, True


def _request_ended(**kwargs):
    _request.version, _request.active = None, False


request_started.connect(_request_began, dispatch_uid="movie.catalog.request_started")
request_finished.connect(_request_ended, dispatch_uid="movie.catalog.request_finished")
