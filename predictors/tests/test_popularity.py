""" "Popular now": distinct recent visitors blended with the dataset's
popularity, read from the click-log store's counters (either store), computed
once per interval."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.records import new_event
from events.stores import get_store
from movie.models import Movie
from predictors import popularity
from tests.services import Browser, dynamodb_server, dynamodb_store  # noqa: F401


@pytest.fixture(autouse=True)
def cold_cache():
    cache.clear()
    yield
    cache.clear()


def dataset_order():
    return list(Movie.objects.order_by("-rating_count", "pk").values_list("pk", flat=True))


def least_rated():
    return Movie.objects.order_by("rating_count", "pk").first()


def test_a_quiet_site_shows_the_datasets_favourites(catalog):
    assert popularity.popular_movie_ids(10) == dataset_order()[:10]


def test_one_visitor_clicking_again_and_again_is_one_visitor(catalog):
    quiet, browser = least_rated(), Browser()
    for _ in range(50):
        assert browser.click(quiet.pk).status_code == 202
    assert get_store().popular_counts(timezone.now() - timedelta(hours=1), timezone.now()) == {quiet.pk: 1}
    assert quiet.pk not in popularity.popular_movie_ids(10)


def test_visitors_gathering_around_a_movie_lift_it_to_the_top(catalog, settings):
    quiet = least_rated()
    for _ in range(settings.POPULAR_DATASET_VOTES + 1):
        Browser().click(quiet.pk)
    assert popularity.popular_movie_ids(1) == [quiet.pk]


def test_activity_older_than_the_window_no_longer_counts(catalog, settings):
    quiet, long_ago = least_rated(), timezone.now() - timedelta(hours=settings.POPULAR_WINDOW_HOURS + 2)
    get_store().write([new_event(f"session:{n}", "click", quiet.pk, now=long_ago) for n in range(20)])
    assert popularity.popular_movie_ids(10) == dataset_order()[:10]


def test_popular_now_counts_visitors_on_dynamodb_too(catalog, dynamodb_store, settings):
    quiet = least_rated()
    for _ in range(settings.POPULAR_DATASET_VOTES + 1):
        assert Browser().click(quiet.pk).status_code == 202
    assert popularity.popular_movie_ids(1) == [quiet.pk]


def test_the_ranking_never_reads_the_raw_click_log(catalog):
    for movie in Movie.objects.all()[:5]:
        Browser().click(movie.pk)
    with CaptureQueriesContext(connection) as queries:
        popularity.popular_ranking()
    assert queries.captured_queries and not [q for q in queries if "movie_clickevent" in q["sql"]]


def test_one_computation_per_interval_and_the_old_list_while_another_process_computes(catalog, settings, monkeypatch):
    computed = []
    real = popularity.compute_ranking
    monkeypatch.setattr(popularity, "compute_ranking", lambda: computed.append(1) or real())
    first = popularity.popular_ranking()
    assert popularity.popular_ranking() == first and len(computed) == 1  # fresh: from the cache

    key = f"popular-ranking:{settings.MOVIELENS_DATASET}"
    stale_at = cache.get(key)[0] - settings.POPULAR_CACHE_SECONDS - 1
    cache.set(key, (stale_at, first))
    cache.add(f"{key}:computing", True)  # another process is at it
    quiet = least_rated()
    for _ in range(settings.POPULAR_DATASET_VOTES + 1):
        Browser().click(quiet.pk)
    assert popularity.popular_ranking() == first and len(computed) == 1

    cache.delete(f"{key}:computing")  # it finished without storing (it died): the next request recomputes
    assert popularity.popular_ranking()[0] == quiet.pk and len(computed) == 2
