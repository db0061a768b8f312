"""The click-log writer: a Kafka consumer group that moves events from the
topic into the store.

Each poll is one batch: decode, write to the store (idempotent on event id),
drop the matching outbox rows, dead-letter what cannot be decoded, and only
then commit the offsets. A crash between the write and the commit means a
redelivery, which the store absorbs. Outbox rows still waiting after
EVENTS_OUTBOX_RESEND_SECONDS may have missed Kafka (broker down, or a broker
that lost data), so they are sent again, whatever the consumer's own state:
a second copy costs one message and the store drops it by event id.

Several consumers share the topic's partitions as one group; when one dies
the others take its partitions over after KAFKA_SESSION_TIMEOUT_MS, from its
last committed offsets (its uncommitted batch is read again and absorbed by
the store).

A broker that lost its topics leaves a subscribed consumer without
partitions, quietly idle; after KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS of that the
consumer is rebuilt (topic created again, group rejoined). Each replacement
gets twice its predecessor's time: a join that is only slow (a busy broker, or
the group coordinator waiting out the member just replaced) must not be cut off
again and again.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from events import journal, outbox
from events.heartbeat import record_consumer_heartbeat
from events.kafka_io import OUTBOX_HEADER, ConfirmedSender, client_options, ensure_topic
from events.models import DeadLetter
from events.records import InvalidEvent, from_message
from events.stores import StoreUnavailable, get_store

logger = logging.getLogger(__name__)

MAX_JOIN_BACKOFF = 8  # a replacement waits at most 8x KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS
OUTBOX_CHECK_SECONDS = 1.0
LOG_CHECK_SECONDS = 2.0  # how often a restarted log is looked for
CONNECT_ATTEMPT_MS = 3000  # one connection attempt: short, so SIGTERM is honoured within 10 s
CHECK_TIMEOUT_MS = 2000
MAX_CONNECT_BACKOFF = 4.0  # a broker back after minutes is used within seconds
REBUILD_AFTER_FAULTS = 5


@dataclass
class ConsumerStats:
    batches: int = 0
    messages: int = 0
    stored: int = 0
    dead_lettered: int = 0
    resent: int = 0
    rebuilt: int = 0
    log_resets: int = 0
    assigned: int = 0
    lag: dict = field(default_factory=dict)

    @property
    def total_lag(self):
        return sum(self.lag.values())

    def summary(self):
        rebuilt = f", consumer rebuilt {self.rebuilt}x" if self.rebuilt else ""
        return (
            f"{self.messages} messages in {self.batches} batches: {self.stored} stored, "
            f"{self.dead_lettered} dead-lettered, {self.resent} re-sent from the outbox, lag {self.total_lag}, "
            f"{self.assigned} partitions assigned{rebuilt}"
        )


class ClickLogConsumer:
    def __init__(
        self,
        store=None,
        topic=None,
        group_id=None,
        max_records=1000,
        poll_timeout_ms=500,
        progress_seconds=10,
        report=None,
    ):
        self.store = store or get_store()
        self.topic = topic or settings.KAFKA_TOPIC
        self.group_id = group_id or settings.KAFKA_CONSUMER_GROUP
        self.max_records = self.batch_limit = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.progress_seconds = progress_seconds
        self.report = report or logger.info
        self.stop_requested = threading.Event()
        self.stats = ConsumerStats()
        self._consumer = None
        self._topic_id = None
        self._suspect, self._reset_done = {}, set()
        self._faults = 0
        self._resender = None
        self._next_resend = 0.0
        self._unassigned_since = None
        self._join_seconds = settings.KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS  # for the current consumer's join

    # --- lifecycle ---

    def _new_consumer(self):
        from kafka import KafkaConsumer
        from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor

        ensure_topic(self.topic, timeout_ms=CONNECT_ATTEMPT_MS)
        max_poll_ms = settings.KAFKA_MAX_POLL_INTERVAL_MS
        session_ms = min(settings.KAFKA_SESSION_TIMEOUT_MS, max_poll_ms)
        options = {**client_options(), "bootstrap_timeout_ms": CONNECT_ATTEMPT_MS}
        consumer = KafkaConsumer(
            self.topic,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=max_poll_ms,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=session_ms // 3,
            # Cooperative: when a member joins or dies only the partitions that
            # change owner pause; the others' consumers read on. (kafka-python
            # cannot offer an eager assignor beside it: stop the members of an
            # older release before starting these.)
            partition_assignment_strategy=(CooperativeStickyAssignor,),
            request_timeout_ms=max(max_poll_ms + 1000, 6000),
            **options,
        )
        self._topic_id = None
        self._suspect, self._reset_done = {}, set()
        return consumer

    def _connect(self, deadline=None):
        """A new consumer, retried with backoff (1 s doubling to 4 s) for as
        long as the broker is unreachable: a broker fault never ends the
        consumer, and a stop() ends the wait at once."""
        from kafka.errors import KafkaError

        delay = 1.0
        while not self.stop_requested.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                return self._new_consumer()
            except KafkaError as error:
                logger.warning("Kafka unreachable (%s); trying again in %.0fs", error, delay)
                self.stop_requested.wait(delay if deadline is None else max(0, min(delay, deadline - time.monotonic())))
                delay = min(delay * 2, MAX_CONNECT_BACKOFF)
        return None

    def stop(self):
        """Finish the batch in hand, commit it, and leave (SIGTERM calls this)."""
        self.stop_requested.set()

    def run(self, until=None, max_seconds=None):
        """Poll until stop() (or ``until()`` is true, or ``max_seconds`` pass)."""
        started = time.monotonic()
        last_progress = last_check = started
        try:
            while not self.stop_requested.is_set():
                if self._consumer is None:
                    self._consumer = self._connect(None if max_seconds is None else started + max_seconds)
                    if self._consumer is None:
                        break  # stopped (or out of time) while waiting for the broker
                self._guarded(self.process_batch)
                now = time.monotonic()
                self._guarded(self._watch_assignment, now)
                self._resend_when_due(now)
                if now - last_check >= LOG_CHECK_SECONDS:
                    self._guarded(self.check_log_reset)
                    last_check = now
                if now - last_progress >= self.progress_seconds:
                    self._guarded(self.progress, now - started)
                    last_progress = now
                if until is not None and until():
                    break
                if max_seconds is not None and now - started >= max_seconds:
                    break
        finally:
            self.close()
        return self.stats

    def _guarded(self, step, *args):
        """Run one step of the loop; a Kafka fault pauses it (a second, or
        until stop()) instead of ending the consumer, and after
        REBUILD_AFTER_FAULTS faults in a row the consumer is built afresh."""
        from kafka.errors import KafkaError

        try:
            step(*args)
        except KafkaError as error:
            self._faults += 1
            logger.warning("Kafka fault (%s); carrying on", error)
            if self._faults >= REBUILD_AFTER_FAULTS and self._consumer is not None:
                self._close_consumer()
                self.stats.rebuilt += 1
                self._faults = 0
            self.stop_requested.wait(1.0)
        else:
            self._faults = 0

    def check_log_reset(self):
        """Detect a log that started again (a broker that lost its data, a
        recreated topic): the topic's id changed, or a partition's end is
        below our position. Those partitions are read again from their start,
        so nothing is skipped and the lag is not reported as 0 for unread messages."""
        consumer = self._consumer
        if consumer is None:
            return
        assignment = list(consumer.assignment())
        if not assignment:
            return
        topic_id = consumer._client.cluster.topic_id(self.topic)
        recreated = topic_id is not None and self._topic_id is not None and topic_id != self._topic_id
        self._topic_id = topic_id or self._topic_id
        ends = consumer.end_offsets(assignment, timeout_ms=CHECK_TIMEOUT_MS)
        # Only partitions whose end the broker reported below our position on
        # two checks in a row (a missing or momentary answer is not a new log),
        # and once per episode: a partition is not read again from its start
        # until its end has been seen at or past our position.
        reset = []
        for tp in assignment:
            if tp not in ends:
                continue
            if recreated or ends[tp] < self._position(consumer, tp):
                self._suspect[tp] = self._suspect.get(tp, 0) + 1
                if recreated or (self._suspect[tp] >= 2 and tp not in self._reset_done):
                    reset.append(tp)
                    self._reset_done.add(tp)
            else:
                self._suspect.pop(tp, None)
                self._reset_done.discard(tp)
        if reset:
            logger.warning("The log of %s started again (%s); reading it from the start", self.topic, reset)
            consumer.seek_to_beginning(*reset)
            self.stats.log_resets += 1

    @staticmethod
    def _position(consumer, tp):
        position = consumer.position(tp, timeout_ms=CHECK_TIMEOUT_MS)
        return -1 if position is None else position

    def _close_consumer(self):
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                # Bounded: leaving the group of a broker that is gone must not hold a SIGTERM.
                consumer.close(autocommit=False, timeout_ms=CHECK_TIMEOUT_MS)
            except Exception as error:  # noqa: BLE001 - closing a broken consumer
                logger.warning("Consumer closed uncleanly (%s)", error)

    def close(self):
        self._close_consumer()
        if self._resender is not None:
            # Unsent re-sends stay in the outbox: nothing to report beyond a log line.
            self._resender.close()
            self._resender = None

    def _watch_assignment(self, now):
        """Rebuild a consumer that has had no partitions for too long."""
        from kafka.errors import KafkaError

        base = settings.KAFKA_NO_ASSIGNMENT_TIMEOUT_SECONDS
        if self._consumer is None:
            return
        if self._consumer.assignment():
            self._unassigned_since = None
            self._join_seconds = base
            return
        if self._unassigned_since is None:
            self._unassigned_since = now
        if now - self._unassigned_since < self._join_seconds:
            return
        logger.warning("No partitions of %s assigned for %ds; rebuilding the consumer", self.topic, self._join_seconds)
        self._unassigned_since = now
        self._join_seconds = min(2 * self._join_seconds, MAX_JOIN_BACKOFF * base)
        try:
            replacement = self._new_consumer()
        except KafkaError as error:
            logger.warning("Kafka still unreachable (%s); keeping the old consumer", error)
            return
        self._close_consumer()
        self._consumer = replacement
        self.stats.rebuilt += 1

    # --- one batch ---

    def process_batch(self):
        records = self._consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.batch_limit)
        messages = [message for batch in records.values() for message in batch]
        if not messages:
            return 0
        events, from_outbox, dead = [], [], []
        for message in messages:
            try:
                event = from_message(message.value)
            except InvalidEvent as reason:
                dead.append(_dead_letter(message, str(reason)))
                continue
            events.append(event)
            if any(name == OUTBOX_HEADER for name, _ in message.headers or ()):
                from_outbox.append(event)
        started = time.monotonic()
        self._write(events, dead, from_outbox)
        self._commit()
        self._fit_batch_limit(time.monotonic() - started)
        self.stats.batches += 1
        self.stats.messages += len(messages)
        self.stats.stored += len(events)
        self.stats.dead_lettered += len(dead)
        return len(messages)

    def _write(self, events, dead, from_outbox=()):
        """Write until it succeeds; a store outage pauses the consumer rather
        than dropping events. Only events re-sent from the outbox have rows
        there to delete: the normal path writes the database once per event."""
        delay = 0.2
        while True:
            try:
                with transaction.atomic():
                    self.store.write(events)
                    outbox.forget(from_outbox)
                    if dead:
                        DeadLetter.objects.bulk_create(dead, ignore_conflicts=True)
                return
            except (StoreUnavailable, DatabaseError) as error:
                # A locked SQLite file or a MySQL restart is waited out like a DynamoDB outage.
                # Outside a transaction (always, in the command) a broken connection
                # is dropped so the next try reconnects; inside one (a caller's, a
                # test's) closing it would throw away the caller's work.
                if not connection.in_atomic_block:
                    connection.close_if_unusable_or_obsolete()
                if self.stop_requested.is_set():
                    # Leave without committing: the batch comes again next time.
                    raise
                logger.warning("Store unavailable (%s); retrying the batch in %.1fs", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _fit_batch_limit(self, seconds):
        """Keep a batch well inside max_poll_interval: a slower store (DynamoDB
        under throttling) would otherwise get the consumer thrown out of the
        group before it commits, and the same batch would come back forever."""
        budget = settings.KAFKA_MAX_POLL_INTERVAL_MS / 1000 / 4
        if seconds > budget and self.batch_limit > 10:
            self.batch_limit = max(10, self.batch_limit // 2)
            logger.info("Batch took %.1fs; polling at most %d messages now", seconds, self.batch_limit)
        elif seconds < budget / 8 and self.batch_limit < self.max_records:
            self.batch_limit = min(self.max_records, self.batch_limit * 2)

    def _commit(self):
        from kafka.errors import KafkaError

        try:
            self._consumer.commit()
        except KafkaError as error:
            # The batch is stored; a redelivery after this is absorbed by the store.
            logger.warning("Offset commit failed (%s); the batch may be delivered again", error)

    # --- progress and outbox ---

    def progress(self, elapsed):
        from kafka.errors import KafkaError

        if self._consumer is None:
            return
        assignment = list(self._consumer.assignment())
        self.stats.assigned = len(assignment)
        try:
            ends = self._consumer.end_offsets(assignment, timeout_ms=CHECK_TIMEOUT_MS) if assignment else {}
            self.stats.lag = {
                f"{tp.topic}[{tp.partition}]": max(
                    0, ends[tp] - self._consumer.position(tp, timeout_ms=CHECK_TIMEOUT_MS)
                )
                for tp in assignment
            }
        except KafkaError as error:
            logger.warning("Could not read the lag (%s)", error)
        else:
            record_consumer_heartbeat(self.group_id, self.topic, self.stats.lag, self.stats.messages)
        rate = self.stats.messages / elapsed if elapsed else 0.0
        self.report(f"consume_events: {self.stats.summary()}, {rate:.0f} msg/s, outbox {outbox.size()}")

    def resend_outbox(self, limit=1000, budget_seconds=2.0):
        """Send again the outbox rows that are due, batch after batch while
        there are more and the time budget lasts (the backlog sets the pace,
        not a fixed cap), through the same acknowledged send as the web."""
        from kafka.errors import KafkaError

        if self._resender is None:
            self._resender = ConfirmedSender(self.topic, timeout=10)
        send = lambda due: self._resender.send(due, from_outbox=True)  # noqa: E731
        deadline, resent = time.monotonic() + budget_seconds, 0
        try:
            # Events of web processes that died before the broker acknowledged their hand-off.
            journal.recover_into_outbox()
        except (DatabaseError, OSError, outbox.EveryItemRefused) as error:
            logger.warning("Hand-off journal not recovered (%s); resending the outbox anyway", error)
        try:
            while time.monotonic() < deadline and not self.stop_requested.is_set():
                count = outbox.resend_due(send, limit)
                resent += count
                if count < limit:
                    break
        except KafkaError as error:
            logger.warning("Outbox resend failed (%s); will try again", error)
        except (DatabaseError, OSError) as error:
            logger.warning("Outbox not readable (%s); will try again", error)
        if resent:
            self.stats.resent += resent
            logger.info("Re-sent %d outbox event(s) to %s", resent, self.topic)
        return resent

    def _resend_when_due(self, now):
        """Outbox rows come from sends the broker did not acknowledge, so they
        are due at once: check every OUTBOX_CHECK_SECONDS, and again straight
        away while a backlog is being sent."""
        if now < self._next_resend:
            return
        resent = self.resend_outbox()
        self._next_resend = time.monotonic() + (0 if resent else OUTBOX_CHECK_SECONDS)


def _dead_letter(message, reason):
    def text(raw):
        if raw is None:
            return ""
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    key, value = text(message.key), text(message.value)
    return DeadLetter(
        digest=DeadLetter.digest_of(message.topic, message.partition, message.offset, key, value),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key[:1000],
        value=value[:10000],
        reason=reason[:1000],
    )
