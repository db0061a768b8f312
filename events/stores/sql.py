"""The click log as a SQL table (ClickEvent, SQLite or MySQL): the default store.

"Popular now" is kept in two small tables beside it, in the same transaction
as the events: PopularityVote (one row per visitor, movie and bucket) and
PopularityCount (distinct visitors per movie and bucket). Votes older than
the window are pruned as time moves on; the counts stay, a few rows per
movie and bucket.
"""

from collections import Counter
from datetime import UTC, datetime

from django.db import router, transaction
from django.db.models import Count, F, Q, Sum

from events.group_commit import checkpoint_soon, sqlite_writer_turn, without_autocheckpoint
from events.models import ClickEvent, OutboxEvent, PopularityCount, PopularityVote
from events.records import RATING_TYPES, VOTING_TYPES
from events.rows import (
    driver_sql,
    events_from,
    insert_events_on,
    insert_ignoring_sql,
    newest_events,
    newest_events_of_tables,
    time_adapter,
    visitor_rows,
    writer,
)
from events.stores.base import (
    ClickLogStore,
    bucket_start,
    popularity_bucket,
    popularity_window,
    votes,
    zero_counts,
)
from sitewide.driver_reads import driver_transaction, per_database


class SqlClickLogStore(ClickLogStore):
    name = "sql"

    def __init__(self):
        self._votes_pruned_before = None

    def write(self, events):
        events = list(events)
        if not events:
            return
        # One transaction (one commit) per batch; the unique event_id makes a
        # redelivered event a no-op, the unique vote a redelivered vote. The
        # vote tables live beside the click log, in its database.
        connection = writer(ClickEvent)
        with driver_transaction(connection) as cursor:
            insert_events_on(cursor, connection, ClickEvent, events, stored_at=datetime.now(UTC))
            self._count_votes(cursor, connection, events)
            self._prune_votes(cursor, connection, max(event.timestamp for event in events))

    def write_in_turn(self, events):
        # SQLite: the processes' writers take turns through a lock file, and
        # checkpoint after their turn (after_group_write), not inside it.
        without_autocheckpoint(ClickEvent)
        with sqlite_writer_turn(ClickEvent):
            self.write(events)

    def after_group_write(self):
        checkpoint_soon(ClickEvent)

    def _count_votes(self, cursor, connection, events):
        adapt = time_adapter(connection)
        insert_vote = insert_ignoring_sql(connection, PopularityVote, ("bucket", "movie_id", "visitor_key"))
        new_visitors = Counter()
        # One statement per vote: only its own row count says whether this vote is new.
        for bucket, movie_id, visitor_key in votes(events):
            cursor.execute(insert_vote, (adapt(bucket), movie_id, visitor_key))
            if cursor.rowcount == 1:
                new_visitors[bucket, movie_id] += 1
        if not new_visitors:
            return
        insert_count = insert_ignoring_sql(connection, PopularityCount, ("bucket", "movie_id", "visitors"))
        add_visitors = _statement(connection, "add visitors", _add_visitors_sql)
        for (bucket, movie_id), n in sorted(new_visitors.items()):
            bucket = adapt(bucket)
            cursor.execute(add_visitors, (n, bucket, movie_id))
            if cursor.rowcount:
                continue
            cursor.execute(insert_count, (bucket, movie_id, n))
            if cursor.rowcount != 1:  # another writer created it meanwhile
                cursor.execute(add_visitors, (n, bucket, movie_id))

    def _prune_votes(self, cursor, connection, newest):
        """Drop the votes of buckets that have left the window (once per bucket and process)."""
        horizon = bucket_start(newest - popularity_window(), popularity_bucket())
        if horizon != self._votes_pruned_before:
            prune = _statement(connection, "prune votes", _prune_votes_sql)
            cursor.execute(prune, (connection.ops.adapt_datetimefield_value(horizon),))
            self._votes_pruned_before = horizon

    def history(self, visitor_keys, limit, event_types=None, since=None):
        return newest_events(ClickEvent, visitor_keys, limit, event_types, since)

    def history_and_outbox(self, visitor_keys, limit, event_types=None):
        """One query for both tables when they share a database."""
        if router.db_for_read(ClickEvent) != router.db_for_read(OutboxEvent):
            return super().history_and_outbox(visitor_keys, limit, event_types)
        return newest_events_of_tables((ClickEvent, OutboxEvent), visitor_keys, limit, event_types)

    def latest_rating(self, visitor_keys, movie_id):
        found = newest_events(ClickEvent, visitor_keys, 1, RATING_TYPES, movie_id=movie_id)
        return found[0] if found else None

    def delete_visitor_events(self, visitor_key, event_ids=None):
        """See ClickLogStore: one transaction deletes the rows and withdraws
        the votes no remaining event of the visitor backs."""
        rows = visitor_rows(ClickEvent, visitor_key, event_ids)
        with transaction.atomic():
            doomed = events_from(rows.select_for_update())
            if not doomed:
                return 0
            deleted, _ = rows.delete()
            size = popularity_bucket()
            for bucket, movie_id, _ in votes(doomed):
                still_backed = ClickEvent.objects.filter(
                    visitor_key=visitor_key,
                    movie_id=movie_id,
                    event_type__in=VOTING_TYPES,
                    timestamp__gte=bucket,
                    timestamp__lt=bucket + size,
                ).exists()
                if still_backed:
                    continue
                vote = PopularityVote.objects.filter(bucket=bucket, movie_id=movie_id, visitor_key=visitor_key)
                if vote.delete()[0]:
                    PopularityCount.objects.filter(bucket=bucket, movie_id=movie_id, visitors__gt=0).update(
                        visitors=F("visitors") - 1
                    )
        return deleted

    def popular_counts(self, since, now):
        rows = PopularityCount.objects.filter(bucket__gte=bucket_start(since, popularity_bucket()), bucket__lte=now)
        summed = rows.values("movie_id").annotate(n=Sum("visitors")).order_by()
        # A count can be 0 once its visitors deleted their events.
        return {row["movie_id"]: row["n"] for row in summed if row["n"] > 0}

    def event_counts(self, windows, now):
        # One GROUP BY event_type over the widest window, one filtered count per window.
        labels = list(windows)
        per_window = {f"n{i}": Count("pk", filter=Q(timestamp__gte=windows[label])) for i, label in enumerate(labels)}
        rows = ClickEvent.objects.filter(timestamp__gte=min(windows.values())).values("event_type")
        counts = zero_counts(windows)
        for row in rows.annotate(**per_window).order_by():
            for i, label in enumerate(labels):
                counts[label][row["event_type"]] = row[f"n{i}"]
        return counts


def _statement(connection, name, build):
    """The statement ``build(quote)`` writes, in the driver's placeholders: plain SQL,
    as the ORM's update and delete cost more per click than the statements (built once per database)."""
    return per_database(connection, name, lambda: driver_sql(connection, build(connection.ops.quote_name)))


def _add_visitors_sql(quote):
    return (
        f"UPDATE {quote(PopularityCount._meta.db_table)} SET {quote('visitors')} = {quote('visitors')} + %s "
        f"WHERE {quote('bucket')} = %s AND {quote('movie_id')} = %s"
    )


def _prune_votes_sql(quote):
    return f"DELETE FROM {quote(PopularityVote._meta.db_table)} WHERE {quote('bucket')} < %s"


Store = SqlClickLogStore
