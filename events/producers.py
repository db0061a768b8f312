"""How an accepted event travels: straight into the click-log store
(``InlineProducer``, no broker) or through the outbox to Kafka
(``KafkaEventProducer``), chosen by KAFKA_BOOTSTRAP_SERVERS.
"""

import atexit
import logging
import os
import queue
import threading
import time

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver

from events import outbox, recent
from events.group_commit import GroupCommit
from events.records import to_message
from events.stores import StoreUnavailable, get_store, reset_store

logger = logging.getLogger(__name__)


class EventProducer:
    """Takes accepted events; when ``publish`` returns they are durable
    (in the store or in the outbox) and on their way to the store."""

    def publish(self, events):
        raise NotImplementedError

    def close(self):
        pass


class InlineProducer(EventProducer):
    """No broker: write straight to the store, concurrent requests in one
    transaction (events/group_commit.py). A store that is down (DynamoDB)
    leaves the events in the outbox for ``drain_outbox``."""

    def __init__(self):
        self._write = GroupCommit(_write_in_turn)

    def publish(self, events):
        try:
            self._write(events)
        except StoreUnavailable as error:
            logger.warning("Store unavailable (%s); %d event(s) wait in the outbox", error, len(events))
            outbox.save(events)
            return
        get_store().after_group_write()  # after the group's turn: no other writer waits for it


def _write_in_turn(events):
    get_store().write_in_turn(events)


class KafkaEventProducer(EventProducer):
    """Kafka first, the outbox when Kafka does not acknowledge.

    By default the request does not wait for the broker (``_hand_off``): its
    events are journaled, handed to the producer and kept in the cache for
    read-your-writes, so the normal path writes the database once per event
    (the consumer's store write). With KAFKA_WAIT_FOR_ACK the request waits
    (at most KAFKA_ACK_TIMEOUT_MS) for the broker to acknowledge them instead.
    Events not acknowledged, and for KAFKA_RETRY_SECONDS after a failure all
    events, go to the outbox, due for resending at once. With
    KAFKA_OUTBOX_FIRST (a broker that can lose acknowledged messages, such as
    one without durable storage) every event is written to the outbox first.
    """

    def __init__(self, topic=None):
        from events.kafka_io import ConfirmedSender

        hands_off = not (settings.KAFKA_WAIT_FOR_ACK or settings.KAFKA_OUTBOX_FIRST)
        # No request waits on a handed-off record, so it may linger for company.
        linger_ms = settings.KAFKA_HANDOFF_LINGER_MS if hands_off else None
        self.sender = ConfirmedSender(topic or settings.KAFKA_TOPIC, linger_ms=linger_ms)
        self._pid = os.getpid()
        self._journal_lock = threading.Lock()
        self._journal_instance = None
        self._journal_failed_at = None
        self._fallback = None

    def publish(self, events):
        from kafka.errors import KafkaError

        if settings.KAFKA_OUTBOX_FIRST:
            # The broker may lose what it acknowledged: the outbox keeps every
            # event until the store has it (the message says so to the consumer).
            # Events the broker did not take are due for the resend at once, and
            # while it is known to be failing no request waits on it.
            if self.sender.recently_failed():
                outbox.save(events, due_now=True)
                return
            outbox.save(events)
            try:
                self.sender.send(events, from_outbox=True)
            except KafkaError:
                outbox.make_due(events)
            return
        if self.sender.recently_failed():
            outbox.save(events, due_now=True)
        elif not settings.KAFKA_WAIT_FOR_ACK:
            self._hand_off(events)
        else:
            try:
                self.sender.send(events)
            except KafkaError:
                outbox.save(events, due_now=True)  # the sender logged why
            else:
                recent.remember(events)

    def _hand_off(self, events):
        """Journal, hand to the producer, answer: the journal keeps the events
        until the broker acknowledges them or, when it refuses them, the
        outbox holds them (written by the journal's thread, off the request)."""
        from kafka.errors import KafkaError

        from events.kafka_io import failed_within_retry

        journal = self._journal()
        if failed_within_retry(self._journal_failed_at):
            outbox.save(events, due_now=True)  # not retried (nor logged) on every request while the folder fails
            return
        messages = [to_message(event) for event in events]  # once for the journal, the topic and the cache
        try:
            segment = journal.record(events, messages)
        except OSError as error:
            self._journal_failed_at = time.monotonic()
            logger.warning(
                "Hand-off journal not writable (%s); events go to the outbox for the next %ss",
                error,
                settings.KAFKA_RETRY_SECONDS,
            )
            outbox.save(events, due_now=True)
            return

        def settled(event, error):
            if error is None:
                journal.settle(segment)
            else:
                self._fallback.put(event, lambda: journal.settle(segment), lambda: journal.set_aside(segment, [event]))

        try:
            self.sender.hand_off(events, settled, messages)
        except KafkaError as error:
            logger.warning("Kafka did not take %d event(s) (%r); they go to the outbox", len(events), error)
            unsent = events[getattr(error, "unsent_from", 0) :]
            outbox.save(unsent, due_now=True)
            journal.settle(segment, len(unsent))
        recent.remember(events, messages)

    def _journal(self):
        with self._journal_lock:
            if self._journal_instance is None:
                from events import journal, set_aside

                # What processes that died before their events settled left: on
                # the writer's thread, off the request and outside its transaction.
                self._fallback = OutboxWriter(first=journal.recover_into_outbox)
                self._journal_instance = journal.Journal(settings.EVENTS_JOURNAL_DIR, on_set_aside=set_aside.count)
            return self._journal_instance

    def flush(self, timeout=10):
        """Wait until every handed-off event is acknowledged or in the outbox
        (with KAFKA_WAIT_FOR_ACK nothing is pending: publish returned after the ack); whether they are."""
        if self._journal_instance is None:
            return True
        return self._journal_instance.wait_settled(timeout)

    def close(self):
        if os.getpid() != self._pid:
            return  # a copy inherited by a fork: its producer, threads and segments are the parent's
        self.sender.close()
        if self._journal_instance is not None:
            self.flush(timeout=2)
            self._journal_instance.close()

    def forget_after_fork(self):
        """In a forked child, whose copy has no producer or writer thread: let go
        of the parent's journal segments so their lock stays the parent's alone."""
        if self._journal_instance is not None:
            self._journal_instance.forget_after_fork()


class OutboxWriter:
    """The outbox writes of events the broker refused after their request
    answered: one thread, retried while the writes fail (the journal keeps
    the events meanwhile, so a process that dies loses none). An event that
    can never be stored (outbox.PERMANENT_ERRORS) is logged once and handed
    to its ``set_aside`` (the journal keeps it in a file of its own, for an
    operator, and counts it settled), and the events after it are not held
    up. ``first`` runs on that thread before anything else (the orphaned
    segments' recovery)."""

    MAX_BACKOFF_SECONDS = 30

    def __init__(self, first=None):
        self._queue = queue.SimpleQueue()
        threading.Thread(target=self._run, args=(first,), name="events-outbox-writer", daemon=True).start()

    def put(self, event, done, set_aside=None):
        """``done()`` once ``event`` is in the outbox, ``set_aside()`` if it never can be."""
        self._queue.put((event, done, set_aside))

    def _run(self, first):
        if first is not None:
            try:
                first()
            except Exception:
                logger.exception("Hand-off journal not recovered; the consumer will")
        while True:
            batch = [self._queue.get()]
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            written, unstorable = self._save(batch)
            callbacks = [done for _, done, _ in written] + [set_aside for _, _, set_aside in unstorable if set_aside]
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # this thread must outlive any one batch: later events wait on it
                    logger.exception("Could not settle a refused event's journal entry")

    @classmethod
    def _save(cls, batch):
        """Write ``batch`` (``put``'s entries) to the outbox, retried with
        back-off while that fails; returns the entries written and those that
        can never be. On a permanent error each event is written alone, to
        set aside only the ones at fault; when all of several are and not by
        the database's verdict on the rows (outbox.save_each_storable), the
        fault is taken for the system's and the whole batch retried with
        back-off instead."""
        backoff = 1
        while True:
            try:
                written, unstorable = outbox.save_each_storable(batch, cls._save_retrying)
                break
            except outbox.EveryItemRefused as fault:
                logger.error("Refused events not yet in the outbox (%s); retrying in %ss", fault, backoff)
            backoff = cls._wait(backoff)
        for (event, *_), error in unstorable:
            logger.error(
                "Refused event %s of %s can never be stored in the outbox (%r); set aside, the journal keeps it",
                event.event_id,
                event.visitor_key,
                error,
            )
        return written, [entry for entry, _ in unstorable]

    @classmethod
    def _save_retrying(cls, batch):
        backoff = 1
        while True:
            try:
                outbox.save([entry[0] for entry in batch], due_now=True)
                return
            except outbox.PERMANENT_ERRORS:
                raise  # retrying cannot help: the caller sets the event aside
            except DatabaseError as error:
                logger.warning("Refused events not yet in the outbox (%s); retrying in %ss", error, backoff)
            except Exception:
                logger.exception("Refused events not yet in the outbox; retrying in %ss", backoff)
            backoff = cls._wait(backoff)

    @classmethod
    def _wait(cls, backoff):
        """Sleep ``backoff`` seconds on a fresh connection; returns the next back-off."""
        from django.db import close_old_connections

        close_old_connections()
        time.sleep(backoff)
        return min(2 * backoff, cls.MAX_BACKOFF_SECONDS)


_producer = None
_producer_lock = threading.Lock()


def get_producer():
    global _producer
    with _producer_lock:
        if _producer is None:
            _producer = KafkaEventProducer() if settings.KAFKA_BOOTSTRAP_SERVERS else InlineProducer()
        return _producer


def _close_at_exit():
    # A worker that stops cleanly leaves no settled segment behind for a recovery to resend.
    producer = _producer
    if producer is not None:
        producer.close()


atexit.register(_close_at_exit)


def _forget_inherited_producer():
    """After a fork (gunicorn --preload forks workers from a master that may
    have published): the child builds a producer, journal and locks of its own."""
    global _producer, _producer_lock
    inherited, _producer = _producer, None
    _producer_lock = threading.Lock()  # another thread may have held it at the fork
    if isinstance(inherited, KafkaEventProducer):
        inherited.forget_after_fork()


os.register_at_fork(after_in_child=_forget_inherited_producer)


PRODUCER_SETTINGS = ("KAFKA_", "CLICKLOG_", "DYNAMODB_", "AWS_", "EVENTS_JOURNAL_DIR")


@receiver(setting_changed, dispatch_uid="events.producers.reset")
def reset_producer(setting=None, **kwargs):
    """Rebuild producer and store when their settings change (tests do that)."""
    global _producer
    if setting is not None and not setting.startswith(PRODUCER_SETTINGS):
        return
    with _producer_lock:
        if _producer is not None:
            _producer.close()
        _producer = None
    reset_store()
