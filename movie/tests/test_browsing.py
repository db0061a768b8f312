"""Browsing the catalog as a visitor does: forgiving search with suggestions,
filters and sort orders, numbered pages, tags, links and the rating chart."""

import pytest

from movie import search
from movie.models import Genre, Movie, MovieTag, Tag

pytestmark = pytest.mark.django_db


def titles_on(response):
    return [movie.title for movie in response.context["page"].object_list]


def test_search_forgives_a_typo_and_ranks_the_match_first(client, catalog):
    Movie.objects.filter(title="Movie 05").update(title="The Godfather", rating_count=1)
    response = client.get("/search/", {"q": "godfathr"})
    assert titles_on(response)[0] == "The Godfather"


def test_search_suggestions_are_json_best_first(client, catalog):
    Movie.objects.filter(title="Movie 07").update(title="Á köldum klaka")
    answer = client.get("/api/search", {"q": "koldum"}).json()
    assert answer["query"] == "koldum"
    assert answer["results"][0]["title"] == "Á köldum klaka"
    assert answer["results"][0]["url"].startswith("/movie/")
    assert client.get("/api/search", {"q": ""}).json()["results"] == []


def test_filters_and_sort_on_a_genre_page(client, catalog):
    response = client.get("/genres/action/", {"decade": "1990", "min_ratings": "1", "sort": "title"})
    movies = list(response.context["page"].object_list)
    assert movies and all(1990 <= m.year < 2000 and m.rating_count >= 1 for m in movies)
    assert [m.title for m in movies] == sorted(m.title for m in movies)
    assert all("Action" in [g.name for g in m.genres.all()] for m in movies)


def test_a_genre_chip_keeps_the_other_filters_and_the_sort(client, catalog):
    html = client.get("/genres/action/", {"decade": "1990", "min_ratings": "1", "sort": "title", "page": "1"})
    chips = html.content.decode().split('class="genre-chips"', 1)[1].split("</ul>", 1)[0]
    assert 'href="/genres/drama/?decade=1990&amp;min_ratings=1&amp;sort=title"' in chips
    # The chips are cached per catalog: the next page's own filters, and none on the home page.
    again = client.get("/genres/action/", {"decade": "1980"}).content.decode()
    assert 'href="/genres/drama/?decade=1980"' in again
    assert 'href="/genres/drama/"' in client.get("/").content.decode()


def test_the_decade_filter_offers_the_decades_the_catalog_has(client, catalog):
    from movie.catalog import clear_fragments

    Movie.objects.filter(title="Movie 03").update(year=1968)
    Movie.objects.filter(title="Movie 04").update(year=1874)  # older than a listing accepts: not offered
    clear_fragments()
    html = client.get("/search/", {"q": "movie"}).content.decode()
    offered = html.split('name="decade"', 1)[1].split("</select>", 1)[0]
    assert '<option value="1960">1960s</option>' in offered and '<option value="1990">1990s</option>' in offered
    assert "2000s" not in offered and "1970s" not in offered and "1870s" not in offered


def test_search_filters_by_genre_and_minimum_rating(client, catalog):
    response = client.get("/search/", {"q": "movie", "genre": "drama", "min_rating": "3"})
    movies = [m for page in [response.context["page"]] for m in page.object_list]
    assert movies and all(m.rating_mean >= 3 for m in movies)
    assert all("Drama" in [g.name for g in m.genres.all()] for m in movies)


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ({"decade": "1995"}, "decade must be a year ending in 0"),
        ({"decade": "²"}, "decade must be a whole number"),
        ({"min_rating": "9"}, "min_rating must be a number from 0 to 5."),
        ({"min_ratings": "9" * 5000}, "min_ratings must be a whole number"),
        ({"sort": "relevance"}, "sort must be one of popular, rating, year, title."),
    ],
)
def test_a_bad_filter_is_a_400_that_says_why(client, catalog, query, sentence):
    response = client.get("/genres/action/", query)
    assert response.status_code == 400
    assert sentence in response.content.decode()


def test_an_unknown_genre_on_search_is_a_400_that_names_it_and_the_genres(client, catalog):
    response = client.get("/search/", {"q": "movie", "genre": "nope"})
    assert response.status_code == 400
    sentence = "genre must be one of action, comedy, drama, sci-fi; there is no genre &#x27;nope&#x27;."
    assert sentence in response.content.decode()
    assert client.get("/search/", {"q": "movie", "genre": "drama"}).status_code == 200


def add_titles(dataset, title, n):
    """``n`` movies called "<title> <i>", the i-th rated i times; every fifth a drama."""
    Movie.objects.bulk_create(
        Movie(dataset=dataset, source_id=1000 + i, title=f"{title} {i}", year=1990, rating_count=i) for i in range(n)
    )
    added = Movie.objects.filter(dataset=dataset, source_id__gte=1000)
    Genre.objects.get(slug="drama").movies.add(*[movie for movie in added if movie.source_id % 5 == 0])


def test_the_search_count_is_every_matching_title(client, catalog):
    add_titles(catalog, "The Sequel", 465)  # more titles than the search used to score (400)
    response = client.get("/search/", {"q": "the"})
    assert '<span class="muted">465 found</span>' in response.content.decode()
    assert titles_on(response)[:2] == ["The Sequel 464", "The Sequel 463"]  # equally good: the most rated first
    pages = response.context["page"].paginator
    assert pages.count == 465 and pages.num_pages == 20


def test_a_search_list_capped_for_speed_still_says_how_many_titles_match(client, catalog, monkeypatch):
    add_titles(catalog, "The Sequel", 465)
    monkeypatch.setattr(search, "MAX_RESULTS", 100)
    html = client.get("/search/", {"q": "the"}).content.decode()
    assert '<span class="muted">465 found, showing the best 100</span>' in html
    # The filter is applied to the best 100 (Sequels 365-464, a fifth of them dramas), and the page says so.
    html = client.get("/search/", {"q": "the", "genre": "drama"}).content.decode()
    assert '<span class="muted">20 found among the best 100 of 465 matches</span>' in html


def test_numbered_pages_keep_the_filters(client, catalog):
    html = client.get("/", {"page": "1"}).content.decode()
    assert 'aria-current="page">1<' in html and 'href="?page=2"' in html
    html = client.get("/genres/action/", {"sort": "title"}).content.decode()
    assert "page=" not in html or "sort=title&amp;page=" in html


def test_a_movie_page_shows_tags_links_and_the_rating_chart(client, catalog):
    movie = Movie.objects.get(title="Movie 01")
    movie.tmdb_id, movie.rating_histogram = 603, [0, 0, 0, 0, 0, 0, 0, 3, 0, 1]
    movie.save()
    tag = Tag.objects.create(name="time travel", slug="time-travel")
    MovieTag.objects.create(movie=movie, tag=tag, count=4)
    html = client.get(movie.get_absolute_url()).content.decode()
    assert 'href="/tags/time-travel/"' in html and "×4" in html
    assert 'href="https://www.themoviedb.org/movie/603"' in html
    assert "How people rated it" in html and "3 ratings (75%)" in html
    tagged = client.get("/tags/time-travel/")
    assert titles_on(tagged) == ["Movie 01"]
    assert client.get("/tags/no-such-tag/").status_code == 404


def test_whole_star_datasets_chart_five_bars(client, catalog):
    movie = Movie.objects.get(title="Movie 01")
    movie.rating_histogram = [0, 1, 0, 2, 0, 0, 0, 0, 0, 5]
    movie.save()
    html = client.get(movie.get_absolute_url()).content.decode()
    assert html.count('class="stars-label"') == 5


def test_browse_lists_the_genres(client, catalog):
    html = client.get("/genres/").content.decode()
    assert 'href="/genres/action/"' in html and 'href="/genres/sci-fi/"' in html


def test_favicon_is_served_on_every_address(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content


def test_for_you_is_a_page_of_picks(client, catalog):
    response = client.get("/for-you/")
    assert response.status_code == 200
    assert "Top picks for you" in response.content.decode()
