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
