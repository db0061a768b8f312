"""Everything the site asks of the click log, asked of both stores: SQL and
DynamoDB (on a real moto server)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from events.models import ClickEvent, OutboxEvent
from events.records import EVENT_TYPES, new_event
from events.rows import events_from, newest_events, newest_events_of_tables
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


@pytest.mark.parametrize("model", [ClickEvent, OutboxEvent])
def test_no_visitors_or_a_limit_of_zero_is_no_events(db, model):
    SqlClickLogStore().write([event("session:a", "click", 1, 5)])
    assert newest_events(model, [], 10) == []
    assert newest_events(model, ["session:a"], 0) == []


@pytest.mark.parametrize("model", [ClickEvent, OutboxEvent])
def test_a_history_read_gives_back_each_event_as_it_was_written(db, model):
    # The read converts the stored columns itself (rows._column_readers); the ORM's reading is the reference.
    written = [
        new_event("session:a", "rating", 7, 4.5, now=NOW.replace(microsecond=123456), details={"from": "card"}),
        new_event("session:a", "click", 8, now=at(1).replace(microsecond=0)),
    ]
    if model is ClickEvent:
        SqlClickLogStore().write(written)
    else:
        OutboxEvent.objects.bulk_create(OutboxEvent(**vars(one), last_sent_at=NOW) for one in written)
    read = newest_events(model, ["session:a"], 10)
    assert read == events_from(model.objects.order_by("-timestamp"))
    assert [(one.event_id, one.timestamp, one.details) for one in read] == [
        (one.event_id, one.timestamp, one.details) for one in written
    ]
    # Both tables in one statement, as a page reads them (the driver may then parse the times itself).
    together = newest_events_of_tables((ClickEvent, OutboxEvent), ["session:a"], 10)
    assert sorted(together, key=lambda one: one.time_order, reverse=True) == read


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
    zeros = dict.fromkeys(EVENT_TYPES, 0)
    assert counts == {
        "hour": {**zeros, "click": 1, "view": 1, "rating": 1},
        "day": {**zeros, "click": 3, "view": 1, "rating": 1},
    }


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


def test_a_client_retry_with_the_same_id_is_stored_once_and_another_visitor_may_reuse_it(store):
    first = event("session:a", "click", 1, 5)
    retry = new_event("session:a", "click", 1, now=at(4), event_id=first.event_id)  # accepted again, later
    stranger = new_event("session:b", "click", 2, now=at(3), event_id=first.event_id)
    store.write([first])
    store.write([retry, stranger])
    assert [(e.event_id, e.timestamp) for e in store.history(["session:a"], 10)] == [(first.event_id, at(5))]
    assert [e.movie_id for e in store.history(["session:b"], 10)] == [2]


def test_new_event_types_details_and_an_impression_without_a_movie(store):
    shown = {"experiment": 3, "surface": "top_picks", "shown": [4, 5, 6], "credits": ["a", "b", "a"]}
    store.write(
        [
            new_event("session:a", "impression", None, now=at(9), details=shown),
            event("session:a", "like", 4, 8),
            event("session:a", "not_interested", 5, 7),
            new_event("session:a", "click", 6, now=at(6), details={"impression": "x"}),
        ]
    )
    found = store.history(["session:a"], 10)
    assert [(e.event_type, e.movie_id) for e in found] == [
        ("click", 6),
        ("not_interested", 5),
        ("like", 4),
        ("impression", None),
    ]
    assert found[0].details == {"impression": "x"} and found[3].details == shown and found[1].details == {}
    # Likes vote for "Popular now"; not_interested and impressions do not.
    assert store.popular_counts(at(60), NOW) == {4: 1, 6: 1}


def test_a_cleared_rating_is_the_latest_until_a_new_rating(store):
    store.write([event("session:a", "rating", 1, 30, 4.0), event("session:a", "rating_cleared", 1, 20)])
    latest = store.latest_rating(["session:a"], 1)
    assert (latest.event_type, latest.rating) == ("rating_cleared", None)
    store.write([event("session:a", "rating", 1, 10, 2.5)])
    assert store.latest_rating(["session:a"], 1).rating == 2.5


def test_deleting_some_events_of_a_visitor_keeps_the_rest_and_other_visitors(store):
    click, rating, view = event("session:a", "click", 1, 30), event("session:a", "rating", 2, 20, 4.0), None
    older_rating = event("session:a", "rating", 2, 25, 1.5)
    view = event("session:a", "view", 3, 10)
    twin = new_event("session:b", "click", 1, now=at(30), event_id=click.event_id)  # same id, other visitor
    store.write([click, older_rating, rating, view, twin])
    assert store.delete_visitor_events("session:a", [click.event_id, rating.event_id, "not-a-uuid"]) == 2
    assert [e.event_id for e in store.history(["session:a"], 10)] == [view.event_id, older_rating.event_id]
    assert [e.event_id for e in store.history(["session:b"], 10)] == [twin.event_id]
    assert store.latest_rating(["session:a"], 2).rating == 1.5  # falls back to the older rating
    # session:a's vote for movie 1 is withdrawn; session:b's stays; movie 2 is still backed by the older rating.
    assert store.popular_counts(at(60), NOW) == {1: 1, 2: 1, 3: 1}
    assert store.delete_visitor_events("session:a", [click.event_id]) == 0


def test_deleting_all_events_of_a_visitor(store):
    store.write([event("session:a", "click", m, 10 + m) for m in (1, 2)] + [event("session:a", "rating", 3, 5, 5.0)])
    store.write([event("session:b", "click", 1, 3)])
    assert store.delete_visitor_events("session:a") == 3
    assert store.history(["session:a"], 10) == [] and store.latest_rating(["session:a"], 3) is None
    assert store.popular_counts(at(60), NOW) == {1: 1}
    assert len(store.history(["session:b"], 10)) == 1
    assert store.delete_visitor_events("session:a") == 0
    assert store.delete_visitor_events("session:a", []) == 0
