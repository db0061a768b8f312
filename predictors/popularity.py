"""The "popular now" list: the fallback beside every model page, the whole
answer for a visitor without history, and the stand-in for a model that is
missing or failing.

A movie's score is the number of distinct site visitors who opened, clicked
or rated it in the last POPULAR_WINDOW_HOURS (one vote per visitor, movie and
bucket, counted by the click-log store as events arrive), plus its share of
the dataset's popularity: the most rated movie of the dataset is worth
POPULAR_DATASET_VOTES visitors. On a quiet site the dataset's favourites
lead; once visitors gather around a movie, it rises; one visitor clicking
again and again is still one visitor.

The ranking is the same for everybody and cheap to be slightly stale: one
process computes it per POPULAR_CACHE_SECONDS and the others read it from
Django's cache, serving the previous list while it is being recomputed (in a
thread of its own, so that no request waits for the recount).
"""

import logging
import threading
import time
from datetime import timedelta
from itertools import islice

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from events.stores import StoreUnavailable, get_store
from movie.catalog import catalog_movies

log = logging.getLogger(__name__)

CANDIDATES = 500  # enough that excluding a long history still leaves a full list


def recent_visitors(now=None):
    """{movie pk: distinct visitors in the window} from the click-log store; empty when it cannot be read."""
    now = now or timezone.now()
    try:
        return get_store().popular_counts(now - timedelta(hours=settings.POPULAR_WINDOW_HOURS), now)
    except StoreUnavailable as error:
        log.warning("Popular now without the site's own activity: %s", error)
        return {}


def blended_scores(rating_counts, visitors, dataset_votes):
    """{movie pk: visitors + the dataset's popularity in visitors}, the most
    rated movie of ``rating_counts`` counting as ``dataset_votes`` visitors."""
    most = max(rating_counts.values(), default=0)
    scores = {pk: dataset_votes * n / most for pk, n in rating_counts.items()} if most else {}
    for pk, n in visitors.items():
        scores[pk] = scores.get(pk, 0.0) + n
    return scores


def compute_ranking():
    """Movie pks of the site's catalog, most popular now first."""
    rating_counts = dict(catalog_movies().values_list("pk", "rating_count")[:CANDIDATES])
    visitors = recent_visitors()
    in_catalog = set(catalog_movies().filter(pk__in=list(visitors)).values_list("pk", flat=True))
    scores = blended_scores(
        rating_counts, {pk: n for pk, n in visitors.items() if pk in in_catalog}, settings.POPULAR_DATASET_VOTES
    )
    return sorted(scores, key=lambda pk: (-scores[pk], pk))


def popular_ranking():
    """Movie pks, most popular first (cached, see the module's docstring)."""
    key = f"popular-ranking:{settings.MOVIELENS_DATASET}"
    interval = settings.POPULAR_CACHE_SECONDS
    cached = cache.get(key)
    if cached is not None:
        computed_at, ranking = cached
        if time.time() - computed_at < interval or not cache.add(f"{key}:computing", True, timeout=interval):
            return ranking
        if settings.POPULAR_REFRESH_IN_BACKGROUND:
            # No visitor waits for the recount: this one gets the previous list.
            threading.Thread(target=_refresh_in_background, args=(key, interval), daemon=True).start()
            return ranking
    return _refresh(key, interval)


def _refresh(key, interval):
    try:
        ranking = compute_ranking()
        cache.set(key, (time.time(), ranking), timeout=interval * 10)
        return ranking
    finally:
        cache.delete(f"{key}:computing")


def _refresh_in_background(key, interval):
    try:
        _refresh(key, interval)
    except Exception:  # the previous list stays; the next interval tries again
        log.exception("could not recount Popular now")
    finally:
        connections.close_all()  # this thread's own connections


def popular_movie_ids(k=10, exclude=()):
    exclude = set(exclude)
    # Stops at the k-th: the ranking holds every movie ever clicked, and a page wants ten.
    return list(islice((pk for pk in popular_ranking() if pk not in exclude), k))
