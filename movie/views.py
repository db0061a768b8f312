import functools

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from movie import catalog, posters
from movie.browse import (
    FILTER_CHOICES,
    SORTS,
    BadListing,
    Listing,
    decade_choices,
    page_numbers,
    page_of,
    search_results,
)
from movie.charts import rating_bars
from movie.models import Tag
from sitewide.errors import NotFound, error_response, get_or_404
from sitewide.numbers import MAX_ID

SUGGESTIONS = 8
TAGS_SHOWN = 12
BROWSE_TAGS = 40


def listing_or_400(request, default_sort="popular"):
    """The filters and sort of the query string; bad values answer 400 with a sentence."""
    try:
        return Listing.from_query(request.GET, default_sort=default_sort), None
    except BadListing as problem:
        return None, error_response(request, 400, "Bad filter", str(problem))


def list_page(request, template, page, listing, **context):
    # Computed when shown: the template calls them, and a cached page part calls neither.
    context.update(
        page=page,
        page_numbers=functools.partial(page_numbers, page),
        listing=listing,
        base_query=functools.partial(listing.query_string, q=context.get("query") or None),
        genres=catalog.genre_list(),
        decades=decade_choices(),
        sorts=[(name, label) for name, label in SORTS.items() if name != "relevance" or listing.default_sort == name],
        **FILTER_CHOICES,
    )
    return render(request, template, context)


@require_safe
def home(request):
    page = page_of(catalog.ranked_movie_ids(), request.GET.get("page"), to_movies=catalog.movies_by_ids)
    return list_page(request, "movie/home.html", page, Listing())


def movie_or_404(pk):
    found = catalog.movies_by_ids([pk]) if pk <= MAX_ID else []
    if not found:
        raise NotFound(f"There is no movie number {pk} in this catalog.")
    return found[0]


@require_safe
def detail(request, pk):
    movie = movie_or_404(pk)
    tags = catalog.movie_tags(pk, TAGS_SHOWN)
    context = {"movie": movie, "tags": tags, "rating_bars": rating_bars(movie.rating_histogram)}
    return render(request, "movie/detail.html", context)


@require_safe
def search(request):
    query = catalog.clean_query(request.GET.get("q"))
    listing, refused = listing_or_400(request, default_sort="relevance")
    if refused:
        return refused
    if not query:
        return render(request, "movie/search.html", {"query": "", "genres": catalog.genre_list(), "listing": listing})
    page, found = search_results(query, listing, request.GET.get("page"))
    return list_page(request, "movie/search.html", page, listing, query=query, found=found)


@require_safe
def search_suggestions(request):
    """Titles for the search box's suggestion list, best match first."""
    query = catalog.clean_query(request.GET.get("q"))
    matches = catalog.title_index().search(query, limit=SUGGESTIONS) if query else []
    movies = catalog.movies_by_ids([match.movie_id for match in matches])
    return JsonResponse(
        {
            "query": query,
            "results": [
                {"movie_id": movie.pk, "title": movie.title, "year": movie.year, "url": movie.get_absolute_url()}
                for movie in movies
            ],
        }
    )


@require_safe
def browse(request):
    genres = catalog.catalog_genres().annotate(n_movies=Count("movies"))
    tags = (
        Tag.objects.filter(movie_counts__movie__dataset__name=settings.MOVIELENS_DATASET)
        .annotate(n_movies=Count("movie_counts"))
        .order_by("-n_movies", "name")[:BROWSE_TAGS]
    )
    return render(request, "movie/browse.html", {"genre_counts": genres, "tags": tags})


@require_safe
def genre(request, slug):
    chosen = get_or_404(catalog.catalog_genres(), f"There is no genre called {slug!r}.", slug=slug)
    listing, refused = listing_or_400(request)
    if refused:
        return refused
    movies = listing.without_genre().ordered(catalog.catalog_movies().filter(genres=chosen))
    page = page_of(movies, request.GET.get("page"))
    return list_page(request, "movie/genre.html", page, listing.without_genre(), genre=chosen)


@require_safe
def tag(request, slug):
    chosen = get_or_404(Tag.objects.all(), f"There is no tag called {slug!r}.", slug=slug)
    movies = (
        catalog.catalog_movies().filter(tag_counts__tag=chosen).order_by("-tag_counts__count", "-rating_count", "pk")
    )
    page = page_of(movies, request.GET.get("page"))
    return list_page(request, "movie/tag.html", page, Listing(), tag=chosen)


@require_safe
@cache_control(public=True, max_age=86400)
def poster(request, pk):
    movie = movie_or_404(pk)
    return HttpResponse(posters.poster_svg(movie), content_type="image/svg+xml")
