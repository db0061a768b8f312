"""Reading and writing event rows of the SQL tables (the outbox and the click log).

Writes are one executemany of plain tuples instead of ``bulk_create``:
building a model instance and preparing every field through the ORM was most
of the endpoint's and the consumer's CPU time per event
(benchmarks/bench_events.py). Rows whose unique key is already there are
skipped (INSERT OR IGNORE / INSERT IGNORE / ON CONFLICT DO NOTHING, whichever
the database speaks).
"""

from django.db import connections, router
from django.db.models import Q
from django.db.models.constants import OnConflict

from events.records import Event, well_formed_ids

EVENT_FIELDS = ("event_id", "visitor_key", "event_type", "movie_id", "rating", "timestamp", "details")


def events_from(queryset):
    """The Events in a queryset of ClickEvent or OutboxEvent rows, in its order."""
    return [Event(str(row[0]), *row[1:6], row[6] or {}) for row in queryset.values_list(*EVENT_FIELDS)]


def newest_events(model, visitor_keys, limit, event_types=None, since=None, movie_id=None):
    """These visitors' events in ``model``'s table, newest first: of the given
    types, timestamped at or after ``since``, about ``movie_id``, when given."""
    rows = model.objects.filter(visitor_key__in=list(visitor_keys))
    if event_types:
        rows = rows.filter(event_type__in=list(event_types))
    if since is not None:
        rows = rows.filter(timestamp__gte=since)
    if movie_id is not None:
        rows = rows.filter(movie_id=movie_id)
    return events_from(rows.order_by("-timestamp", "-pk")[:limit])


def writer(model):
    """The connection that writes ``model``'s table."""
    return connections[router.db_for_write(model)]


def insert_ignoring_sql(connection, model, field_names):
    """An INSERT of one row of ``field_names`` that does nothing when a unique key is taken."""
    ops, quote = connection.ops, connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in field_names]
    return "{insert} {table} ({columns}) VALUES ({values}) {suffix}".format(
        insert=ops.insert_statement(on_conflict=OnConflict.IGNORE),
        table=quote(model._meta.db_table),
        columns=", ".join(quote(field.column) for field in fields),
        values=", ".join(["%s"] * len(fields)),
        suffix=ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None),
    )


def insert_events(model, events, **same_for_all):
    """Insert ``events`` into ``model``'s table, with ``same_for_all`` column values on each row."""
    events = list(events)
    if not events:
        return
    connection = writer(model)
    ops = connection.ops
    constants = tuple(
        model._meta.get_field(name).get_db_prep_save(value, connection) for name, value in same_for_all.items()
    )
    native_uuid = connection.features.has_native_uuid_field
    prepare_details = model._meta.get_field("details").get_db_prep_save
    rows = [
        (
            event.event_id if native_uuid else event.event_id.replace("-", ""),
            event.visitor_key,
            event.event_type,
            event.movie_id,
            event.rating,
            ops.adapt_datetimefield_value(event.timestamp),
            prepare_details(event.details or {}, connection),
            *constants,
        )
        for event in events
    ]
    with connection.cursor() as cursor:
        cursor.executemany(insert_ignoring_sql(connection, model, (*EVENT_FIELDS, *same_for_all)), rows)


def of_events(events):
    """A filter matching the rows of exactly these events: (visitor, event id)
    pairs, grouped per visitor, so another visitor's event with the same id is
    never touched."""
    ids_per_visitor = {}
    for event in events:
        ids_per_visitor.setdefault(event.visitor_key, []).append(event.event_id)
    matches = Q(pk__in=[])
    for visitor_key, event_ids in ids_per_visitor.items():
        matches |= Q(visitor_key=visitor_key, event_id__in=event_ids)
    return matches


def visitor_rows(model, visitor_key, event_ids=None):
    """``model``'s rows of this one visitor with these ids (all when None)."""
    rows = model.objects.filter(visitor_key=visitor_key)
    if event_ids is not None:
        rows = rows.filter(event_id__in=well_formed_ids(event_ids))
    return rows
