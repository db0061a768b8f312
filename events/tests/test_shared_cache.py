"""The limits and read-your-writes live in a shared Redis (REDIS_URL) when
configured: what one process counted, another process sees."""

import time
from types import SimpleNamespace

import pytest
from django.core.cache import caches

from events import ingest
from events.models import ClickEvent
from movie.models import Movie
from tests.services import Browser, redis_cache, redis_server  # noqa: F401


@pytest.fixture
def movie(catalog):
    return Movie.objects.filter(dataset=catalog).order_by("pk").first()


def as_a_new_process():
    """Forget every cache connection and in-memory cache, as another worker would start."""
    caches.close_all()
    for alias in caches.settings:
        if hasattr(caches._connections, alias):
            delattr(caches._connections, alias)


def test_the_visitor_limit_holds_across_processes(redis_cache, settings, movie):
    settings.EVENTS_RATE_LIMIT = 5
    browser = Browser()
    assert [browser.click(movie.pk).status_code for _ in range(3)] == [202] * 3
    as_a_new_process()
    assert [browser.click(movie.pk).status_code for _ in range(3)] == [202, 202, 429]
    assert ClickEvent.objects.count() == 5


def test_a_burst_across_a_windows_turn_gets_no_second_allowance(redis_cache, settings, movie, monkeypatch):
    settings.EVENTS_RATE_LIMIT, settings.EVENTS_RATE_WINDOW_SECONDS = 5, 60
    turn = (int(time.time() // 60) + 1) * 60
    clock = SimpleNamespace(time=lambda: turn - 1.0)
    monkeypatch.setattr(ingest, "time", clock)
    browser = Browser()
    before_the_turn = [browser.click(movie.pk).status_code for _ in range(5)]
    clock.time = lambda: turn + 1.0  # the previous window still weighs 59/60
    after_the_turn = [browser.click(movie.pk).status_code for _ in range(2)]
    assert before_the_turn == [202] * 5 and after_the_turn == [429, 429]
    assert Browser().click(movie.pk).status_code == 202  # another visitor has their own allowance
    assert ClickEvent.objects.count() == 6


def test_the_address_limit_holds_across_processes_and_cookies(redis_cache, settings, movie):
    settings.EVENTS_RATE_LIMIT, settings.EVENTS_RATE_LIMIT_PER_ADDRESS = 100, 4
    statuses = []
    for _ in range(3):
        statuses += [Browser().click(movie.pk).status_code for _ in range(2)]
        as_a_new_process()
    assert statuses == [202] * 4 + [429] * 2


def test_a_redis_that_is_down_lets_events_through(settings, catalog, movie):
    from tests.services import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    browser = Browser()
    assert browser.click(movie.pk).status_code == 202
    assert ClickEvent.objects.count() == 1
