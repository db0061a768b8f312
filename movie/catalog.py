"""Queries over the catalog the site shows (the configured MovieLens dataset).

Views call these; so do the recommendation pages, which need the same movie
cards for their lists.
"""
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Prefetch

from movie.models import Genre, Movie

PAGE_SIZE = 24
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


def search_movies(query):
    """Case-insensitive partial match on the title; the query is trimmed and capped."""
    query = clean_query(query)
    if not query:
        return catalog_movies().none()
    return catalog_movies().filter(title__icontains=query)


def clean_query(raw):
    # Strip control characters (NUL breaks some database drivers) and cap the length.
    text = "".join(ch for ch in (raw or "") if ch.isprintable())
    return text.strip()[:MAX_QUERY_LENGTH]


def paginate(queryset, page_number):
    """A page of results; out-of-range or junk page numbers fall back to a valid page."""
    return Paginator(queryset, PAGE_SIZE).get_page(page_number)


def movies_by_ids(movie_ids):
    """Movies in the order of ``movie_ids`` (e.g. a ranked list); unknown ids are skipped."""
    by_id = catalog_movies().in_bulk(list(movie_ids))
    return [by_id[movie_id] for movie_id in movie_ids if movie_id in by_id]
