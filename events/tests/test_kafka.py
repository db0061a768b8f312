"""Events through a real Kafka-compatible broker (tansu): endpoint -> topic ->
consume_events -> SQL store -> visitor history, and the faults around it."""

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DataError
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from events import outbox
from events.consumer import ClickLogConsumer
from events.history import visitor_history, visitor_ratings
from events.kafka_io import ConfirmedSender, ensure_topic, new_producer, send_now
from events.models import ClickEvent, DeadLetter, OutboxEvent, SetAsideEvents
from events.producers import get_producer
from events.records import from_message, new_event, to_message
from events.stores import get_store
from movie.models import Movie
from tests.services import (  # noqa: F401
    REPO_DIR,
    Browser,
    configure_kafka,
    kafka_broker,
    kafka_events,
    private_kafka_broker,
    site_process_env,
)

PYTHON = str(Path(sys.executable).parent / "python")


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
        response = browser.post_events(
            [{"type": "click", "movie_id": movie.pk}, {"type": "view", "movie_id": movie.pk}]
        )
        assert response.status_code == 202
        posted += response.json()["ids"]
    browser.rate(movies[0].pk, 4)
    browser.rate(movies[0].pk, 2.5)
    key = browser.visitor_key()
    # Read-your-writes: visible before any consumer ran.
    assert len(visitor_history(key)) == 12
    assert visitor_ratings(key) == {movies[0].pk: 2.5}
    assert ClickEvent.objects.count() == 0

    get_producer().flush()
    stats = consume_until(stored(12))
    # Outbox rows overdue while the consumer joined were sent twice: one row each all the same.
    assert ClickEvent.objects.count() == 12 and stats.dead_lettered == 0
    assert OutboxEvent.objects.count() == 0
    assert set(posted) <= {str(e.event_id) for e in ClickEvent.objects.all()}
    history = visitor_history(key)
    assert len(history) == 12 and history[0].rating == 2.5
    assert [h.timestamp for h in history] == sorted((h.timestamp for h in history), reverse=True)
    assert visitor_ratings(key) == {movies[0].pk: 2.5}


def test_the_same_message_twice_is_stored_once_and_junk_is_dead_lettered(kafka_events, settings, movies):
    good = new_event("session:abc", "click", movies[0].pk)
    key, value = to_message(good)
    producer = raw_producer(kafka_events)
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


def test_broker_down_and_restarted_mid_stream_loses_and_doubles_nothing(
    settings, private_kafka_broker, movies, monkeypatch
):
    configure_kafka(settings, private_kafka_broker)
    settings.KAFKA_WAIT_FOR_ACK = True  # each click waits for the broker: which wait it met is checked
    browser = Browser()
    posted = []
    # Which wait each click met, from the code path rather than the clock: "acked"
    # or "failed" (the send waited at most KAFKA_ACK_TIMEOUT_MS), "skipped" (the
    # broker had failed recently: straight to the outbox, no wait at all).
    outcomes, waits = [], set()
    real_send = ConfirmedSender.send

    def send(sender, *args, **kwargs):
        if sender is not get_producer().sender:  # the consumer's resender
            return real_send(sender, *args, **kwargs)
        try:
            real_send(sender, *args, **kwargs)
        except KafkaError:
            outcomes.append("failed")
            raise
        finally:
            if sender._producer is not None:
                config = sender._producer.config
                waits.add((config["bootstrap_timeout_ms"], config["max_block_ms"]))
        outcomes.append("acked")

    monkeypatch.setattr(ConfirmedSender, "send", send)

    def post_clicks(n):
        paths = []
        for i in range(n):
            sends = len(outcomes)
            response = browser.click(movies[i % len(movies)].pk)
            assert response.status_code == 202
            paths.append(outcomes[-1] if len(outcomes) > sends else "skipped")
            posted.extend(response.json()["ids"])
        return paths

    assert set(post_clicks(10)) == {"acked"}
    get_producer().flush()
    consume_until(stored(10))

    private_kafka_broker.stop()
    down = post_clicks(10)  # accepted while the broker is down: they wait in the outbox
    # One click finds the broker gone; the next ones skip it while it is known to be failing.
    assert "acked" not in down and down.index("failed") < down.index("skipped")
    assert get_producer().sender.recently_failed()
    assert OutboxEvent.objects.count() == 10
    assert len(visitor_history(browser.visitor_key())) == 20

    private_kafka_broker.start()  # same port, empty (memory storage): offsets are gone too
    post_clicks(10)
    consume_until(stored(30), max_seconds=60)

    # No click entered the broker's connect timeout: the producers the clicks used
    # bound their bootstrap and their blocking by the ack timeout.
    assert waits == {(settings.KAFKA_ACK_TIMEOUT_MS, settings.KAFKA_ACK_TIMEOUT_MS)}
    assert settings.KAFKA_ACK_TIMEOUT_MS < settings.KAFKA_CONNECT_TIMEOUT_MS
    stored_ids = list(ClickEvent.objects.values_list("event_id", flat=True))
    assert sorted(map(str, stored_ids)) == sorted(posted)
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)  # the outbox writer thread's rows must be visible here
def test_broker_down_and_restarted_under_the_hand_off_loses_and_doubles_nothing(settings, private_kafka_broker, movies):
    configure_kafka(settings, private_kafka_broker)
    assert not settings.KAFKA_WAIT_FOR_ACK  # the default: answered before the broker's ack
    browser = Browser()
    posted = []

    def post_clicks(n):
        for i in range(n):
            response = browser.click(movies[i % len(movies)].pk)
            assert response.status_code == 202
            posted.extend(response.json()["ids"])

    post_clicks(10)
    assert get_producer().flush(timeout=20)
    consume_until(stored(10))

    private_kafka_broker.stop()
    post_clicks(10)  # handed to a producer whose broker is gone, or (known failing) to the outbox
    assert get_producer().flush(timeout=30)  # every one refused by now and in the outbox
    assert OutboxEvent.objects.count() == 10
    assert len(visitor_history(browser.visitor_key())) == 20

    private_kafka_broker.start()  # same port, empty (memory storage): offsets and producer ids are gone
    time.sleep(settings.KAFKA_RETRY_SECONDS)  # past the failure: clicks are handed off again
    post_clicks(10)
    assert get_producer().flush(timeout=30)
    consume_until(lambda: ClickEvent.objects.count() >= 30 and OutboxEvent.objects.count() == 0, max_seconds=60)

    stored_ids = list(ClickEvent.objects.values_list("event_id", flat=True))
    assert sorted(map(str, stored_ids)) == sorted(posted)
    get_producer().close()
    assert list(settings.EVENTS_JOURNAL_DIR.iterdir()) == []  # every segment settled and deleted


@pytest.mark.django_db(transaction=True)  # clicks handed off while the broker is down reach the outbox from a thread
def test_a_running_consumer_recovers_from_a_broker_restart_by_itself(settings, private_kafka_broker, movies):
    """tansu's memory storage forgets topics, groups and offsets on a restart:
    the consumer must rejoin and the outbox fill the gap, with no one's help."""
    configure_kafka(settings, private_kafka_broker)
    settings.KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS = 5
    # Clicks handed off while the broker is down reach the outbox well within the consumer's minute.
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 3000
    browser = Browser()
    posted = []

    def post_clicks(n):
        for i in range(n):
            # The page script's click: its own event id, sent again unchanged on a 503 (static/js/events.js).
            click = {"type": "click", "movie_id": movies[i % len(movies)].pk, "event_id": str(uuid.uuid4())}
            response = browser.post_events([click])
            if response.status_code == 503:  # the consumer's thread held the SQLite file: a browser sends it again
                time.sleep(1)
                response = browser.post_events([click])
            assert response.status_code == 202, response.content
            assert response.json()["ids"] == [click["event_id"]]
            posted.append(click["event_id"])

    restarted = threading.Event()

    def scenario():
        """Runs between the consumer's batches, in its thread."""
        if not restarted.is_set() and ClickEvent.objects.count() >= 5:
            private_kafka_broker.stop()
            post_clicks(5)  # only the outbox has these
            private_kafka_broker.start()
            restarted.set()
            post_clicks(5)
            get_producer().flush(timeout=30)
        return restarted.is_set() and ClickEvent.objects.count() >= 15 and OutboxEvent.objects.count() == 0

    post_clicks(5)
    get_producer().flush()
    lines = []
    consumer = ClickLogConsumer(progress_seconds=0.5, poll_timeout_ms=200, report=lines.append)
    consumer.run(until=scenario, max_seconds=60)

    assert restarted.is_set()
    stored_ids = list(ClickEvent.objects.values_list("event_id", flat=True))
    assert sorted(map(str, stored_ids)) == sorted(posted)  # each click once, a resent one included
    assert OutboxEvent.objects.count() == 0
    assert any("partitions assigned" in line for line in lines)


def topic_event_ids(broker, topic):
    reader = KafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000
    )
    try:
        return {json.loads(message.value)["event_id"] for message in reader}
    finally:
        reader.close()


def sent_after(sender, movie, in_between):
    """Ids of events ``sender`` had acknowledged after ``in_between()`` ran (one event goes before it)."""
    try:
        sender.send([new_event("session:abc", "click", movie.pk)])
        in_between()
        later = [new_event("session:abc", "view", movie.pk) for _ in range(3)]
        deadline = time.monotonic() + 20
        while True:
            try:
                sender.send(later)
                break
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        sender.close()
    return {event.event_id for event in later}


def test_the_web_producer_keeps_publishing_after_a_broker_restart(settings, private_kafka_broker, movies):
    configure_kafka(settings, private_kafka_broker)
    ensure_topic()

    def restart():
        private_kafka_broker.stop()
        private_kafka_broker.start()  # forgets the producer ids an idempotent producer relies on
        ensure_topic()

    later = sent_after(ConfirmedSender(settings.KAFKA_TOPIC, timeout=5), movies[0], restart)
    assert later <= topic_event_ids(private_kafka_broker, settings.KAFKA_TOPIC)


def test_a_producer_that_failed_for_good_is_replaced(kafka_events, settings, movies):
    ensure_topic()
    sender = ConfirmedSender(settings.KAFKA_TOPIC, timeout=5)
    # A closed producer refuses every send with a non-retriable error, as one in
    # kafka-python's fatal state does.
    sender._producer = new_producer()
    sender._producer.close()
    with pytest.raises(KafkaError):
        sender.send([new_event("session:abc", "click", movies[0].pk)])
    later = sent_after(sender, movies[0], lambda: None)
    assert later <= topic_event_ids(kafka_events, settings.KAFKA_TOPIC)


def test_closing_with_resends_stuck_on_a_stopped_broker_does_not_raise(settings, private_kafka_broker, movies):
    configure_kafka(settings, private_kafka_broker)
    ensure_topic()
    consumer = ClickLogConsumer()
    consumer._resender = ConfirmedSender(settings.KAFKA_TOPIC)
    consumer._resender._producer = producer = new_producer()
    send_now(producer, [new_event("session:abc", "click", movies[0].pk)])
    private_kafka_broker.stop()
    producer.send(settings.KAFKA_TOPIC, *reversed(to_message(new_event("session:abc", "click", movies[1].pk))))
    started = time.monotonic()
    consumer.close()  # the record cannot be delivered within close's 2 s
    assert time.monotonic() - started < 5
    assert not producer._sender.is_alive() or producer._sender._force_close


def test_topics_are_created_with_the_configured_replication(kafka_events, settings):
    from kafka import KafkaAdminClient

    settings.KAFKA_TOPIC_REPLICATION = 2
    ensure_topic()
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    try:
        [topic] = admin.describe_topics([settings.KAFKA_TOPIC])
    finally:
        admin.close()
    assert [len(p["replica_nodes"]) for p in topic["partitions"]] == [2] * settings.KAFKA_TOPIC_PARTITIONS


def test_sigterm_finishes_the_batch_commits_and_exits(kafka_events, settings, movies):
    settings.EVENTS_OUTBOX_RESEND_SECONDS = 30  # longer than the group join: nothing is re-sent
    # A stalled group join is retried, not waited out; 10 s is past the session
    # timeout (5 s here), so a join that is only slow is not torn down.
    settings.KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS = 10
    browser = Browser()
    for movie in movies:
        browser.click(movie.pk)
    get_producer().flush()
    previous_handler = signal.getsignal(signal.SIGTERM)
    out = io.StringIO()

    def terminate_once_consuming():
        # The group join takes a few seconds, and on CI once stalled for over
        # 40 s: wait for the consumer's own progress line, long enough for
        # three rebuilds (at 10, 30 and 70 s) rather than a fixed time.
        deadline = time.monotonic() + 100
        while f"{len(movies)} messages" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_consuming, daemon=True).start()
    started = time.monotonic()
    call_command("consume_events", "--max-seconds", "150", "--progress-seconds", "1", stdout=out)
    assert time.monotonic() - started < 140  # stopped by the signal, not by --max-seconds
    assert ClickEvent.objects.count() == len(movies), out.getvalue()
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


@pytest.mark.parametrize(
    ("address", "protocol", "sentence"),
    [
        ("{broker}", "PLAIN_TEXT", "KAFKA_SECURITY_PROTOCOL is 'PLAIN_TEXT', which is not one of PLAINTEXT, SSL,"),
        ("127.0.0.1:port", "PLAINTEXT", "KAFKA_BOOTSTRAP_SERVERS has '127.0.0.1:port', which is not host:port"),
        ("127.0.0.1:90920", "PLAINTEXT", "KAFKA_BOOTSTRAP_SERVERS has '127.0.0.1:90920', which is not host:port"),
    ],
)
def test_consume_events_stops_at_once_on_a_setting_no_wait_can_fix(kafka_events, settings, address, protocol, sentence):
    from django.core.management.base import CommandError

    settings.KAFKA_BOOTSTRAP_SERVERS = [address.format(broker=kafka_events.bootstrap)]
    settings.KAFKA_SECURITY_PROTOCOL = protocol
    started = time.monotonic()
    with pytest.raises(CommandError, match=re.escape(sentence)):
        call_command("consume_events", "--max-seconds", "30", stdout=io.StringIO())
    assert time.monotonic() - started < 5  # not one connection attempt


def test_a_setting_no_retry_can_fix_ends_the_command_with_one_line_and_status_1(tmp_path):
    env = site_process_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092", KAFKA_SECURITY_PROTOCOL="SASL")
    done = subprocess.run(
        [PYTHON, "manage.py", "consume_events"], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "CommandError: KAFKA_SECURITY_PROTOCOL is 'SASL', which is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL."
    ]


def test_consume_events_waits_for_an_unreachable_broker_instead_of_exiting(settings, caplog):
    from tests.services import free_port

    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]
    out = io.StringIO()
    started = time.monotonic()
    call_command("consume_events", "--max-seconds", "3", stdout=out)  # no CommandError: it waited
    assert time.monotonic() - started < 15
    assert "Stopped:" in out.getvalue() and "Kafka unreachable" in caplog.text


def test_batches_shrink_for_a_slow_store_and_grow_back(settings):
    settings.KAFKA_MAX_POLL_INTERVAL_MS = 4000  # one batch may take at most 1 s
    consumer = ClickLogConsumer(store=object(), max_records=1000)
    consumer._fit_batch_limit(2.0)
    consumer._fit_batch_limit(1.5)
    assert consumer.batch_limit == 250
    consumer._fit_batch_limit(0.05)
    assert consumer.batch_limit == 500


class PartitionlessConsumer:
    """A group member that never gets partitions, as in a join that stalls."""

    def assignment(self):
        return set()

    def close(self, autocommit=False):
        pass


def test_each_rebuilt_consumer_gets_twice_the_time_to_join(settings):
    # A join slower than the timeout must not be cut off for ever: each new
    # member has to wait out the one it replaced, so equal waits never succeed.
    settings.KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS = 5
    consumer = ClickLogConsumer(store=object())
    consumer._consumer = PartitionlessConsumer()
    consumer._new_consumer = PartitionlessConsumer
    rebuilt_at = []
    for second in range(0, 200):
        before = consumer.stats.rebuilt
        consumer._watch_assignment(float(second))
        if consumer.stats.rebuilt > before:
            rebuilt_at.append(second)
    assert rebuilt_at[:5] == [5, 15, 35, 75, 115]  # waits of 5, 10, 20, 40, then at most 8 x 5 s

    consumer._consumer.assignment = lambda: {"partition"}
    consumer._watch_assignment(200.0)
    assert consumer._join_seconds == 5  # a consumer that joined starts over from the setting


def test_client_ids_new_types_and_details_travel_through_kafka(kafka_events, movies):
    import uuid

    browser, stranger = Browser(), Browser()
    event_id = str(uuid.uuid4())
    click = {"type": "click", "movie_id": movies[0].pk, "event_id": event_id, "details": {"impression": "i-1"}}
    for _ in range(2):  # a client retry: the same id twice
        assert browser.post_events([click]).status_code == 202
    assert stranger.post_events([click]).status_code == 202  # another visitor, the same id
    shown = {"experiment": 2, "surface": "top_picks", "shown": [m.pk for m in movies], "credits": ["a", "b"]}
    browser.post_events([{"type": "impression", "details": shown}, {"type": "like", "movie_id": movies[1].pk}])
    get_producer().flush()
    consume_until(stored(4))
    key = browser.visitor_key()
    assert ClickEvent.objects.filter(visitor_key=key).count() == 3
    assert ClickEvent.objects.filter(visitor_key=stranger.visitor_key(), event_id=event_id).count() == 1
    history = visitor_history(key, event_types=("click", "like", "impression"))
    assert [e.event_type for e in history] == ["like", "impression", "click"]
    assert history[1].details == shown and history[1].movie_id is None
    assert history[2].details == {"impression": "i-1"} and history[2].event_id == event_id


def test_a_consumer_started_while_the_broker_is_down_waits_and_then_consumes(settings, private_kafka_broker, movies):
    configure_kafka(settings, private_kafka_broker)
    private_kafka_broker.stop()
    browser = Browser()
    posted = [browser.click(movie.pk).json()["ids"][0] for movie in movies[:3]]
    assert get_producer().flush(timeout=20)
    assert OutboxEvent.objects.count() == 3  # no acknowledgement: the outbox keeps them
    # The broker comes back in 6 s; meanwhile the consumer waits (with backoff) instead of exiting.
    threading.Timer(6, private_kafka_broker.start).start()
    started = time.monotonic()
    consume_until(lambda: OutboxEvent.objects.count() == 0, max_seconds=90)
    assert time.monotonic() - started > 5
    assert sorted(str(e) for e in ClickEvent.objects.values_list("event_id", flat=True)) == sorted(posted)


def test_stop_ends_a_consumer_waiting_for_a_broker_within_seconds(settings, private_kafka_broker):
    configure_kafka(settings, private_kafka_broker)
    private_kafka_broker.stop()
    consumer = ClickLogConsumer(progress_seconds=0.5, poll_timeout_ms=200)
    thread = threading.Thread(target=consumer.run, kwargs={"max_seconds": 120})
    thread.start()
    time.sleep(4)
    started = time.monotonic()
    consumer.stop()
    thread.join(timeout=15)
    assert not thread.is_alive() and time.monotonic() - started < 10


def test_dead_letters_are_unique_per_message_not_per_reused_offset(db, kafka_events, settings):
    from events.consumer import _dead_letter

    class Message:
        topic, partition, offset, key = settings.KAFKA_TOPIC, 0, 7, b"k"

        def __init__(self, value):
            self.value = value

    first, redelivered, after_recreate = Message(b"{junk"), Message(b"{junk"), Message(b"{other junk")
    consumer = ClickLogConsumer()
    for message in (first, redelivered, after_recreate):
        consumer._write([], [_dead_letter(message, "not JSON")])
    assert sorted(DeadLetter.objects.values_list("value", flat=True)) == ["{junk", "{other junk"]


def test_outbox_first_events_the_broker_did_not_take_are_due_at_once(settings, private_kafka_broker, movies):
    configure_kafka(settings, private_kafka_broker)
    settings.KAFKA_OUTBOX_FIRST = True
    settings.EVENTS_OUTBOX_RESEND_SECONDS = 30  # only a failed send makes a row due before this
    ensure_topic()
    producer = get_producer()
    producer.publish([new_event("session:abc", "click", movies[0].pk)])
    assert outbox.due() == []  # acknowledged: not re-sent before the consumer stores it

    private_kafka_broker.stop()
    producer.publish([new_event("session:abc", "click", movies[1].pk)])
    failures = producer.sender.failures
    producer.publish([new_event("session:abc", "click", movies[2].pk)])  # known to be failing: not tried
    assert producer.sender.failures == failures
    assert sorted(event.movie_id for event in outbox.due()) == [movies[1].pk, movies[2].pk]


def test_handed_off_clicks_are_answered_before_the_ack_and_stored_once(kafka_events, settings, movies):
    browser = Browser()
    posted = []
    for movie in movies:
        response = browser.click(movie.pk)
        assert response.status_code == 202
        posted += response.json()["ids"]
    assert len(visitor_history(browser.visitor_key())) == len(movies)  # read-your-writes before any ack

    assert get_producer().flush(timeout=10)
    assert OutboxEvent.objects.count() == 0  # acknowledged: no database write but the store's
    consume_until(stored(len(movies)))
    assert sorted(map(str, ClickEvent.objects.values_list("event_id", flat=True))) == sorted(posted)
    get_producer().close()
    assert list(settings.EVENTS_JOURNAL_DIR.iterdir()) == []  # every segment settled and deleted


CRASHING_WEB_PROCESS = """
import json, os, sys
sys.path.insert(0, os.getcwd())
from events.journal import Journal
from events.records import new_event
directory, movie_ids = sys.argv[1], json.loads(sys.argv[2])
Journal(directory).record([new_event("session:crashed", "click", pk) for pk in movie_ids])
os._exit(1)  # killed before the broker acknowledged anything: no cleanup runs
"""


def crash_a_web_process(settings, movie_ids):
    subprocess.run(
        [sys.executable, "-c", CRASHING_WEB_PROCESS, str(settings.EVENTS_JOURNAL_DIR), json.dumps(movie_ids)],
        cwd=settings.BASE_DIR,
        check=False,
    )


def test_events_a_killed_web_process_had_handed_off_are_stored_once(kafka_events, settings, movies):
    ids = [movie.pk for movie in movies]
    crash_a_web_process(settings, ids)
    [segment] = settings.EVENTS_JOURNAL_DIR.iterdir()
    already = from_message(segment.read_bytes().splitlines()[0])
    get_store().write([already])  # one had reached the topic and the store before the crash

    consume_until(lambda: ClickEvent.objects.count() >= len(ids) and OutboxEvent.objects.count() == 0)
    rows = ClickEvent.objects.filter(visitor_key="session:crashed")
    assert sorted(rows.values_list("movie_id", flat=True)) == sorted(ids)  # each once
    assert list(settings.EVENTS_JOURNAL_DIR.iterdir()) == []


def test_a_hand_off_to_an_unreachable_broker_goes_to_the_outbox(settings, private_kafka_broker, movies):
    configure_kafka(settings, private_kafka_broker)
    private_kafka_broker.stop()
    browser = Browser()
    response = browser.click(movies[0].pk)
    assert response.status_code == 202
    assert get_producer().flush(timeout=10)
    assert [str(event.event_id) for event in outbox.due()] == response.json()["ids"]
    assert len(visitor_history(browser.visitor_key())) == 1


@pytest.mark.django_db(transaction=True)  # the outbox writer thread's rows must be visible here
def test_events_a_stalled_broker_never_acknowledged_go_to_the_outbox_and_are_stored_once(
    settings, private_kafka_broker, movies
):
    """The broker takes the connection and the request but answers nothing
    (SIGSTOP): the click was answered already, so the producer's delivery
    timeout hands the event to the outbox writer thread."""
    configure_kafka(settings, private_kafka_broker)
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 2000
    settings.KAFKA_ACK_TIMEOUT_MS = 5000  # the first click's connection, on a busy machine
    ensure_topic()
    browser = Browser()
    first = browser.click(movies[0].pk).json()["ids"]  # connects the producer and learns the topic's leaders
    assert get_producer().flush(timeout=20) and OutboxEvent.objects.count() == 0
    producer = get_producer()
    assert not producer.sender.recently_failed()  # so the next click is handed off, not sent to the outbox

    assert private_kafka_broker.process.poll() is None  # the process the stop reaches is the one serving
    os.kill(private_kafka_broker.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = browser.click(movies[1].pk)
        assert response.status_code == 202
        assert time.monotonic() - started < 1  # answered without waiting for the broker
        assert len(visitor_history(browser.visitor_key())) == 2
        assert get_producer() is producer and producer.flush(timeout=30)
        assert [str(event.event_id) for event in OutboxEvent.objects.all()] == response.json()["ids"]
    finally:
        os.kill(private_kafka_broker.process.pid, signal.SIGCONT)

    # The stalled broker may still take the request it had read: then the event is on the topic and in the outbox.
    consume_until(lambda: ClickEvent.objects.count() >= 2 and OutboxEvent.objects.count() == 0, max_seconds=60)
    stored_ids = sorted(map(str, ClickEvent.objects.values_list("event_id", flat=True)))
    assert stored_ids == sorted(first + response.json()["ids"])


def test_a_worker_forked_after_publishing_journals_in_segments_of_its_own(kafka_events, settings, movies):
    """gunicorn --preload forks workers from a master: a journal opened before
    the fork must not be shared, or one worker would delete a segment holding
    another's unsettled events, and a child would keep a dead parent's segment locked."""
    from events import journal

    parent = get_producer()
    parent_segment = parent._journal().record([new_event("session:parent", "click", movies[0].pk)])
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the worker: publishes once, then is killed before anything settles
        try:
            producer = get_producer()
            segment = producer._journal().record([new_event("session:child", "click", movies[1].pk)])
            os.write(writer, f"{producer is not parent} {segment.path.name}".encode())
        finally:
            os._exit(0)
    os.close(writer)
    deadline = time.monotonic() + 30
    while os.waitpid(child, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:  # a lock held by another thread at the fork: fail, do not hang
            os.kill(child, signal.SIGKILL)
            pytest.fail("the forked worker hung")
        time.sleep(0.05)
    same_producer, child_segment = os.read(reader, 4096).decode().split()
    os.close(reader)
    assert same_producer == "True"
    assert child_segment.startswith(f"{child}-") and child_segment != parent_segment.path.name

    found = []
    assert journal.recover_orphans(settings.EVENTS_JOURNAL_DIR, found.extend) == 1  # the dead child's only
    assert [event.visitor_key for event in found] == ["session:child"]
    assert [path.name for path in settings.EVENTS_JOURNAL_DIR.iterdir()] == [parent_segment.path.name]

    os.close(parent_segment.fd)  # the parent dies too: no child holds its lock
    parent_segment.removed = True
    assert journal.recover_orphans(settings.EVENTS_JOURNAL_DIR, found.extend) == 1
    assert list(settings.EVENTS_JOURNAL_DIR.iterdir()) == []


def test_a_failing_journal_recovery_does_not_stop_the_outbox_resend(kafka_events, movies, monkeypatch):
    from events import journal

    ensure_topic()
    outbox.save([new_event("session:abc", "click", movies[0].pk)], due_now=True)

    def unreadable_folder():
        raise PermissionError("Permission denied: the journal folder")

    monkeypatch.setattr(journal, "recover_into_outbox", unreadable_folder)
    assert ClickLogConsumer().resend_outbox() == 1


def wait_for(condition, seconds=15):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.django_db(transaction=True)  # the writer thread's rows must be visible here
def test_the_outbox_writer_outlives_an_unexpected_error(movies, monkeypatch):
    from events.producers import OutboxWriter

    real_save, calls = outbox.save, []

    def fails_once(events, due_now=False):
        calls.append(len(events))
        if len(calls) == 1:
            raise RuntimeError("not a database error")
        real_save(events, due_now=due_now)

    monkeypatch.setattr(outbox, "save", fails_once)
    writer, settled = OutboxWriter(), []

    def fails_to_settle():
        raise ValueError("a broken callback")

    first = new_event("session:abc", "click", movies[0].pk)
    writer.put(first, fails_to_settle)
    assert wait_for(lambda: OutboxEvent.objects.count() == 1)  # retried after the error
    later = new_event("session:abc", "click", movies[1].pk)
    writer.put(later, lambda: settled.append(later))
    assert wait_for(lambda: settled == [later])  # still running after the callback raised
    assert sorted(OutboxEvent.objects.values_list("movie_id", flat=True)) == [movies[0].pk, movies[1].pk]


@pytest.mark.django_db(transaction=True)  # the writer thread's rows must be visible here
def test_the_outbox_writer_sets_aside_an_event_that_can_never_be_stored(movies, caplog):
    from events.producers import OutboxWriter

    writer, settled, set_aside = OutboxWriter(), [], []
    malformed = new_event("session:abc", "click", movies[0].pk, details={"not JSON": object()})
    later = new_event("session:abc", "click", movies[1].pk)
    writer.put(malformed, lambda: settled.append(malformed), lambda: set_aside.append(malformed))
    writer.put(later, lambda: settled.append(later), lambda: set_aside.append(later))
    assert wait_for(lambda: settled == [later] and set_aside == [malformed])  # not held up behind the malformed one
    time.sleep(1.5)  # past the first back-off: a retry would have logged again
    assert settled == [later] and set_aside == [malformed]  # set aside once, never retried
    assert list(OutboxEvent.objects.values_list("movie_id", flat=True)) == [movies[1].pk]
    assert sum("can never be stored" in message for message in caplog.messages) == 1


@pytest.mark.django_db(transaction=True)  # the outbox writer thread's rows must be visible here
def test_a_handed_off_event_the_outbox_can_never_store_is_kept_counted_and_settled(
    settings, private_kafka_broker, movies, monkeypatch
):
    """The broker never acknowledges two handed-off clicks, and the outbox can
    take only one of them: the other is kept in the journal folder and
    counted for the dashboard, and both are settled, so closing the producer
    leaves only the kept file and has nothing to wait for."""
    from events import journal

    configure_kafka(settings, private_kafka_broker)
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 2000
    settings.KAFKA_ACK_TIMEOUT_MS = 5000  # the first click's connection, on a busy machine
    ensure_topic()
    producer = get_producer()
    producer.publish([new_event("session:abc", "click", movies[0].pk)])  # connects the producer
    assert producer.flush(timeout=20) and not producer.sender.recently_failed()
    good, unstorable = (new_event("session:abc", "click", movie.pk) for movie in movies[1:3])
    real_insert = outbox.insert_events

    def refuses_one(model, events, **columns):  # the database refuses this record whatever its state
        if any(event.event_id == unstorable.event_id for event in events):
            raise DataError("Data too long for column 'details'")
        real_insert(model, events, **columns)

    monkeypatch.setattr(outbox, "insert_events", refuses_one)
    os.kill(private_kafka_broker.process.pid, signal.SIGSTOP)
    try:
        producer.publish([good, unstorable])
        assert producer.flush(timeout=30)  # every event settled: one in the outbox, one set aside
    finally:
        os.kill(private_kafka_broker.process.pid, signal.SIGCONT)
    assert [str(event.event_id) for event in OutboxEvent.objects.all()] == [good.event_id]
    producer.close()
    [kept] = settings.EVENTS_JOURNAL_DIR.iterdir()  # no segment left for a recovery to resend
    assert kept.suffix == journal.UNSTORABLE_SUFFIX and kept.read_bytes() == to_message(unstorable)[1] + b"\n"
    [counted] = SetAsideEvents.objects.all()
    assert (counted.directory, counted.files, counted.events) == (str(settings.EVENTS_JOURNAL_DIR), 1, 1)


def test_the_outbox_writer_retries_a_batch_whose_every_event_is_refused(monkeypatch, caplog):
    from events.producers import OutboxWriter

    calls, stored = [], []
    batch = [(new_event("session:abc", "click", movie_id), None, None) for movie_id in range(1, 6)]

    def broken_until_fixed(events, due_now=False):  # a bug refuses every event, then is fixed
        calls.append(len(events))
        if len(calls) <= 1 + len(batch):  # the batch, then each event alone
            raise TypeError("a code bug")
        stored.extend(events)

    monkeypatch.setattr(outbox, "save", broken_until_fixed)
    # Only this writer's back-off is skipped; other threads keep their real sleep.
    monkeypatch.setattr(OutboxWriter, "_wait", lambda backoff: backoff)
    assert OutboxWriter._save(batch) == (batch, [])  # none set aside: all written once the fault went
    assert calls == [len(batch)] + [1] * len(batch) + [len(batch)]
    assert [event.event_id for event in stored] == [event.event_id for event, *_ in batch]
    assert not any("can never be stored" in message for message in caplog.messages)
    [line] = [message for message in caplog.messages if "refused one by one" in message]
    assert f"all {len(batch)} items" in line and "a code bug" in line


def test_the_outbox_writer_sets_aside_a_batch_the_database_refuses_event_by_event(monkeypatch):
    from events.producers import OutboxWriter

    calls = []
    batch = [(new_event("session:malformed", "click", movie_id), None, None) for movie_id in range(1, 4)]

    def refuses_each(events, due_now=False):  # the database's verdict on each row alone
        calls.append(len(events))
        raise DataError("Data too long for column 'visitor_key'")

    monkeypatch.setattr(outbox, "save", refuses_each)
    monkeypatch.setattr(OutboxWriter, "_wait", lambda backoff: pytest.fail("retried"))
    assert OutboxWriter._save(batch) == ([], batch)  # all set aside, the writer goes on
    assert calls == [len(batch)] + [1] * len(batch)


@pytest.mark.parametrize(
    "refusal", [DataError("Data too long for column 'visitor_key'"), ValueError("not storable")], ids=repr
)
def test_a_journal_event_that_can_never_be_stored_is_kept_and_the_rest_recovered(
    kafka_events, settings, movies, monkeypatch, caplog, refusal
):
    from events import journal

    good = [new_event("session:crashed", "click", movie.pk) for movie in movies]
    unstorable = new_event("session:malformed", "click", movies[0].pk)
    # Segments of web processes that died: the one with the unstorable event sorts first.
    segments = {"1-1": [good[0], unstorable, good[1]], "2-2": good[2:]}
    for name, events in segments.items():
        path = settings.EVENTS_JOURNAL_DIR / f"{name}{journal.SUFFIX}"
        path.write_bytes(b"".join(to_message(event)[1] + b"\n" for event in events))
    planted_unstorable = to_message(unstorable)[1] + b"\n"
    real_insert = outbox.insert_events

    def refuses_one(model, events, **columns):  # the database refuses this record whatever its state
        if any(event.event_id == unstorable.event_id for event in events):
            raise refusal
        real_insert(model, events, **columns)

    monkeypatch.setattr(outbox, "insert_events", refuses_one)
    # The consumer recovers the journal beside each outbox resend, and keeps running.
    consume_until(lambda: ClickEvent.objects.count() >= len(good) and OutboxEvent.objects.count() == 0)
    assert ClickLogConsumer().resend_outbox() == 0  # a later recovery leaves the kept segment alone
    stored_ids = sorted(map(str, ClickEvent.objects.values_list("event_id", flat=True)))
    assert stored_ids == sorted(event.event_id for event in good)
    [kept] = settings.EVENTS_JOURNAL_DIR.iterdir()
    assert kept.name == f"1-1{journal.UNSTORABLE_SUFFIX}" and kept.read_bytes() == planted_unstorable  # nothing lost
    assert sum("can never be stored" in message for message in caplog.messages) == 1
    [counted] = SetAsideEvents.objects.all()  # what the dashboard shows
    assert (counted.directory, counted.files, counted.events) == (str(settings.EVENTS_JOURNAL_DIR), 1, 1)


@pytest.mark.django_db(transaction=True)  # the recovery thread's rows must be visible here
def test_orphans_recovered_for_a_request_survive_its_rollback(kafka_events, settings, movies):
    from django.db import transaction

    ids = [movie.pk for movie in movies]
    crash_a_web_process(settings, ids)
    with pytest.raises(RuntimeError), transaction.atomic():
        get_producer().publish([new_event("session:abc", "click", movies[0].pk)])
        raise RuntimeError("the request fails after publishing")
    crashed = OutboxEvent.objects.filter(visitor_key="session:crashed")
    assert wait_for(lambda: crashed.count() == len(ids))
    assert sorted(crashed.values_list("movie_id", flat=True)) == sorted(ids)


def test_an_unwritable_journal_folder_is_not_retried_on_every_request(kafka_events, settings, movies, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.touch()
    settings.EVENTS_JOURNAL_DIR = blocker / "journal"  # mkdir fails, even for root
    settings.KAFKA_RETRY_SECONDS = 60
    producer = get_producer()
    for movie in movies:
        producer.publish([new_event("session:abc", "click", movie.pk)])
    assert [event.movie_id for event in outbox.due()] == [movie.pk for movie in movies]
    assert sum("journal not writable" in message for message in caplog.messages) == 1


def test_a_new_journal_folder_setting_takes_effect(kafka_events, settings, movies, tmp_path):
    get_producer()._journal()
    settings.EVENTS_JOURNAL_DIR = tmp_path / "moved"
    journal = get_producer()._journal()
    segment = journal.record([new_event("session:abc", "click", movies[0].pk)])
    journal.settle(segment)
    assert segment.path.parent == tmp_path / "moved"
