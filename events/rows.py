"""Writing many events into a table at once (the outbox and the SQL click log).

One executemany of plain tuples instead of ``bulk_create``: building a model
instance and preparing every field through the ORM was most of the endpoint's
and the consumer's CPU time per event (benchmarks/bench_events.py). Rows whose
event_id is already there are skipped (INSERT OR IGNORE / INSERT IGNORE /
ON CONFLICT DO NOTHING, whichever the database speaks).
"""
from django.db import connections, router
from django.db.models.constants import OnConflict

from events.records import Event

EVENT_FIELDS = ("event_id", "visitor_key", "event_type", "movie_id", "rating", "timestamp")


def events_from(queryset):
    """The Events in a queryset of ClickEvent or OutboxEvent rows, in its order."""
    return [Event(str(row[0]), *row[1:]) for row in queryset.values_list(*EVENT_FIELDS)]


def insert_events(model, events, **same_for_all):
    """Insert ``events`` into ``model``'s table, with ``same_for_all`` column values on each row."""
    events = list(events)
    if not events:
        return
    connection = connections[router.db_for_write(model)]
    ops, quote = connection.ops, connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in (*EVENT_FIELDS, *same_for_all)]
    constants = tuple(
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields[len(EVENT_FIELDS):], same_for_all.values())
    )
    native_uuid = connection.features.has_native_uuid_field
    rows = [
        (
            event.event_id if native_uuid else event.event_id.replace("-", ""),
            event.visitor_key,
            event.event_type,
            event.movie_id,
            event.rating,
            ops.adapt_datetimefield_value(event.timestamp),
            *constants,
        )
        for event in events
    ]
    sql = "{insert} {table} ({columns}) VALUES ({values}) {suffix}".format(
        insert=ops.insert_statement(on_conflict=OnConflict.IGNORE),
        table=quote(model._meta.db_table),
        columns=", ".join(quote(field.column) for field in fields),
        values=", ".join(["%s"] * len(fields)),
        suffix=ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
