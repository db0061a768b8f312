"""Everything the site asks of the click log, asked of both stores: SQL and
DynamoDB (on a real moto server)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from events.records import new_event
from events.stores import get_store
from events.stores.sql import SqlClickLogStore
from tests.services import dynamodb_server, dynamodb_store  # noqa: F401

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # on an hour's boundary


@pytest.fixture(params=["sql", "dynamodb"])
def store(request, db):
    if request.param == "sql":
        return SqlClickLogStore()
    return request.getfixturevalue("dynamodb_store")


def at(minutes_ago):
    return NOW - timedelta(minutes=minutes_ago)


def event(visitor, kind, movie_id, minutes_ago, rating=None):
    return new_event(visitor, kind, movie_id, rating if kind == "rating" else None, now=at(minutes_ago))


def test_a_redelivered_event_is_stored_once(store):
    first = event("session:a", "click", 1, 5)
    store.write([first])
    store.write([first, event("session:a", "view", 1, 4)])
    assert [e.event_type for e in store.history(["session:a"], 10)] == ["view", "click"]


def test_history_is_newest_first_and_filtered(store):
    store.write(
        [
            event("session:a", "click", 1, 30),
            event("session:a", "rating", 2, 20, 4.0),
            event("session:a", "view", 3, 10),
            event("user:7", "click", 4, 15),
            event("session:b", "click", 5, 1),
        ]
    )
    assert [e.movie_id for e in store.history(["session:a", "user:7"], 10)] == [3, 4, 2, 1]
    assert [e.movie_id for e in store.history(["session:a"], 2)] == [3, 2]
    assert [e.movie_id for e in store.history(["session:a"], 10, event_types=("click", "view"))] == [3, 1]
    assert [e.movie_id for e in store.history(["session:a", "user:7"], 10, since=at(20))] == [3, 4, 2]
    [rating] = store.history(["session:a"], 10, event_types=("rating",))
    assert (rating.rating, rating.timestamp, rating.visitor_key) == (4.0, at(20), "session:a")


def test_the_latest_rating_of_one_movie_among_many(store):
    store.write([event("session:a", "rating", 1, 50, 2.0)])
    store.write([event("session:a", "rating", movie_id, 40, 5.0) for movie_id in range(2, 40)])
    store.write([event("user:7", "rating", 1, 30, 3.5), event("session:b", "rating", 1, 1, 1.0)])
    store.write([event("session:a", "rating", 1, 45, 4.5)])  # arrives late, but is older than user:7's
    assert store.latest_rating(["session:a"], 1).rating == 4.5
    latest = store.latest_rating(["user:7", "session:a"], 1)  # a user and the session they used before
    assert (latest.rating, latest.timestamp, latest.movie_id) == (3.5, at(30), 1)
    assert store.latest_rating(["session:a"], 99) is None
    assert store.latest_rating(["session:nobody"], 1) is None


def test_popular_counts_distinct_visitors_per_movie_and_bucket(store):
    store.write([event("session:a", kind, 1, 5) for kind in ("click", "view", "click")])  # one visitor, one vote
    store.write([event("session:b", "click", 1, 6), event("session:b", "click", 2, 6)])
    store.write([event("session:a", "click", 1, 65)])  # the previous hour: another vote
    store.write([event("session:c", "click", 3, 3 * 60 + 5)])  # before the window below
    assert store.popular_counts(at(3 * 60), NOW) == {1: 3, 2: 1}
    assert store.popular_counts(at(30), NOW) == {1: 2, 2: 1}
    assert store.popular_counts(at(4 * 60), NOW) == {1: 3, 2: 1, 3: 1}


def test_redelivered_events_do_not_vote_again(store):
    batch = [event(f"session:{visitor}", "click", 1, 5) for visitor in "abc"]
    store.write(batch)
    store.write(batch)
    store.write([event("session:a", "rating", 1, 2, 4.0)])  # a new event of a visitor who voted already
    assert store.popular_counts(at(60), NOW) == {1: 3}


def test_a_bucket_size_of_ten_minutes_counts_a_visitor_once_per_ten_minutes(store, settings):
    settings.POPULAR_BUCKET_MINUTES = 10
    store.write([event("session:a", "click", 1, minutes) for minutes in (1, 2, 11, 12, 21)])
    assert store.popular_counts(at(30), NOW) == {1: 3}


def test_event_counts_per_type_for_the_last_hour_and_day(store):
    minutes_ago = {"click": [5, 61, 23 * 60, 25 * 60], "view": [50], "rating": [59]}
    store.write([event("session:count", kind, 1, m, 3.0) for kind, ago in minutes_ago.items() for m in ago])
    counts = store.event_counts({"hour": at(60), "day": at(24 * 60)}, NOW)
    assert counts == {"hour": {"click": 1, "view": 1, "rating": 1}, "day": {"click": 3, "view": 1, "rating": 1}}


@pytest.mark.parametrize(
    ("setting", "store_class"),
    [("events.stores.sql", "SqlClickLogStore"), ("sql", "SqlClickLogStore"), ("dynamodb", "DynamoDbClickLogStore")],
)
def test_the_setting_names_a_store_module_or_an_old_short_name(settings, setting, store_class):
    settings.CLICKLOG_STORE = setting
    assert type(get_store()).__name__ == store_class


def test_an_unknown_store_is_refused_with_a_sentence(settings):
    settings.CLICKLOG_STORE = "events.stores.cassandra"
    with pytest.raises(ImproperlyConfigured, match="CLICKLOG_STORE must name a module with a Store class"):
        get_store()
