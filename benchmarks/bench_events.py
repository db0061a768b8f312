"""Event pipeline benchmark: POST /api/events -> tansu -> consumer -> store.

Runs, in one go and on the same machine, our pipeline (outbox + background
producer, batched consumer) and a naive baseline (one synchronous producer
send per event in the request, a consumer that writes and commits one message
at a time), into the SQL store and into DynamoDB on moto. Prints a table of
events/s end to end, p50/p99 POST-to-stored latency, loss and duplicates, and
our/baseline ratios. Not a test: run it by hand.

    .venv/bin/python benchmarks/bench_events.py [--events 20000] [--batch 20]

The web side runs in this process (Django's test client, several browser
sessions); each consumer runs as its own process, as in production.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))
WORK_DIR = Path(tempfile.mkdtemp(prefix="bench-events-"))
BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "APP_VAR_DIR": str(WORK_DIR),
    "SQLITE_PATH": str(WORK_DIR / "bench.sqlite3"),
    "MOVIELENS_DATASET": "bench-catalog",
    "DJANGO_ALLOWED_HOSTS": "testserver,localhost",
    "EVENTS_RATE_LIMIT": str(10**9),
    "EVENTS_RATE_LIMIT_PER_ADDRESS": str(10**9),  # every browser session posts from one address here
    # Well above a batch into moto on a busy machine: a consumer thrown out of its
    # group for a slow batch gets the batch again, and the run stalls.
    "KAFKA_MAX_POLL_INTERVAL_MS": "30000",
    "LOG_LEVEL": "WARNING",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
for _name, _value in BASE_ENV.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402

django.setup()
logging.getLogger("werkzeug").setLevel(logging.WARNING)

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from events import producers  # noqa: E402
from events.kafka_io import ensure_topic, new_producer, send_now  # noqa: E402
from events.models import ClickEvent, OutboxEvent  # noqa: E402
from events.records import from_message, parse_timestamp  # noqa: E402
from events.stores import get_store  # noqa: E402
from movie.models import Movie  # noqa: E402


class NaiveProducer(producers.EventProducer):
    """Baseline: each event is sent synchronously, waiting for the broker, inside the request."""

    def __init__(self):
        self.producer = new_producer()

    def publish(self, events_):
        for event in events_:
            send_now(self.producer, [event])

    def close(self):
        self.producer.close(timeout=2)


def naive_consumer_main():
    """Baseline consumer: one message per poll, one store write, one commit."""
    from kafka import KafkaConsumer

    from events.kafka_io import client_options

    store = get_store()
    consumer = KafkaConsumer(
        settings.KAFKA_TOPIC,
        group_id=settings.KAFKA_CONSUMER_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=5000,
        session_timeout_ms=5000,
        heartbeat_interval_ms=1000,
        **client_options(),
    )
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    while running[0]:
        for batch in consumer.poll(timeout_ms=200, max_records=1).values():
            for message in batch:
                store.write([from_message(message.value)])
                consumer.commit()
    consumer.close(autocommit=False)


def consumer_process(kind):
    env = {**os.environ, **scenario_env()}
    if kind == "ours":
        command = [sys.executable, "manage.py", "consume_events", "--progress-seconds", "30"]
    else:
        command = [sys.executable, __file__, "--naive-consumer"]
    return subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=subprocess.DEVNULL)


def scenario_env():
    return {
        "KAFKA_BOOTSTRAP_SERVERS": ",".join(settings.KAFKA_BOOTSTRAP_SERVERS),
        "KAFKA_TOPIC": settings.KAFKA_TOPIC,
        "KAFKA_CONSUMER_GROUP": settings.KAFKA_CONSUMER_GROUP,
        "CLICKLOG_STORE": settings.CLICKLOG_STORE,
        "DYNAMODB_TABLE": settings.DYNAMODB_TABLE,
        "AWS_ENDPOINT_URL": settings.AWS_ENDPOINT_URL,
    }


def configure(store, broker, dynamodb):
    name = uuid.uuid4().hex[:8]
    settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap]
    settings.KAFKA_TOPIC = f"bench-{name}"
    settings.KAFKA_CONSUMER_GROUP = f"bench-{name}"
    settings.CLICKLOG_STORE = store
    settings.AWS_ENDPOINT_URL = dynamodb.endpoint_url
    settings.DYNAMODB_TABLE = f"bench-{name}"
    producers.reset_producer()
    if store == "dynamodb":
        get_store().create_table()
    ensure_topic()


def stored_times(store):
    """({event_id: stored_at}, number of extra copies) for what the store holds now."""
    if store == "sql":
        rows = list(ClickEvent.objects.values_list("event_id", "stored_at"))
        return {str(event_id): at for event_id, at in rows}, len(rows) - len({row[0] for row in rows})
    client = get_store().client
    # The store's own counter items share the table under keys starting with "#".
    rows, request = (
        [],
        {
            "TableName": settings.DYNAMODB_TABLE,
            "ProjectionExpression": "event_id, stored_at",
            "FilterExpression": "NOT begins_with(pk, :own)",
            "ExpressionAttributeValues": {":own": {"S": "#"}},
        },
    )
    while True:
        page = client.scan(**request)
        rows += [(item["event_id"]["S"], parse_timestamp(item["stored_at"]["S"])) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return dict(rows), len(rows) - len({row[0] for row in rows})


def stored_count(store, since):
    """Events stored since ``since`` (the scenario's own table or emptied log).
    DynamoDB's from the store's per-bucket counters, one BatchGetItem: a scan
    of the whole table every poll would take moto's time from the consumer's
    writes, and the run would slow down the more it had stored."""
    if store == "sql":
        return ClickEvent.objects.count()
    return sum(get_store().event_counts({"run": since}, datetime.now(UTC))["run"].values())


def run_scenario(label, kind, store, n_events, rate, options, broker, dynamodb, movie_ids):
    batch, web_threads = options.batch, options.web_threads
    from tests.services import Browser

    configure(store, broker, dynamodb)
    with transaction.atomic():
        ClickEvent.objects.all().delete()
        OutboxEvent.objects.all().delete()
    if kind == "naive":
        producers._producer = NaiveProducer()
    consumer = consumer_process(kind)
    since = datetime.now(UTC)
    try:
        warm = Browser().click(movie_ids[0]).json()["ids"]
        wait_until(lambda: stored_count(store, since) >= 1, 60)
        posted_at = {}
        starts = list(range(0, n_events, batch))
        workers = [
            threading.Thread(
                target=post_batches,
                args=(
                    starts[w::web_threads],
                    batch,
                    n_events,
                    options.browsers,
                    movie_ids,
                    posted_at,
                    rate / web_threads if rate else None,
                ),
            )
            for w in range(web_threads)
        ]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if len(posted_at) != n_events:
            raise SystemExit(f"only {len(posted_at)} of {n_events} events were accepted")
        post_seconds = time.monotonic() - started
        wait_until(lambda: stored_count(store, since) >= n_events + 1, 300)
        time.sleep(1.0)  # let any duplicate show up before counting
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(timeout=30)
        producers.reset_producer()

    times, duplicates = stored_times(store)
    times.pop(warm[0], None)
    lost = sum(1 for event_id in posted_at if event_id not in times)
    latencies = sorted((times[e] - posted_at[e]).total_seconds() for e in posted_at if times.get(e))
    last_stored = max(times[e] for e in posted_at if times.get(e))
    first_post = min(posted_at.values())
    total_seconds = (last_stored - first_post).total_seconds()
    cuts = quantiles(latencies, n=100)
    return {
        "label": label,
        "events": n_events,
        "post_rate": n_events / post_seconds,
        "rate": n_events / total_seconds,
        "p50": cuts[49],
        "p99": cuts[98],
        "lost": lost,
        "dup": duplicates,
    }


def post_batches(starts, batch, n_events, browsers, movie_ids, posted_at, rate):
    """One web worker: POSTs batches from several browser sessions, noting when
    each event was posted; at most ``rate`` events/s when given."""
    from tests.services import Browser

    clients = [Browser() for _ in range(browsers)]
    began = time.monotonic()
    try:
        for number, i in enumerate(starts):
            if rate:
                time.sleep(max(0.0, began + number * batch / rate - time.monotonic()))
            items = [
                {"type": "rating", "movie_id": movie_ids[k % len(movie_ids)], "rating": 0.5 + k % 10 / 2}
                if k % 5 == 0
                else {"type": "click", "movie_id": movie_ids[k % len(movie_ids)]}
                for k in range(i, min(i + batch, n_events))
            ]
            at = datetime.now(UTC)
            response = clients[number % len(clients)].post_events(items)
            if response.status_code != 202:
                logging.error("POST refused (%s): %r", response.status_code, response.content[:200])
                return
            for event_id in response.json()["ids"]:
                posted_at[event_id] = at
    finally:
        connection.close()


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the consumer; the table would be meaningless")
        time.sleep(0.2)


def main():
    from tqdm import tqdm

    from tests.factories import make_catalog
    from tests.services import MotoServerProcess, TansuBroker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="Events for our SQL run (others scale from it).")
    parser.add_argument("--batch", type=int, default=20, help="Events per POST.")
    parser.add_argument("--browsers", type=int, default=10, help="Browser sessions (visitors) per web thread.")
    parser.add_argument("--web-threads", type=int, default=3, help="Concurrent web workers posting.")
    parser.add_argument("--paced-rate", type=int, default=100, help="Events/s offered in the equal-load rows.")
    options = parser.parse_args()

    call_command("migrate", verbosity=0)
    if not Movie.objects.filter(dataset__name="bench-catalog").exists():
        make_catalog("bench-catalog", n_movies=50, n_users=2)
    movie_ids = list(Movie.objects.filter(dataset__name="bench-catalog").values_list("pk", flat=True))
    broker, dynamodb = TansuBroker().start(), MotoServerProcess().start()
    n = options.events
    # Flat out, then the same offered load for both pipelines so that their
    # latencies compare (moto's DynamoDB takes only a few hundred writes/s).
    paced = options.paced_rate
    plan = [
        ("ours -> SQL", "ours", "sql", n, None),
        ("baseline -> SQL", "naive", "sql", max(500, n // 10), None),
        (f"ours -> SQL @{paced}/s", "ours", "sql", paced * 10, paced),
        (f"baseline -> SQL @{paced}/s", "naive", "sql", paced * 10, paced),
        ("ours -> DynamoDB", "ours", "dynamodb", max(500, n // 10), None),
        ("baseline -> DynamoDB", "naive", "dynamodb", max(250, n // 40), None),
        (f"ours -> DynamoDB @{paced}/s", "ours", "dynamodb", paced * 10, paced),
        (f"baseline -> DynamoDB @{paced}/s", "naive", "dynamodb", paced * 10, paced),
    ]
    results = {}
    try:
        for label, kind, store, count, rate in tqdm(plan, desc="scenarios"):
            results[label] = run_scenario(label, kind, store, count, rate, options, broker, dynamodb, movie_ids)
    finally:
        broker.stop()
        dynamodb.stop()
        connection.close()

    header = (
        f"{'pipeline (DynamoDB on moto)':<30}{'events':>8}{'POST ev/s':>11}{'e2e ev/s':>10}"
        f"{'p50 s':>8}{'p99 s':>8}{'lost':>6}{'dup':>5}"
    )
    print(header)
    print("-" * len(header))
    for row in results.values():
        print(
            f"{row['label']:<30}{row['events']:>8}{row['post_rate']:>11.0f}{row['rate']:>10.0f}"
            f"{row['p50']:>8.3f}{row['p99']:>8.3f}{row['lost']:>6}{row['dup']:>5}"
        )
    for ours, naive in zip(list(results.values())[0::2], list(results.values())[1::2], strict=False):
        print(
            f"{ours['label']:<30} vs baseline: throughput x{ours['rate'] / naive['rate']:.1f}, "
            f"p50 x{naive['p50'] / ours['p50']:.1f} lower, p99 x{naive['p99'] / ours['p99']:.1f} lower"
        )
    sql = results["ours -> SQL"]
    goal = sql["rate"] >= 2000 and sql["lost"] == 0 and sql["dup"] == 0 and sql["p99"] < 2.0
    print(f"goal (>= 2000 ev/s into SQL, no loss, no duplicates, p99 < 2 s): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    if "--naive-consumer" in sys.argv:
        naive_consumer_main()
    else:
        main()
