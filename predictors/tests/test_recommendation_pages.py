"""/movie/<model> and /api/recommendations: a visitor's clicks in, ten unseen
movies out, with the popular column, the history and the fallbacks."""

import re

import pytest
from django.core.cache import cache

from movie.models import Movie
from predictors import serving
from predictors.data import fingerprint, from_database
from predictors.models import ModelVersion
from predictors.registry import register
from predictors.training import train_and_evaluate
from predictors.zoo import CLOSED_FORM, hyperparameters
from tests.services import Browser

MODELS = ("gmf", "neumf", "ngcf", "ease")
TINY = {"dim": 8, "epochs": 3, "patience": 1}


pytestmark = pytest.mark.usefixtures("fresh_predictors")


@pytest.fixture
def store(settings, tmp_path):
    settings.MODEL_STORE_URI = str(tmp_path / "models")


def train_version(model_name, activate=True, seed=0):
    data = from_database("test-catalog")
    if model_name in CLOSED_FORM:
        params = hyperparameters(model_name)
    else:
        params = hyperparameters(model_name, **TINY, **({"layers": 1} if model_name != "gmf" else {}))
    result = train_and_evaluate(data, model_name, params, "full", seed, progress=False)
    return register(model_name, result, data, "test-catalog", fingerprint(data), activate=activate)


@pytest.fixture
def trained(catalog, store):
    return {name: train_version(name) for name in MODELS}


@pytest.fixture
def visitor(catalog):
    return Browser()


def card_ids(html, list_name):
    section = html.split(f'data-list="{list_name}"', 1)[1].split("</ol>", 1)[0]
    return [int(pk) for pk in dict.fromkeys(re.findall(r'data-movie-id="(\d+)"', section))]


def movie_pks(n):
    return list(Movie.objects.order_by("pk").values_list("pk", flat=True)[:n])


@pytest.mark.parametrize("model_name", MODELS)
def test_history_gives_ten_unseen_ranked_movies(trained, visitor, model_name):
    clicked = movie_pks(4)
    for pk in clicked[:3]:
        assert visitor.click(pk).status_code == 202
    visitor.rate(clicked[3], 4.5)

    response = visitor.client.get(f"/movie/{model_name}")
    assert response.status_code == 200
    html = response.content.decode()
    picks = card_ids(html, "recommendations")
    assert len(picks) == 10 and not set(picks) & set(clicked)
    assert f"/movie/{picks[0]}/" in html  # each pick links to its page
    assert trained[model_name].label in html
    assert "data-fallback" not in html
    popular = card_ids(html, "popular")
    assert len(popular) == 10 and not set(popular) & set(clicked)
    history = html.split('data-list="history"', 1)[1]
    assert "★ 4.5" in history and history.count("clicked") == 3


def history_entries(html):
    """[(movie pk, what the entry says)] of the page's "Your history", in its order."""
    section = html.split('data-list="history"', 1)[1].split("</ul>", 1)[0]
    items = re.findall(r'<li data-history-kind="[^"]*"><a href="/movie/(\d+)/">[^<]*</a>(.*?)</li>', section, re.S)
    # The words after the title, without the tags and the "(year)".
    return [(int(pk), " ".join(re.sub(r"<[^>]+>|\([^)]*\)", " ", text).split())) for pk, text in items]


def test_the_history_names_what_the_visitor_did_with_each_movie(catalog, store, visitor):
    train_version("ease")
    clicked, viewed, opened, liked, dismissed, rated, liked_after_rating = movie_pks(7)
    visitor.click(clicked)
    visitor.post_events([{"type": "view", "movie_id": viewed}])
    # A poster click and the detail view it leads to: the click names it, whichever arrived last.
    visitor.post_events([{"type": "view", "movie_id": opened}, {"type": "click", "movie_id": opened}])
    visitor.post_events([{"type": "view", "movie_id": opened}])
    visitor.post_events([{"type": "like", "movie_id": liked}])
    visitor.click(dismissed)
    visitor.post_events([{"type": "not_interested", "movie_id": dismissed}])
    visitor.click(rated)
    visitor.rate(rated, 3.5)
    visitor.rate(liked_after_rating, 2)
    visitor.post_events([{"type": "like", "movie_id": liked_after_rating}])  # the newest verdict names it

    entries = history_entries(visitor.client.get("/movie/ease").content.decode())
    assert entries == [
        (liked_after_rating, "liked"),
        (rated, "rated ★ 3.5"),
        (dismissed, "not interested"),
        (liked, "liked"),
        (opened, "clicked"),
        (viewed, "viewed"),
        (clicked, "clicked"),
    ]
    # A new label in the same order is a new page, not the cached one.
    newest = movie_pks(8)[-1]
    visitor.post_events([{"type": "view", "movie_id": newest}])
    assert history_entries(visitor.client.get("/movie/ease").content.decode())[0] == (newest, "viewed")
    visitor.click(newest)
    assert history_entries(visitor.client.get("/movie/ease").content.decode())[0] == (newest, "clicked")


@pytest.mark.parametrize(
    "model_name, slug",
    [
        ("ngcf", "neural-graph-collaborative-filtering"),
        ("neumf", "neural-collaborative-filtering"),
        ("gmf", "neural-collaborative-filtering"),
        ("ease", "embarrassingly-shallow-autoencoders"),
    ],
)
def test_the_page_links_to_its_paper_review(catalog, client, model_name, slug):
    html = client.get(f"/movie/{model_name}").content.decode()
    assert f'href="/paper_review/{slug}/"' in html
    assert client.get(f"/paper_review/{slug}/").status_code == 200


def test_no_history_shows_the_popular_list_and_an_invitation(trained, visitor):
    response = visitor.client.get("/movie/gmf")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-fallback="no-history"' in html and "Click or rate a few movies" in html
    most_rated = list(Movie.objects.order_by("-rating_count", "pk").values_list("pk", flat=True)[:10])
    assert card_ids(html, "recommendations") == most_rated
    assert "Nothing yet" in html


def test_untrained_model_falls_back_with_a_notice(catalog, visitor):
    visitor.click(movie_pks(1)[0])
    response = visitor.client.get("/movie/neumf")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-fallback="not-trained"' in html and "not trained yet" in html
    assert len(card_ids(html, "recommendations")) == 10


def test_unknown_model_is_a_404(catalog, client):
    response = client.get("/movie/svd")
    assert response.status_code == 404
    assert "There is no model called &#x27;svd&#x27;." in response.content.decode()
    assert client.get("/movie/mlp").status_code == 404  # trained, but not served on its own


def test_a_broken_artifact_is_logged_and_falls_back(trained, visitor, caplog, tmp_path):
    version = trained["gmf"]
    with open(version.artifact_uri.removeprefix("file://"), "r+b") as artifact:
        artifact.seek(100)
        artifact.write(b"corrupted")
    visitor.click(movie_pks(1)[0])
    response = visitor.client.get("/movie/gmf")
    assert response.status_code == 200
    assert 'data-fallback="failed"' in response.content.decode()
    assert "could not recommend" in caplog.text


def test_activating_another_version_switches_without_restart(trained, visitor):
    visitor.click(movie_pks(1)[0])
    assert trained["gmf"].label in visitor.client.get("/movie/gmf").content.decode()
    newer = train_version("gmf", activate=False, seed=1)
    newer.activate()
    html = visitor.client.get("/movie/gmf").content.decode()
    assert newer.label in html and trained["gmf"].label not in html


def test_the_same_history_gives_the_same_list_and_is_cached(trained, visitor):
    for pk in movie_pks(3):
        visitor.click(pk)
    first = visitor.client.get("/api/recommendations", {"model": "ngcf"}).json()
    serving.reset_predictors()  # a fresh process: fold-in runs again
    again = visitor.client.get("/api/recommendations", {"model": "ngcf"}).json()
    assert [r["movie_id"] for r in first["recommendations"]] == [r["movie_id"] for r in again["recommendations"]]
    predictor = serving.get_predictor("ngcf")
    assert len(predictor._cache) == 1
    visitor.client.get("/api/recommendations", {"model": "ngcf"})
    assert len(predictor._cache) == 1  # served from the cache


def test_json_endpoint(trained, visitor):
    clicked = movie_pks(2)
    for pk in clicked:
        visitor.click(pk)
    body = visitor.client.get("/api/recommendations", {"model": "neumf", "k": "5"}).json()
    assert body["model"] == "neumf" and body["version"] == trained["neumf"].label and body["fallback"] is None
    assert len(body["recommendations"]) == 5
    assert not {r["movie_id"] for r in body["recommendations"]} & set(clicked)
    assert set(body["recommendations"][0]) == {"movie_id", "title", "year", "url", "score", "because"}
    for entry in body["recommendations"]:
        movie = Movie.objects.get(pk=entry["movie_id"])
        assert (entry["title"], entry["year"], entry["url"]) == (movie.title, movie.year, movie.get_absolute_url())
    assert body["history"] == clicked


@pytest.mark.parametrize(
    "query, message",
    [
        ({"model": "svd"}, "model must be one of"),
        ({}, "model must be one of"),
        ({"model": "gmf", "k": "0"}, "k must be a whole number"),
        ({"model": "gmf", "k": "abc"}, "k must be a whole number"),
        ({"model": "gmf", "k": "1000"}, "k must be a whole number"),
    ],
)
def test_json_endpoint_bad_input(catalog, client, query, message):
    response = client.get("/api/recommendations", query)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_pages_do_not_create_sessions_for_bots(catalog, client):
    client.get("/movie/gmf")
    assert "sessionid" not in client.cookies


def test_popular_now_weights_recent_site_events(catalog, visitor):
    quiet = Movie.objects.order_by("rating_count", "pk").first()  # the least rated movie
    for _ in range(3):
        Browser().click(quiet.pk)
    cache.clear()
    html = visitor.client.get("/movie/gmf").content.decode()
    assert quiet.pk in card_ids(html, "popular")[:3]


def test_model_versions_keep_one_active(trained):
    assert ModelVersion.objects.filter(status="active").count() == len(MODELS)


# "Viewers also watched" on a movie's page (predictors/related.py)


def also_watched_ids(html):
    return card_ids(html, "also-watched") if 'class="also-watched"' in html else None


def test_a_movie_page_shows_what_its_viewers_also_watched(catalog, store, client):
    train_version("ease")
    movies = list(Movie.objects.order_by("source_id"))  # index i is watched by the users whose step divides i
    html = client.get(movies[3].get_absolute_url()).content.decode()
    shown = also_watched_ids(html)
    assert "Viewers also watched" in html and "by EASE" in html
    assert len(shown) == 6 and movies[3].pk not in shown
    # Movie 4 (index 3) is watched by the step-1 and step-3 users only, and the
    # step-3 users watch nothing but multiples of 3.
    assert all(Movie.objects.get(pk=pk).source_id % 3 == 1 for pk in shown)
    assert shown == serving.recommend("ease", [movies[3].pk], k=6).movie_ids


def test_the_configured_model_answers_also_watched(catalog, store, client, settings):
    train_version("ease")
    train_version("gmf")
    settings.ALSO_WATCHED_MODEL = "gmf"
    html = client.get(Movie.objects.first().get_absolute_url()).content.decode()
    assert "by GMF" in html and len(also_watched_ids(html)) == 6


@pytest.mark.parametrize("setting", ["ease", "", "svd"])
def test_no_also_watched_section_without_a_model(catalog, store, client, settings, setting):
    """Not trained, switched off, or misconfigured on a server that skips the
    system checks: no popularity stand-in, and the page still works."""
    settings.ALSO_WATCHED_MODEL = setting
    response = client.get(Movie.objects.first().get_absolute_url())
    assert response.status_code == 200
    assert also_watched_ids(response.content.decode()) is None


def test_a_failing_also_watched_model_leaves_the_section_out(catalog, store, client, caplog):
    version = train_version("ease")
    with open(version.artifact_uri.removeprefix("file://"), "r+b") as artifact:
        artifact.seek(100)
        artifact.write(b"corrupted")
    response = client.get(Movie.objects.first().get_absolute_url())
    assert response.status_code == 200
    assert also_watched_ids(response.content.decode()) is None
    assert "could not recommend" in caplog.text


def test_an_unknown_also_watched_model_fails_the_system_check(settings):
    from predictors.checks import check_also_watched_model

    settings.ALSO_WATCHED_MODEL = "svd"
    (error,) = check_also_watched_model(None)
    assert error.id == "predictors.E001" and "'svd'" in error.msg
    settings.ALSO_WATCHED_MODEL = "ngcf"
    assert check_also_watched_model(None) == []
