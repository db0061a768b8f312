"""What every click-log store answers; the backends are events/stores/sql.py
and events/stores/dynamodb.py, chosen by ``settings.CLICKLOG_STORE``.

Writes are idempotent on the event id: storing the same event again (a Kafka
redelivery, an outbox resend) leaves one copy.
"""
from events.records import EVENT_TYPES


class StoreUnavailable(RuntimeError):
    """The store could not be written after retrying; nothing was lost, try later."""


class ClickLogStore:
    name = "abstract"

    def write(self, events):
        """Store ``events`` (an iterable of Event); already stored ones are skipped."""
        raise NotImplementedError

    def history(self, visitor_keys, limit, event_type=None):
        """Events of these visitors, newest first, at most ``limit``."""
        raise NotImplementedError

    def event_counts(self, windows, now):
        """{label: {event type: events timestamped since that window's start}}
        for ``windows`` = {label: start}, every type included (zeros too), read
        once for all windows."""
        raise NotImplementedError


def zero_counts(windows):
    return {label: dict.fromkeys(EVENT_TYPES, 0) for label in windows}
