"""Events through a real Kafka-compatible broker (tansu): endpoint -> topic ->
consume_events -> SQL store -> visitor history, and the faults around it."""
import io
import os
import signal
import threading
import time

import pytest
from django.core.management import call_command
from kafka import KafkaProducer

from movie import events
from movie.consumer import ClickLogConsumer
from movie.event_record import new_event, to_message
from movie.models import ClickEvent, DeadLetter, Movie, OutboxEvent
from tests.services import Browser, configure_kafka, kafka_broker, kafka_events, private_kafka_broker  # noqa: F401


@pytest.fixture
def movies(catalog):
    return list(Movie.objects.filter(dataset=catalog).order_by("pk")[:5])


def consume_until(condition, max_seconds=30):
    consumer = ClickLogConsumer(progress_seconds=0.5, poll_timeout_ms=200)
    return consumer.run(until=condition, max_seconds=max_seconds)


def stored(count):
    return lambda: ClickEvent.objects.count() >= count


def raw_producer(broker):
    return KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")


def test_clicks_travel_through_kafka_to_the_store_and_history(kafka_events, movies):
    browser = Browser()
    posted = []
    for movie in movies:
        response = browser.post_events([{"type": "click", "movie_id": movie.pk}, {"type": "view", "movie_id": movie.pk}])
        assert response.status_code == 202
        posted += response.json()["ids"]
    browser.rate(movies[0].pk, 4)
    browser.rate(movies[0].pk, 2.5)
    key = browser.visitor_key()
    # Read-your-writes: visible before any consumer ran.
    assert len(events.visitor_history(key)) == 12
    assert events.visitor_ratings(key) == {movies[0].pk: 2.5}
    assert ClickEvent.objects.count() == 0

    events.get_producer().flush()
    stats = consume_until(stored(12))
    assert stats.stored == 12 and stats.dead_lettered == 0
    assert OutboxEvent.objects.count() == 0
    assert set(posted) <= {str(e.event_id) for e in ClickEvent.objects.all()}
    history = events.visitor_history(key)
    assert len(history) == 12 and history[0].rating == 2.5
    assert [h.timestamp for h in history] == sorted((h.timestamp for h in history), reverse=True)
    assert events.visitor_ratings(key) == {movies[0].pk: 2.5}


def test_the_same_message_twice_is_stored_once_and_junk_is_dead_lettered(kafka_events, settings, movies):
    good = new_event("session:abc", "click", movies[0].pk)
    key, value = to_message(good)
    producer = raw_producer(kafka_events)
    from movie.kafka_io import ensure_topic

    ensure_topic()
    for payload in (value, b"{not json", value, b'{"schema": 99}', b'{"schema": 1, "event_id": "x"}'):
        producer.send(settings.KAFKA_TOPIC, key=key, value=payload)
    later = new_event("session:abc", "rating", movies[1].pk, 4.0)
    producer.send(settings.KAFKA_TOPIC, *reversed(to_message(later)))
    producer.flush()
    producer.close()

    stats = consume_until(lambda: ClickEvent.objects.count() >= 2 and DeadLetter.objects.count() >= 3)
    assert ClickEvent.objects.filter(event_id=good.event_id).count() == 1
    assert ClickEvent.objects.count() == 2
    reasons = sorted(DeadLetter.objects.values_list("reason", flat=True))
    assert len(reasons) == 3
    assert any("not JSON" in r for r in reasons) and any("unknown schema version 99" in r for r in reasons)
    assert any("badly formed hexadecimal UUID" in r or "event_id" in r for r in reasons)
    assert stats.dead_lettered == 3


def test_broker_down_and_restarted_mid_stream_loses_and_doubles_nothing(settings, private_kafka_broker, movies):
    configure_kafka(settings, private_kafka_broker)
    browser = Browser()
    posted = []

    def post_clicks(n):
        for i in range(n):
            started = time.monotonic()
            response = browser.click(movies[i % len(movies)].pk)
            assert response.status_code == 202
            assert time.monotonic() - started < 1.0, "a click must not wait for the broker"
            posted.extend(response.json()["ids"])

    post_clicks(10)
    events.get_producer().flush()
    consume_until(stored(10))

    private_kafka_broker.stop()
    post_clicks(10)  # accepted while the broker is down: they wait in the outbox
    assert OutboxEvent.objects.count() == 10
    assert len(events.visitor_history(browser.visitor_key())) == 20

    private_kafka_broker.start()  # same port, empty (memory storage): offsets are gone too
    post_clicks(10)
    consume_until(stored(30), max_seconds=60)

    stored_ids = list(ClickEvent.objects.values_list("event_id", flat=True))
    assert sorted(map(str, stored_ids)) == sorted(posted)
    assert OutboxEvent.objects.count() == 0


def test_sigterm_finishes_the_batch_commits_and_exits(kafka_events, settings, movies):
    browser = Browser()
    for movie in movies:
        browser.click(movie.pk)
    events.get_producer().flush()
    previous_handler = signal.getsignal(signal.SIGTERM)
    threading.Timer(6.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    out = io.StringIO()
    started = time.monotonic()
    call_command("consume_events", "--max-seconds", "30", "--progress-seconds", "1", stdout=out)
    assert time.monotonic() - started < 15
    assert ClickEvent.objects.count() == len(movies)
    assert "Stopped: 5 messages" in out.getvalue()
    assert "consume_events:" in out.getvalue()  # periodic progress with lag
    assert signal.getsignal(signal.SIGTERM) == previous_handler

    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    committed = admin.list_group_offsets(settings.KAFKA_CONSUMER_GROUP)[settings.KAFKA_CONSUMER_GROUP]
    admin.close()
    assert sum(meta.offset for meta in committed.values()) == len(movies)


def test_consume_events_explains_a_missing_broker_setting(settings):
    from django.core.management.base import CommandError

    settings.KAFKA_BOOTSTRAP_SERVERS = []
    with pytest.raises(CommandError, match="KAFKA_BOOTSTRAP_SERVERS is not set"):
        call_command("consume_events")


def test_consume_events_explains_an_unreachable_broker(settings):
    from django.core.management.base import CommandError

    from tests.services import free_port

    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]
    settings.KAFKA_CONNECT_TIMEOUT_MS = 500
    with pytest.raises(CommandError, match="is unreachable"):
        call_command("consume_events", stdout=io.StringIO())


def test_batches_shrink_for_a_slow_store_and_grow_back(settings):
    settings.KAFKA_MAX_POLL_INTERVAL_MS = 4000  # one batch may take at most 1 s
    consumer = ClickLogConsumer(store=object(), max_records=1000)
    consumer._fit_batch_limit(2.0)
    consumer._fit_batch_limit(1.5)
    assert consumer.batch_limit == 250
    consumer._fit_batch_limit(0.05)
    assert consumer.batch_limit == 500
