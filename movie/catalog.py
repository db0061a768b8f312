"""Queries over the catalog the site shows (the configured MovieLens dataset).

Views call these; so do the recommendation pages, which need the same movie
cards for their lists.
"""

from django.conf import settings
from django.db.models import Count, Max, Prefetch

from movie import search
from movie.models import Dataset, Genre, Movie

MAX_QUERY_LENGTH = 100


def catalog_movies():
    """Movies of the site's dataset, most rated first, genres prefetched."""
    return (
        Movie.objects.filter(dataset__name=settings.MOVIELENS_DATASET)
        .prefetch_related(Prefetch("genres", queryset=Genre.objects.order_by("name")))
        .order_by("-rating_count", "title", "pk")
    )


def catalog_genres():
    """Genres that have at least one movie in the site's dataset."""
    return Genre.objects.filter(movies__dataset__name=settings.MOVIELENS_DATASET).distinct().order_by("name")


def title_index():
    """The search index of the site's catalog, rebuilt when an import (or any
    added or removed movie) changes it."""
    movies = Movie.objects.filter(dataset__name=settings.MOVIELENS_DATASET)
    dataset = Dataset.objects.filter(name=settings.MOVIELENS_DATASET).values_list("pk", "fingerprint", "imported_at")
    key = (dataset.first(), tuple(movies.aggregate(n=Count("pk"), last=Max("pk")).values()))
    return search.index_for(key, lambda: list(movies.values_list("pk", "title", "year", "rating_count")))


def clean_query(raw):
    # Strip control characters (NUL breaks some database drivers) and cap the length.
    text = "".join(ch for ch in (raw or "") if ch.isprintable())
    return text.strip()[:MAX_QUERY_LENGTH]


def movies_by_ids(movie_ids):
    """Movies in the order of ``movie_ids`` (e.g. a ranked list); unknown ids are skipped."""
    by_id = catalog_movies().in_bulk(list(movie_ids))
    return [by_id[movie_id] for movie_id in movie_ids if movie_id in by_id]
