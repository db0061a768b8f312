"""Two consume_events processes in one consumer group, on a topic with
several partitions, against a real tansu broker: they share the partitions,
and when one is killed (SIGKILL, mid-stream) the other takes its partitions
over and every event reaches the store exactly once.

The processes are real ones (``manage.py consume_events``) sharing one SQLite
file, as on a server; nothing here uses the test database."""

import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from events.records import new_event, to_message
from tests.services import REPO_DIR, private_kafka_broker, site_process_env, wait_until  # noqa: F401

PARTITIONS = 4
EVENTS = 600
PYTHON = str(Path(sys.executable).parent / "python")
PROGRESS = re.compile(r"consume_events: (\d+) messages .* (\d+) partitions assigned")


class ConsumerProcess:
    """``manage.py consume_events`` in a child process; its progress lines are kept."""

    def __init__(self, env, log_path):
        self.log_path = log_path
        self.process = subprocess.Popen(
            [PYTHON, "manage.py", "consume_events", "--progress-seconds", "0.5"],
            cwd=REPO_DIR,
            env=env,
            stdout=open(log_path, "w"),
            stderr=subprocess.STDOUT,
        )

    def log(self):
        return self.log_path.read_text()

    def progress(self):
        """(messages consumed, partitions assigned) at its last progress line, or None."""
        found = PROGRESS.findall(self.log())
        return tuple(map(int, found[-1])) if found else None

    def assigned(self):
        return (self.progress() or (0, 0))[1]

    def messages(self):
        return (self.progress() or (0, 0))[0]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def site_env(tmp_path, private_kafka_broker):  # noqa: F811
    """A migrated SQLite file and the environment of processes sharing it and the broker."""
    topic, group = f"events-{uuid.uuid4().hex[:10]}", f"writer-{uuid.uuid4().hex[:10]}"
    env = site_process_env(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=private_kafka_broker.bootstrap,
        KAFKA_TOPIC=topic,
        KAFKA_CONSUMER_GROUP=group,
        KAFKA_TOPIC_PARTITIONS=str(PARTITIONS),
        # A killed member's partitions move 3 s after its last heartbeat (tansu allows
        # it; Apache Kafka refuses sessions under 6 s by default: events.W001).
        KAFKA_SESSION_TIMEOUT_MS="3000",
        KAFKA_MAX_POLL_INTERVAL_MS="6000",
    )
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"], cwd=REPO_DIR, env=env, check=True, capture_output=True
    )
    admin = KafkaAdminClient(bootstrap_servers=private_kafka_broker.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        [described] = admin.describe_topics([topic])
    finally:
        admin.close()
    if len(described["partitions"]) < 2:
        pytest.skip(f"the broker made {len(described['partitions'])} partition(s) of {PARTITIONS} asked for")
    return env


def stored_ids(db_path):
    with sqlite3.connect(db_path, timeout=30) as db:
        return [uuid.UUID(str(row[0])) for row in db.execute("SELECT event_id FROM movie_clickevent")]


def committed_total(bootstrap, group):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return sum(meta.offset for meta in offsets.values() if meta.offset > 0)


def test_two_consumers_share_partitions_and_one_takes_over_when_the_other_is_killed(
    site_env,
    tmp_path,
    private_kafka_broker,  # noqa: F811
):
    db_path = site_env["SQLITE_PATH"]
    first = ConsumerProcess(site_env, tmp_path / "first.log")
    second = ConsumerProcess(site_env, tmp_path / "second.log")
    producer = KafkaProducer(bootstrap_servers=private_kafka_broker.bootstrap, acks="all")
    # Many visitors, so their keys spread over every partition.
    events = [new_event(f"session:{index % 97}", "click", 1 + index % 50) for index in range(EVENTS)]
    sent = threading.Event()

    def produce():
        # A steady stream: the kill lands in the middle of it.
        for index, event in enumerate(events):
            key, value = to_message(event)
            producer.send(site_env["KAFKA_TOPIC"], key=key, value=value)
            if index % 20 == 19:
                producer.flush()
                time.sleep(0.1)
        producer.flush()
        sent.set()

    try:
        wait_until(lambda: first.assigned() and second.assigned(), timeout=60)
        assert first.assigned() + second.assigned() == PARTITIONS, (first.log(), second.log())
        stream = threading.Thread(target=produce, daemon=True)
        stream.start()
        # Kill once both are storing: some of the killed one's batches may be stored but not committed.
        wait_until(lambda: first.messages() > 0 and second.messages() > 0, timeout=60)
        assert not sent.is_set(), "the stream ended before the kill; make it longer"
        first.process.kill()
        first.process.wait()
        killed_at = len(stored_ids(db_path))
        stream.join(timeout=120)
        assert sent.is_set()

        # The survivor takes every partition and reads the rest, the killed one's uncommitted batches included.
        wait_until(lambda: second.assigned() == PARTITIONS, timeout=60)
        wait_until(lambda: len(set(stored_ids(db_path))) >= EVENTS, timeout=60)
        wait_until(
            lambda: committed_total(private_kafka_broker.bootstrap, site_env["KAFKA_CONSUMER_GROUP"]) == EVENTS,
            timeout=30,
        )
        assert second.process.poll() is None, second.log()
    finally:
        producer.close()
        first.stop()
        second.stop()

    stored = stored_ids(db_path)
    assert killed_at < EVENTS  # the kill was mid-stream
    assert sorted(stored) == sorted(uuid.UUID(event.event_id) for event in events)  # each exactly once
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM movie_deadletter").fetchone()[0] == 0
