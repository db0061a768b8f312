"""The database driver's own cursor, for the statements every click writes
(events/stores/sql.py) and the small reads every recommendation answer makes
(the visitor's history, the catalog version, the active model versions): for
statements this small, Django's cursor wrapper, its execute wrappers and
SQLite's placeholder rewrite of the whole statement cost more than running
it (docs/tuning.md, "Click writes" and "Uncached recommendations").

What Django's cursor does that matters is kept: errors come as Django's (a
locked SQLite file is still a DatabaseError), a broken transaction is still
refused, and a statement is logged where Django logs it whenever someone
reads that log (DEBUG, a test's CaptureQueriesContext), so a test that counts
a page's queries counts these. A connection with execute wrappers (a test
that makes the database fail, instrumentation) gets Django's cursor itself.
"""

import re
import time
from contextlib import contextmanager

from django.db import transaction

FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")
_driver_sql = {}  # Django SQL -> the same in the driver's placeholders


def driver_sql(connection, sql):
    """``sql`` with Django's %s placeholders in the driver's own style (SQLite's
    ?, converted as Django's SQLite cursor does; kept per statement)."""
    if connection.vendor != "sqlite":
        return sql
    converted = _driver_sql.get(sql)
    if converted is None:
        if len(_driver_sql) > 256:  # statements are few (a handful of shapes); never grow without end
            _driver_sql.clear()
        converted = _driver_sql[sql] = FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")
    return converted


_per_database = {}  # (alias, vendor, key) -> what ``per_database`` built


def per_database(connection, key, build):
    """build() once per database (its alias and vendor) and ``key``: the
    statements and prepared values a click needs, which depend on nothing else."""
    slot = (connection.alias, connection.vendor, key)
    if slot not in _per_database:
        _per_database[slot] = build()
    return _per_database[slot]


@contextmanager
def driver_cursor(connection):
    """The database driver's own cursor of Django's ``connection``, its errors
    raised as Django's (a locked SQLite file is still a DatabaseError).
    Statements run on it bypass Django's query log (connection.queries,
    CaptureQueriesContext, execute_wrapper): count writes by their rows.

    Like Django's own cursor it first drops a connection that failed its
    health check (a restarted server) and refuses to run in a broken
    transaction, so a caller outside atomic() reconnects as before."""
    connection.close_if_health_check_failed()
    connection.validate_no_broken_transaction()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


@contextmanager
def driver_transaction(connection):
    """One transaction on the driver's own cursor (yielded), committed when
    the block ends and rolled back when it raises. On SQLite in autocommit
    mode its BEGIN and COMMIT go straight to the driver, the same statements
    Django's atomic() sends (the connection's transaction mode included), as
    atomic()'s own bookkeeping cost more than the commit on a click. Inside an
    atomic block (a caller's, a test case's) or on another database it is
    atomic() itself, so nesting and savepoints behave as Django's."""
    if connection.vendor != "sqlite" or connection.in_atomic_block or not connection.get_autocommit():
        with transaction.atomic(using=connection.alias), driver_cursor(connection) as cursor:
            yield cursor
        return
    with driver_cursor(connection) as cursor:
        mode = connection.transaction_mode
        cursor.execute("BEGIN" if mode is None else f"BEGIN {mode}")
        try:
            yield cursor
            connection.connection.commit()
        except BaseException:
            # As atomic() does, a failed COMMIT (SQLITE_BUSY leaves the transaction
            # open) is rolled back too; a no-op when SQLite already ended it.
            connection.connection.rollback()
            raise


def fetch_all(connection, sql, params):
    """The rows of ``sql`` (Django's placeholders) with ``params``, as
    ``connection.cursor()`` would fetch them."""
    if connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    logged = connection.queries_logged
    started = time.monotonic() if logged else 0.0
    with driver_cursor(connection) as cursor:
        cursor.execute(driver_sql(connection, sql), params)
        rows = cursor.fetchall()
        if logged:  # as Django's CursorDebugWrapper logs it
            executed = connection.ops.last_executed_query(cursor, sql, params)
            connection.queries_log.append({"sql": executed, "time": f"{time.monotonic() - started:.3f}"})
    return rows
