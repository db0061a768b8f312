"""Reading and writing event rows of the SQL tables (the outbox and the click log).

Writes are one executemany of plain tuples instead of ``bulk_create``:
building a model instance and preparing every field through the ORM was most
of the endpoint's and the consumer's CPU time per event
(benchmarks/bench_events.py). Rows whose unique key is already there are
skipped (INSERT OR IGNORE / INSERT IGNORE / ON CONFLICT DO NOTHING, whichever
the database speaks).
"""

from datetime import UTC, datetime

from django.conf import settings
from django.db import connections, router
from django.db.models import Q
from django.db.models.constants import OnConflict

from events.records import Event, well_formed_ids
from sitewide.driver_reads import driver_cursor, driver_sql, fetch_all, per_database

EVENT_FIELDS = ("event_id", "visitor_key", "event_type", "movie_id", "rating", "timestamp", "details")


def events_from(queryset):
    """The Events in a queryset of ClickEvent or OutboxEvent rows, in its order."""
    return [Event(str(row[0]), *row[1:6], row[6] or {}) for row in queryset.values_list(*EVENT_FIELDS)]


def newest_events(model, visitor_keys, limit, event_types=None, since=None, movie_id=None):
    """These visitors' events in ``model``'s table, newest first: of the given
    types, timestamped at or after ``since``, about ``movie_id``, when given.

    Every page of a visitor reads this: the query is compiled once per shape
    (model, database, number of keys, types, which filters, limit) and then
    run with this call's values; building and compiling it through the ORM
    each time cost more than running it."""
    keys = list(visitor_keys)
    if not keys or not limit:
        return []  # the ORM would compile no SQL for these (EmptyResultSet), and the answer is known
    alias = router.db_for_read(model)
    connection = connections[alias]
    shape = (model, alias, len(keys), tuple(event_types or ()), since is not None, movie_id is not None, limit)
    compiled = _compiled.get(shape)
    if compiled is None:
        compiled = _compile(shape)
    sql, slots, converters = compiled
    timestamp = model._meta.get_field("timestamp")
    values = {"since": None if since is None else timestamp.get_db_prep_value(since, connection), "movie": movie_id}
    params = [keys[slot] if isinstance(slot, int) else values[slot] if slot in values else slot[1] for slot in slots]
    return _run(connection, sql, params, converters)


def newest_events_of_tables(models, visitor_keys, limit, event_types=None):
    """``newest_events`` of several tables of one database (the click log and
    the outbox) in one statement: each table's newest ``limit``, together and
    in no order. A page reads both for every visitor; one query instead of two."""
    keys = list(visitor_keys)
    if not keys or not limit:
        return []
    alias = router.db_for_read(models[0])
    parts, params, first_converters = [], [], None
    for model in models:
        shape = (model, alias, len(keys), tuple(event_types or ()), False, False, limit)
        sql, slots, converters = _compiled.get(shape) or _compile(shape)
        parts.append(f"SELECT * FROM ({sql}) AS newest_{len(parts)}")
        params += [keys[slot] if isinstance(slot, int) else slot[1] for slot in slots]
        # The same fields in every table: the first one's converters serve all rows.
        first_converters = first_converters or converters
    return _run(connections[alias], " UNION ALL ".join(parts), params, first_converters)


def _run(connection, sql, params, converters):
    read_id, read_time, read_details = _column_readers(connection, converters)
    return [
        Event(read_id(event_id), visitor_key, event_type, movie_id, rating, read_time(moment), read_details(details))
        for event_id, visitor_key, event_type, movie_id, rating, moment, details in fetch_all(connection, sql, params)
    ]


def _column_readers(connection, converters):
    """(event id, timestamp, details) of a stored row as an Event holds them.

    The forms most databases store (the UUID's 32 hex digits, a UTC time as
    ISO text, an empty details object) are read directly; any other form goes
    through the columns' Django converters. Those converters (a uuid.UUID, a
    parsed and localised datetime, a json.loads per row) were most of the
    cost of a visitor's history read."""
    positions = {position: functions_and_expression for position, functions_and_expression in converters}

    def django(position):
        functions, expression = positions.get(position, ((), None))

        def read(value):
            for convert in functions:
                value = convert(value, expression, connection)
            return value

        return read

    id_column, time_column, details_column = (
        django(EVENT_FIELDS.index(name)) for name in ("event_id", "timestamp", "details")
    )
    times_are_utc = settings.USE_TZ and connection.timezone_name == "UTC"

    def read_id(value):
        if type(value) is str and len(value) == 32:  # uuid.hex, as Django stores a UUIDField in text
            return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
        return str(id_column(value))

    def read_time(value):
        if times_are_utc:
            # SQLite's text of a naive UTC time, or the driver's datetime of it
            # (where the column's declared type reaches the cursor).
            moment = datetime.fromisoformat(value) if type(value) is str else value
            if type(moment) is datetime and moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
        return time_column(value)

    def read_details(value):
        return {} if value is None or value == "{}" else details_column(value) or {}

    return read_id, read_time, read_details


_compiled = {}  # shape -> (SQL, where each parameter comes from, the columns' converters)
SENTINEL_MOVIE = -987_654_321


def _compile(shape):
    """newest_events' query for a shape, compiled with sentinel values that
    tell where each parameter goes: ("key" i), "since", "movie" or a constant."""
    model, alias, n_keys, event_types, has_since, has_movie, limit = shape
    sentinel_keys = [f"\x00visitor {i}" for i in range(n_keys)]
    sentinel_since = datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC)
    rows = model.objects.using(alias).filter(visitor_key__in=sentinel_keys)
    if event_types:
        rows = rows.filter(event_type__in=list(event_types))
    if has_since:
        rows = rows.filter(timestamp__gte=sentinel_since)
    if has_movie:
        rows = rows.filter(movie_id=SENTINEL_MOVIE)
    query = rows.order_by("-timestamp", "-pk")[:limit].values_list(*EVENT_FIELDS).query
    compiler = query.get_compiler(alias)
    sql, params = compiler.as_sql()
    connection = connections[alias]
    prepared_since = model._meta.get_field("timestamp").get_db_prep_value(sentinel_since, connection)
    slots = []
    for param in params:
        if param in sentinel_keys:
            slots.append(sentinel_keys.index(param))
        elif has_since and param == prepared_since:
            slots.append("since")
        elif has_movie and param == SENTINEL_MOVIE:
            slots.append("movie")
        else:
            slots.append(("constant", param))
    converters = list(compiler.get_converters([column for column, _, _ in compiler.select]).items())
    compiled = (sql, slots, converters)
    if len(_compiled) > 256:  # shapes are few (a handful of limits and type sets); never grow without end
        _compiled.clear()
    _compiled[shape] = compiled
    return compiled


def writer(model):
    """The connection that writes ``model``'s table."""
    return connections[router.db_for_write(model)]


def insert_ignoring_sql(connection, model, field_names):
    """An INSERT of one row of ``field_names`` that does nothing when a unique key is
    taken, in the driver's placeholders (built once per database, table and
    fields: every click asks for three)."""
    return per_database(
        connection,
        ("insert ignoring", model, tuple(field_names)),
        lambda: driver_sql(connection, _insert_ignoring_sql(connection, model, field_names)),
    )


def _insert_ignoring_sql(connection, model, field_names):
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
    with driver_cursor(connection) as cursor:
        insert_events_on(cursor, connection, model, events, **same_for_all)


def time_adapter(connection):
    """``connection.ops.adapt_datetimefield_value`` for the times of events.

    On SQLite with UTC connections a UTC time is stored as its naive text,
    which is what Django's adapter makes of it after checking the settings
    and converting the zone on every call; any
    other time or database goes through Django's."""
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor != "sqlite" or not settings.USE_TZ or connection.timezone_name != "UTC":
        return adapt

    def adapt_time(value):
        if type(value) is datetime and value.tzinfo is UTC:
            return str(value.replace(tzinfo=None))
        return adapt(value)

    return adapt_time


def insert_events_on(cursor, connection, model, events, **same_for_all):
    """``insert_events`` on a driver cursor of ``connection`` the caller holds (its transaction, say)."""
    adapt_time = time_adapter(connection)
    constants = tuple(
        _prepared(model._meta.get_field(name), value, connection, adapt_time) for name, value in same_for_all.items()
    )
    native_uuid = connection.features.has_native_uuid_field
    prepare_details = model._meta.get_field("details").get_db_prep_save
    no_details = _no_details(connection, model)
    rows = [
        (
            event.event_id if native_uuid else event.event_id.replace("-", ""),
            event.visitor_key,
            event.event_type,
            event.movie_id,
            event.rating,
            adapt_time(event.timestamp),
            prepare_details(event.details, connection) if event.details else no_details,
            *constants,
        )
        for event in events
    ]
    cursor.executemany(insert_ignoring_sql(connection, model, (*EVENT_FIELDS, *same_for_all)), rows)


def _prepared(field, value, connection, adapt_time):
    """``field.get_db_prep_save(value)``; a time for a DateTimeField through ``adapt_time`` (a click's stored_at)."""
    if type(value) is datetime and value.tzinfo is UTC and field.get_internal_type() == "DateTimeField":
        return adapt_time(value)
    return field.get_db_prep_save(value, connection)


def _no_details(connection, model):
    """The details column's value for an event without details (``{}``), prepared once per database and
    table: most events (every click) have none, and preparing it ran the JSON encoder per row."""
    return per_database(
        connection, ("no details", model), lambda: model._meta.get_field("details").get_db_prep_save({}, connection)
    )


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
