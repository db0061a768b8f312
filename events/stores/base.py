"""What every click-log store answers; the backends are events/stores/sql.py
and events/stores/dynamodb.py, chosen by ``settings.CLICKLOG_STORE``.

Writes are idempotent on the event id: storing the same event again (a Kafka
redelivery, an outbox resend) leaves one copy. As it stores events, a store
also keeps "Popular now" up to date: one vote per (visitor, movie, time
bucket), written insert-if-absent, and for each new vote one more visitor on
the movie's counter of that bucket, so reading a window costs the same
however many clicks it holds.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings

from events.records import EVENT_TYPES, VOTING_TYPES

logger = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The store could not be written after retrying; nothing was lost, try later."""


class ClickLogStore:
    name = "abstract"
    # True when event_counts rounds its windows out to whole counter buckets.
    approximate_counts = False

    def write(self, events):
        """Store ``events`` (an iterable of Event); already stored ones are
        skipped. Counts each new (visitor, movie, bucket) vote for popular_counts."""
        raise NotImplementedError

    def write_in_turn(self, events):
        """``write`` as a group commit's leader calls it (events/group_commit.py):
        a store whose writers take turns on one file waits for its turn here."""
        self.write(events)

    def after_group_write(self):
        """Housekeeping after a group commit's write, outside the writers' turn; none by default."""

    def history(self, visitor_keys, limit, event_types=None, since=None):
        """Events of these visitors, newest first, at most ``limit``; only of
        ``event_types`` and timestamped at or after ``since`` when given."""
        raise NotImplementedError

    def history_and_outbox(self, visitor_keys, limit, event_types=None):
        """``history`` plus the outbox's pending events of these visitors
        (each part's newest ``limit``), in no order: what a page reads of a
        visitor. The outbox still answers while the store is unavailable."""
        from events import outbox

        try:
            stored = self.history(visitor_keys, limit, event_types)
        except StoreUnavailable as error:
            logger.warning("History read without the store (%s)", error)
            stored = []
        return stored + outbox.pending(visitor_keys, limit, event_types)

    def latest_rating(self, visitor_keys, movie_id):
        """The newest rating or rating_cleared event of these visitors for
        ``movie_id``, or None (a rating_cleared one has rating None)."""
        raise NotImplementedError

    def delete_visitor_events(self, visitor_key, event_ids=None):
        """Delete this one visitor's events with these ids (all of them when
        ``event_ids`` is None); another visitor's events are never touched,
        whatever their ids. Returns how many events were deleted.

        Derived state follows: a visitor's "Popular now" vote for a movie and
        bucket is withdrawn (the movie's counter goes down by one) when none
        of their remaining events backs it, so counters stay equal to distinct
        visitors of the stored events; the kept latest rating falls back to
        the newest remaining one. Votes already pruned (older than the window)
        are not counted any more and stay as they are."""
        raise NotImplementedError

    def popular_counts(self, since, now):
        """{movie_id: distinct visitors summed over the popularity buckets from
        the one holding ``since`` to the one holding ``now``}."""
        raise NotImplementedError

    def event_counts(self, windows, now):
        """{label: {event type: events timestamped since that window's start}}
        for ``windows`` = {label: start}, every type included (zeros too), read
        once for all windows."""
        raise NotImplementedError


def zero_counts(windows):
    return {label: dict.fromkeys(EVENT_TYPES, 0) for label in windows}


def bucket_start(moment, size):
    """The start (UTC) of the bucket of length ``size`` that ``moment`` falls in."""
    seconds = int(size.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, UTC)


def bucket_starts(since, now, size):
    """The starts of every bucket from the one holding ``since`` to the one holding ``now``."""
    starts, start = [], bucket_start(since, size)
    while start <= now:
        starts.append(start)
        start += size
    return starts


def popularity_bucket():
    return timedelta(minutes=settings.POPULAR_BUCKET_MINUTES)


def popularity_window():
    return timedelta(hours=settings.POPULAR_WINDOW_HOURS)


def votes(events):
    """The distinct (bucket start, movie_id, visitor_key) votes in ``events``
    (clicks, views, ratings and likes), in a fixed order."""
    size = popularity_bucket()
    return sorted(
        {
            (bucket_start(event.timestamp, size), event.movie_id, event.visitor_key)
            for event in events
            if event.event_type in VOTING_TYPES and event.movie_id is not None
        }
    )
