"""The catalog pages a visitor browses: home, detail, search, genres, posters."""

import re

import pytest

from movie.models import Genre, Movie
from movie.posters import render_poster


def titles_on(response):
    return re.findall(r'class="title"[^>]*>([^<]+)<', response.content.decode())


def test_home_lists_most_rated_first_with_card_details(client, catalog):
    response = client.get("/")
    assert response.status_code == 200
    titles = titles_on(response)
    assert titles[0] == "Movie 01"  # rated by every user
    assert len(titles) == 24  # one page
    html = response.content.decode()
    assert "12 ratings" in html and "Action" in html and "1990" in html
    assert "30 movies" in html


def test_home_pagination(client, catalog):
    second = client.get("/?page=2")
    assert second.status_code == 200
    assert len(titles_on(second)) == 6
    assert "Page 2 of 2" in second.content.decode()
    first_page = set(titles_on(client.get("/")))
    assert first_page.isdisjoint(titles_on(second))


def test_an_empty_page_number_is_the_first_page(client, catalog):
    response = client.get("/", {"page": ""})
    assert response.status_code == 200
    assert titles_on(response)


@pytest.mark.parametrize("page", ["999", "-1", "abc", "1e9", "%00", "2' OR '1'='1"])
def test_a_page_that_does_not_exist_is_a_404_that_names_the_pages(client, catalog, page):
    response = client.get("/", {"page": page})
    assert response.status_code == 404
    assert "of this list; it has pages 1 to 2." in response.content.decode()


def test_empty_catalog_says_how_to_import(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "load_movielens" in response.content.decode()


def test_detail_page(client, catalog):
    movie = Movie.objects.get(title="Movie 01")
    movie.imdb_url = "https://www.imdb.com/title/tt0114709/"
    movie.save()
    response = client.get(f"/movie/{movie.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Movie 01" in html and "(1990)" in html
    assert 'href="https://www.imdb.com/title/tt0114709/"' in html
    assert f"/movie/{movie.pk}/poster.svg" in html
    assert "12" in html and "/ 5" in html
    assert 'href="/genres/action/"' in html


def test_detail_without_imdb_link_has_none(client, catalog):
    movie = Movie.objects.get(title="Movie 02")
    assert "IMDb" not in client.get(f"/movie/{movie.pk}/").content.decode()


def test_unknown_movie_is_a_404_page(client, catalog):
    response = client.get("/movie/999999/")
    assert response.status_code == 404
    assert "There is no movie number 999999 in this catalog." in response.content.decode()
    assert client.get("/movie/999999/poster.svg").status_code == 404
    response = client.get("/movie/abc/")  # no such address at all
    assert response.status_code == 404
    assert "There is nothing at this address." in response.content.decode()


@pytest.mark.parametrize("path", ["/movie/{}/", "/movie/{}/poster.svg"])
def test_a_movie_number_past_what_a_database_stores_is_a_404_not_an_error(client, catalog, path):
    too_big = 2**63  # SQLite refused to compare it: a 500
    response = client.get(path.format(too_big))
    assert response.status_code == 404
    assert f"There is no movie number {too_big} in this catalog." in response.content.decode()


def test_movies_of_another_dataset_are_not_shown(client, catalog, settings):
    settings.MOVIELENS_DATASET = "other"
    assert client.get(f"/movie/{Movie.objects.first().pk}/").status_code == 404


def test_search_is_case_insensitive_and_partial(client, catalog):
    Movie.objects.filter(title="Movie 05").update(title="The Empire Strikes Back")
    response = client.get("/search/", {"q": "  emPIRE "})
    assert response.status_code == 200
    assert titles_on(response) == ["The Empire Strikes Back"]
    assert "Results for “emPIRE”" in response.content.decode()


def test_search_paginates_and_keeps_the_query(client, catalog):
    response = client.get("/search/", {"q": "movie"})
    html = response.content.decode()
    assert len(titles_on(response)) == 24
    assert "?q=movie&amp;page=2" in html
    assert len(titles_on(client.get("/search/", {"q": "movie", "page": 2}))) == 6


def test_search_with_no_match_or_no_query(client, catalog):
    assert "No movie title matches" in client.get("/search/", {"q": "zzz"}).content.decode()
    assert "Spelling, accents, word order and spaces are forgiven" in client.get("/search/").content.decode()


@pytest.mark.parametrize(
    "query",
    ["<script>alert(1)</script>", "' OR 1=1 --", "%", "_", "\x00", "a" * 5000, "🎬", "\\"],
)
def test_odd_search_queries_are_harmless(client, catalog, query):
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    if query in ("%", "_"):  # LIKE wildcards are matched literally
        assert titles_on(response) == []


def test_genre_page_filters(client, catalog):
    response = client.get("/genres/comedy/")
    assert response.status_code == 200
    titles = titles_on(response)
    assert titles and all(Movie.objects.get(title=t).genres.filter(name="Comedy").exists() for t in titles)
    assert len(titles) == Genre.objects.get(name="Comedy").movies.count()
    assert 'class="active" aria-current="page">Comedy' in response.content.decode()


def test_unknown_genre_is_a_404(client, catalog):
    response = client.get("/genres/no-such-genre/")
    assert response.status_code == 404
    assert "There is no genre called &#x27;no-such-genre&#x27;." in response.content.decode()


def test_navigation_links_everywhere(client, catalog):
    html = client.get("/").content.decode()
    for href in [
        'href="/"',
        'href="/genres/"',
        'href="/search/"',
        'href="/for-you/"',
        'href="/movie/gmf"',
        'href="/movie/neumf"',
        'href="/movie/ngcf"',
        'href="/movie/ease"',
        'href="/paper_review/"',
        'href="/accounts/login/?next=/"',
        'href="/accounts/signup/?next=/"',
    ]:
        assert href in html
    assert "<summary>Compare models</summary>" in html
    assert "https://cdn" not in html and "googleapis" not in html


def test_admin_is_in_the_menu_for_staff_only(client, catalog, django_user_model):
    assert 'href="/admin/"' not in client.get("/").content.decode()
    client.force_login(django_user_model.objects.create_user("reader", password="x" * 12))
    assert 'href="/admin/"' not in client.get("/").content.decode()
    client.force_login(django_user_model.objects.create_user("editor", password="x" * 12, is_staff=True))
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_poster_is_deterministic_escaped_svg(client, catalog):
    movie = Movie.objects.get(title="Movie 01")
    first = client.get(f"/movie/{movie.pk}/poster.svg")
    assert first["Content-Type"] == "image/svg+xml"
    assert first.content == client.get(f"/movie/{movie.pk}/poster.svg").content
    assert b"Movie 01" in first.content and b"1990" in first.content
    svg = render_poster('<script>"x"</script> & Co', 2001, ["Drama"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_poster_colour_follows_genre():
    assert render_poster("A", 2000, ["Horror"]).count("hsl(0,") == 1
    assert render_poster("B", 2000, ["Horror"]).count("hsl(0,") == 1
    assert "hsl(0," not in render_poster("A", 2000, ["Drama"])
