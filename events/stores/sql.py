"""The click log as a SQL table (ClickEvent, SQLite or MySQL): the default store."""
from datetime import datetime, timezone

from django.db import transaction
from django.db.models import Count, Q

from events.models import ClickEvent
from events.rows import events_from, insert_events
from events.stores.base import ClickLogStore, zero_counts


class SqlClickLogStore(ClickLogStore):
    name = "sql"

    def write(self, events):
        # One transaction (one commit) per batch; the unique event_id makes a
        # redelivered event a no-op.
        with transaction.atomic():
            insert_events(ClickEvent, events, stored_at=datetime.now(timezone.utc))

    def history(self, visitor_keys, limit, event_type=None):
        rows = ClickEvent.objects.filter(visitor_key__in=list(visitor_keys))
        if event_type:
            rows = rows.filter(event_type=event_type)
        return events_from(rows.order_by("-timestamp", "-pk")[:limit])

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


Store = SqlClickLogStore
