"""Filters, sort orders and pages for the catalog's lists (search, genres, tags).

Views parse the query string with ``Listing.from_query``; a value that makes no
sense is a ``BadListing`` whose sentence the visitor sees, and a page past the
end is a 404 that names the last page.
"""

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import F
from django.utils.functional import cached_property

from movie import search
from movie.catalog import catalog_movies, decade_list, genre_list, matching_movie_ids, movies_by_ids
from sitewide.errors import NotFound
from sitewide.numbers import whole_number

PAGE_SIZE = 24
FIRST_DECADE, LAST_DECADE = 1900, 2020
MAX_RATING_COUNT = 10_000_000
SORTS = {
    "relevance": "Best match",
    "popular": "Most rated",
    "rating": "Highest rated",
    "year": "Newest",
    "title": "Title",
}
ORDERINGS = {
    "popular": ("-rating_count", "title", "pk"),
    "rating": (F("rating_mean").desc(nulls_last=True), "-rating_count", "pk"),
    "year": (F("year").desc(nulls_last=True), "-rating_count", "pk"),
    "title": ("title", "year", "pk"),
}
# What the filter form offers.
FILTER_CHOICES = {
    "min_ratings": [3.0, 3.5, 4.0, 4.5],
    "min_counts": [10, 50, 100, 500, 1000],
}


def decade_choices():
    """The catalog's decades that a listing accepts (FIRST_DECADE to LAST_DECADE)."""
    return [decade for decade in decade_list() if FIRST_DECADE <= decade <= LAST_DECADE]


class BadListing(ValueError):
    """A filter or sort the visitor asked for that cannot be honoured."""


@dataclass(frozen=True)
class Listing:
    genre: str = ""
    decade: int | None = None
    min_rating: float | None = None
    min_ratings: int | None = None
    sort: str = "popular"
    default_sort: str = "popular"

    @classmethod
    def from_query(cls, query, *, default_sort="popular"):
        decade = _whole_number(query.get("decade"), "decade", FIRST_DECADE, LAST_DECADE)
        if decade is not None and decade % 10:
            raise BadListing("decade must be a year ending in 0, such as 1990.")
        sort = query.get("sort") or default_sort
        if sort not in SORTS or (sort == "relevance" and default_sort != "relevance"):
            choices = [name for name in SORTS if name != "relevance" or default_sort == "relevance"]
            raise BadListing(f"sort must be one of {', '.join(choices)}.")
        return cls(
            genre=_genre(query.get("genre")),
            decade=decade,
            min_rating=_rating(query.get("min_rating")),
            min_ratings=_whole_number(query.get("min_ratings"), "min_ratings", 0, MAX_RATING_COUNT),
            sort=sort,
            default_sort=default_sort,
        )

    def filter(self, movies):
        if self.genre:
            movies = movies.filter(genres__slug=self.genre)
        if self.decade is not None:
            movies = movies.filter(year__gte=self.decade, year__lt=self.decade + 10)
        if self.min_rating is not None:
            movies = movies.filter(rating_mean__gte=self.min_rating)
        if self.min_ratings:
            movies = movies.filter(rating_count__gte=self.min_ratings)
        return movies

    @property
    def filters_nothing(self):
        return not self.genre and self.decade is None and self.min_rating is None and not self.min_ratings

    def ordered(self, movies):
        return self.filter(movies).order_by(*ORDERINGS[self.sort])

    def query_string(self, **extra):
        """This listing as URL parameters (without defaults), plus ``extra``."""
        values = {
            "genre": self.genre,
            "decade": self.decade,
            "min_rating": self.min_rating,
            "min_ratings": self.min_ratings,
            "sort": self.sort if self.sort != self.default_sort else None,
        }
        values.update(extra)
        return urlencode({key: value for key, value in values.items() if value not in ("", None)})

    def without_genre(self):
        return replace(self, genre="")


def _whole_number(raw, name, low, high):
    if raw in (None, ""):
        return None
    value = whole_number(raw, max_digits=12)
    if value is None or not low <= value <= high:
        raise BadListing(f"{name} must be a whole number from {low} to {high}.")
    return value


def _genre(raw):
    # An unknown slug would filter out every movie: "0 found" would hide the typo the visitor made.
    if not raw:
        return ""
    slugs = [genre.slug for genre in genre_list()]
    if raw not in slugs:
        raise BadListing(f"genre must be one of {', '.join(slugs)}; there is no genre {raw[:40]!r}.")
    return raw


def _rating(raw):
    if raw in (None, ""):
        return None
    try:
        value = float(raw) if len(raw) <= 8 and raw.isascii() else None
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 5:
        raise BadListing("min_rating must be a number from 0 to 5.")
    return value


class IdPage:
    """A page of a ranked id list, shaped like Django's Page for the templates;
    its movies are looked up when first shown (a cached page part shows none)."""

    def __init__(self, page, to_movies):
        self._page = page
        self._to_movies = to_movies

    @cached_property
    def object_list(self):
        return self._to_movies(list(self._page.object_list))

    def __getattr__(self, name):
        return getattr(self._page, name)


def page_of(items, raw_number, *, to_movies=None):
    """The requested page of ``items`` (a queryset, or a list of movie ids with
    ``to_movies`` turning the page's ids into movies). A page that does not
    exist is a 404 saying which pages do."""
    paginator = Paginator(items, PAGE_SIZE, allow_empty_first_page=True)
    raw = raw_number or "1"
    number = whole_number(raw)
    if number is None or not 1 <= number <= paginator.num_pages:
        pages = "page 1" if paginator.num_pages == 1 else f"pages 1 to {paginator.num_pages}"
        raise NotFound(f"There is no page {raw[:20]} of this list; it has {pages}.")
    page = paginator.page(number)
    if to_movies is not None:
        return IdPage(page, to_movies)
    return page


def page_numbers(page):
    """Page numbers to show around the current one, None where pages are left out."""
    return [
        None if number == page.paginator.ELLIPSIS else number
        for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    ]


@dataclass(frozen=True)
class SearchCount:
    """What a search page says it found: its list holds ``listed`` movies, the
    best ``shortlist`` of the ``matches`` matching titles, ``filtered`` or not."""

    listed: int
    shortlist: int
    matches: int
    filtered: bool

    @property
    def capped(self):
        return self.shortlist < self.matches


def search_results(query, listing, raw_page):
    """A page of the movies matching ``query``, filtered by ``listing``; ranked
    by match quality (then popularity) unless another sort was asked for; and
    the SearchCount the page shows."""
    ranked, matches = matching_movie_ids(query, search.MAX_RESULTS)
    if listing.sort == "relevance" and listing.filters_nothing:
        ids = ranked  # the index holds this catalog version's movies: nothing to look up
    elif listing.sort == "relevance":
        kept = set(listing.filter(catalog_movies().filter(pk__in=ranked)).values_list("pk", flat=True))
        ids = [movie_id for movie_id in ranked if movie_id in kept]
    else:
        ids = list(listing.ordered(catalog_movies().filter(pk__in=ranked)).values_list("pk", flat=True))
    count = SearchCount(len(ids), len(ranked), matches, filtered=not listing.filters_nothing)
    return page_of(ids, raw_page, to_movies=movies_by_ids), count
