"""The "popular now" list: the fallback beside every model page, the whole
answer for a visitor without history, and the stand-in for a model that is
missing or failing.

Score = the movie's ratings in the dataset + RECENT_WEIGHT × its site events
in the last RECENT_DAYS, so what visitors are clicking this week rises above
what was popular in the 1990s. The ranking is cached for a short while: it is
the same for everybody and cheap to be slightly stale.
"""
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from movie.catalog import catalog_movies, movies_by_ids
from events.models import ClickEvent

RECENT_DAYS = 7
RECENT_WEIGHT = 5.0
CANDIDATES = 500  # enough that excluding a long history still leaves a full list
CACHE_SECONDS = 30


def recent_event_counts(days=RECENT_DAYS):
    since = timezone.now() - timedelta(days=days)
    rows = ClickEvent.objects.filter(timestamp__gte=since).values("movie_id").annotate(n=Count("id"))
    return {row["movie_id"]: row["n"] for row in rows}


def popular_ranking():
    """Movie pks, most popular first (cached)."""
    cache_key = f"popular-ranking:{settings.MOVIELENS_DATASET}"
    ranking = cache.get(cache_key)
    if ranking is None:
        counts = dict(catalog_movies().values_list("pk", "rating_count")[:CANDIDATES])
        recent = recent_event_counts()
        catalog_ids = set(catalog_movies().filter(pk__in=list(recent)).values_list("pk", flat=True))
        scores = {pk: float(n) for pk, n in counts.items()}
        for pk, n in recent.items():
            if pk in catalog_ids:
                scores[pk] = scores.get(pk, 0.0) + RECENT_WEIGHT * n
        ranking = sorted(scores, key=lambda pk: (-scores[pk], pk))
        cache.set(cache_key, ranking, CACHE_SECONDS)
    return ranking


def popular_movie_ids(k=10, exclude=()):
    exclude = set(exclude)
    return [pk for pk in popular_ranking() if pk not in exclude][:k]


def popular_movies(k=10, exclude=()):
    return movies_by_ids(popular_movie_ids(k, exclude))
