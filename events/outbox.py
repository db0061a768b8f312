"""The durable outbox: accepted events not yet known to be in the store.

With Kafka configured, the endpoint writes an event here only when the broker
did not acknowledge it in time (events/producers.py), and the consumer deletes
the rows once the store holds the events (the resent messages say they came
from the outbox). What is left in the table is therefore what might still be
missing from the store: it is what read-your-writes adds to a visitor's
history beside the cache (events/recent.py), and what is sent again. Inline,
it keeps what a store outage (DynamoDB) did not take, for ``drain_outbox``.
"""

from datetime import timedelta

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from events.models import OutboxEvent
from events.rows import events_from, insert_events, newest_events, of_events, visitor_rows

# Errors about the events themselves, not the database's state: writing them again cannot succeed.
PERMANENT_ERRORS = (DataError, IntegrityError, TypeError, ValueError)
# Of those, the database's verdict on a row's values. A TypeError or ValueError
# raised for every event alike is more likely our code's bug than bad events.
DATA_ERRORS = (DataError, IntegrityError)


def save(events, due_now=False):
    """Keep ``events`` until the store confirms them. ``due_now``: the broker
    did not take them, so the next resend picks them up at once instead of
    after EVENTS_OUTBOX_RESEND_SECONDS."""
    sent_at = timezone.now()
    if due_now:
        sent_at -= timedelta(seconds=settings.EVENTS_OUTBOX_RESEND_SECONDS)
    with transaction.atomic():
        insert_events(OutboxEvent, events, last_sent_at=sent_at, attempts=0 if due_now else 1)


class EveryItemRefused(Exception):
    """Each of several items failed alone with one of PERMANENT_ERRORS, not
    all of them DATA_ERRORS: the fault is taken for the system's (a bug),
    not the events'."""

    def __init__(self, count, first_error):
        super().__init__(f"all {count} items refused one by one, the first with {first_error!r}")
        self.count, self.first_error = count, first_error


def save_each_storable(items, save):
    """``save(items)``; where that fails with one of PERMANENT_ERRORS, each
    item alone, so that only the ones at fault are left out. Returns the
    items saved and the (item, error) pairs that can never be. Any other
    error is raised (what was saved before it stays: one row per event), and
    so is EveryItemRefused when every one of several items fails alone and
    not every refusal is the database's about the row (DATA_ERRORS): then
    setting them all aside would be wrong, the caller keeps them to retry.
    Several events the database refuses one by one, with no good one beside
    them (a burst of one malformed client's), are set aside like one."""
    try:
        save(items)
        return list(items), []
    except PERMANENT_ERRORS as error:
        if len(items) == 1:
            return [], [(items[0], error)]
    each = [save_each_storable([item], save) for item in items]
    saved = [item for done, _ in each for item in done]
    refused = [pair for _, pairs in each for pair in pairs]
    if not saved and not all(isinstance(error, DATA_ERRORS) for _, error in refused):
        raise EveryItemRefused(len(refused), refused[0][1])
    return saved, refused


def make_due(events):
    """The broker did not take these saved events: the next resend sends them at once."""
    events = list(events)
    if events:
        due_at = timezone.now() - timedelta(seconds=settings.EVENTS_OUTBOX_RESEND_SECONDS)
        OutboxEvent.objects.filter(of_events(events)).update(last_sent_at=due_at)


def forget(events):
    """The store holds these events now (each matched by visitor and id)."""
    events = list(events)
    if events:
        OutboxEvent.objects.filter(of_events(events)).delete()


def discard(visitor_key, event_ids=None):
    """Drop this visitor's rows with these ids (all when None); returns how many."""
    return visitor_rows(OutboxEvent, visitor_key, event_ids).delete()[0]


def pending(visitor_keys, limit, event_types=None, movie_id=None):
    """These visitors' events that may not be in the store yet, newest first
    (of ``event_types`` and about ``movie_id`` when given)."""
    return newest_events(OutboxEvent, visitor_keys, limit, event_types, movie_id=movie_id)


def due(limit=1000, sent_before=None):
    """Rows last handed over before ``sent_before`` (default: more than
    EVENTS_OUTBOX_RESEND_SECONDS ago), oldest first."""
    cutoff = sent_before or timezone.now() - timedelta(seconds=settings.EVENTS_OUTBOX_RESEND_SECONDS)
    return events_from(OutboxEvent.objects.filter(last_sent_at__lte=cutoff).order_by("last_sent_at", "pk")[:limit])


def mark_sent(events):
    events = list(events)
    if events:
        OutboxEvent.objects.filter(of_events(events)).update(last_sent_at=timezone.now(), attempts=F("attempts") + 1)


def size():
    return OutboxEvent.objects.count()


def resend_due(send, limit=1000, sent_before=None):
    """Hand the due rows to ``send`` (a callable taking the events) and note the
    attempt; the rows stay until the store confirms them. Returns how many."""
    events = due(limit, sent_before)
    if events:
        send(events)
        mark_sent(events)
    return len(events)


def store_due(store, limit=1000, sent_before=None):
    """Write the due rows straight to ``store`` and drop them (no broker)."""
    events = due(limit, sent_before)
    if events:
        with transaction.atomic():
            store.write(events)
            forget(events)
    return len(events)
