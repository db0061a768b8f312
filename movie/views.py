from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from movie import catalog, posters
from sitewide.errors import get_or_404


@require_safe
def home(request):
    page = catalog.paginate(catalog.catalog_movies(), request.GET.get("page"))
    return render(
        request,
        "movie/home.html",
        {"page": page, "genres": catalog.catalog_genres()},
    )


def movie_or_404(pk):
    return get_or_404(catalog.catalog_movies(), f"There is no movie number {pk} in this catalog.", pk=pk)


@require_safe
def detail(request, pk):
    movie = movie_or_404(pk)
    return render(request, "movie/detail.html", {"movie": movie})


@require_safe
def search(request):
    query = catalog.clean_query(request.GET.get("q"))
    page = catalog.paginate(catalog.search_movies(query), request.GET.get("page"))
    return render(request, "movie/search.html", {"page": page, "query": query})


@require_safe
def genre(request, slug):
    chosen = get_or_404(catalog.catalog_genres(), f"There is no genre called {slug!r}.", slug=slug)
    movies = catalog.catalog_movies().filter(genres=chosen)
    page = catalog.paginate(movies, request.GET.get("page"))
    return render(
        request,
        "movie/genre.html",
        {"page": page, "genre": chosen, "genres": catalog.catalog_genres()},
    )


@require_safe
@cache_control(public=True, max_age=86400)
def poster(request, pk):
    movie = movie_or_404(pk)
    return HttpResponse(posters.poster_svg(movie), content_type="image/svg+xml")
