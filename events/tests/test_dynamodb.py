"""The DynamoDB click-log store on a real moto server: through Kafka, inline,
idempotent writes, and an outage that is waited out."""

import io
import threading
import time

import pytest
from django.core.management import call_command

from events.consumer import ClickLogConsumer
from events.history import visitor_history, visitor_ratings
from events.models import ClickEvent, OutboxEvent
from events.producers import get_producer
from events.records import new_event
from events.stores import StoreUnavailable
from movie.models import Movie
from tests.services import Browser, dynamodb_server, dynamodb_store, kafka_broker, kafka_events  # noqa: F401


@pytest.fixture
def movies(catalog):
    return list(Movie.objects.filter(dataset=catalog).order_by("pk")[:4])


def stored_count(store, key):
    return len(store.history([key], 1000))


def test_events_reach_dynamodb_through_kafka(kafka_events, dynamodb_store, movies):
    browser = Browser()
    for movie in movies:
        assert browser.click(movie.pk).status_code == 202
    browser.rate(movies[1].pk, 1.5)
    key = browser.visitor_key()
    assert len(visitor_history(key)) == 5  # read-your-writes from the outbox
    get_producer().flush()

    consumer = ClickLogConsumer(progress_seconds=0.5, poll_timeout_ms=200)
    consumer.run(until=lambda: stored_count(dynamodb_store, key) >= 5, max_seconds=30)

    items = dynamodb_store.history([key], 100)
    assert len(items) == 5 and OutboxEvent.objects.count() == 0 and ClickEvent.objects.count() == 0
    assert items[0].event_type == "rating" and items[0].rating == 1.5
    assert visitor_ratings(key) == {movies[1].pk: 1.5}
    assert [e.event_id for e in visitor_history(key)] == [e.event_id for e in items]


def test_writing_the_same_event_twice_keeps_one_item(dynamodb_store, movies):
    event = new_event("session:twice", "view", movies[0].pk)
    same_second = new_event("session:twice", "view", movies[0].pk, now=event.timestamp)
    dynamodb_store.write([event])
    dynamodb_store.write([event, same_second])
    assert {e.event_id for e in dynamodb_store.history(["session:twice"], 10)} == {event.event_id, same_second.event_id}


def test_dynamodb_outage_inline_keeps_events_until_drained(dynamodb_server, dynamodb_store, movies):
    browser = Browser()
    browser.open()
    dynamodb_server.stop()
    try:
        started = time.monotonic()
        response = browser.click(movies[0].pk)
        assert response.status_code == 202 and time.monotonic() - started < 2
        assert OutboxEvent.objects.count() == 1
        key = browser.visitor_key()
        assert [e.movie_id for e in visitor_history(key)] == [movies[0].pk]
    finally:
        dynamodb_server.start()
    call_command("drain_outbox", "--all", stdout=io.StringIO())
    assert OutboxEvent.objects.count() == 0
    assert stored_count(dynamodb_store, key) == 1


def test_consumer_waits_out_a_dynamodb_outage(kafka_events, dynamodb_server, dynamodb_store, movies):
    browser = Browser()
    for movie in movies:
        browser.click(movie.pk)
    key = browser.visitor_key()
    get_producer().flush()
    dynamodb_server.stop()
    threading.Timer(4.0, dynamodb_server.start).start()
    consumer = ClickLogConsumer(progress_seconds=0.5, poll_timeout_ms=200)
    consumer.run(until=lambda: consumer.stats.stored >= len(movies), max_seconds=40)
    assert dynamodb_server.running
    assert stored_count(dynamodb_store, key) == len(movies)
    assert OutboxEvent.objects.count() == 0


def test_store_gives_up_with_store_unavailable_after_its_retries(dynamodb_server, dynamodb_store, movies):
    dynamodb_server.stop()
    try:
        with pytest.raises(StoreUnavailable, match="failed 3 times"):
            dynamodb_store.write([new_event("session:x", "click", movies[0].pk)])
    finally:
        dynamodb_server.start()


def test_create_dynamodb_table_command_is_repeatable(dynamodb_store):
    out = io.StringIO()
    call_command("create_dynamodb_table", "--table", "created-by-command", stdout=out)
    call_command("create_dynamodb_table", "--table", "created-by-command", stdout=out)
    assert "Created DynamoDB table created-by-command" in out.getvalue()
    assert "already exists" in out.getvalue()
