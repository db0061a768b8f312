"""The database as a web request sees it: a short wait for a locked SQLite
file, and a sentence (503) instead of a 500 when the database refuses a write
(read-only data folder, a lock held past that wait, a database restarting).

The consumer and the background writers keep the longer
SQLITE_BUSY_TIMEOUT_SECONDS: they retry, a visitor should not wait. So do
views marked ``waits_for_database`` (the events endpoint): a click is a
keepalive POST from a page that is going away, so no script is left to retry
a 503, and a write that waits is worth more than an answer that comes soon.

Only errors that say the database is busy, read-only or unreachable become a
503; any other database error (a missing table or column) is a bug and takes
the usual 500 path with its traceback.

The middleware's ``process_exception`` sees what the view raises (and what a
TemplateResponse raises while it renders). A write in another middleware's
response phase (SessionMiddleware saving a session the view changed) fails
after that, where Django turns it into a 500 with the site's 500 handler:
``server_error`` answers those with the same 503. (A streaming body is made
after its 200 has started, too late for any other answer; the site streams none.)
"""

import logging
import sys
import time

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection

from sitewide import errors
from sitewide.errors import error_response

logger = logging.getLogger(__name__)

UNAVAILABLE = "The site cannot save changes right now (its database is busy or read-only); please try again later."
RETRY_AFTER_SECONDS = 5

# SQLite's messages for a lock held too long, a read-only file, a file it cannot open.
SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "attempt to write a readonly database",
    "unable to open database",
)
# MySQL/MariaDB: lock wait timeout, deadlock, --read-only, read-only
# transaction, server gone away, connection lost during a query.
MYSQL_UNAVAILABLE = {1205, 1213, 1290, 1836, 2006, 2013}
LOG_EVERY_SECONDS = 60
_last_logged = 0.0


def waits_for_database(view):
    """Mark ``view``: on SQLite its writes wait SQLITE_BUSY_TIMEOUT_SECONDS for a lock, not the web's short wait."""
    view.waits_for_database = True
    return view


def is_unavailable(error):
    """Whether database ``error`` means busy, read-only or unreachable (worth a retry), not a bug."""
    if not isinstance(error, DatabaseError):
        return False
    code = error.args[0] if error.args else None
    if isinstance(code, int):
        return code in MYSQL_UNAVAILABLE
    message = str(error).lower()
    return any(phrase in message for phrase in SQLITE_UNAVAILABLE)


def log_unavailable(error, what="A request"):
    """Warn with the traceback, at most once a minute per process (a locked file fails many requests at once)."""
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= LOG_EVERY_SECONDS or not _last_logged:
        _last_logged = now
        logger.warning("%s met an unavailable database (%s): answered 503", what, error, exc_info=error)
    else:
        logger.debug("%s met an unavailable database (%s): answered 503", what, error)


class DatabaseBusyMiddleware:
    """Sets each request's SQLite busy timeout once, in ``process_view``, from
    what its view declares (``waits_for_database``): the view is resolved by
    then, and no middleware before it touches the database (sessions and the
    user load lazily). A request that reaches no view (a 404, a redirect)
    keeps the connection's timeout: it only reads."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if connection.vendor == "sqlite":
            if getattr(view_func, "waits_for_database", False):
                self._wait(settings.DATABASES["default"]["OPTIONS"].get("timeout", 5.0))
            else:
                self._wait(settings.SQLITE_WEB_BUSY_TIMEOUT_SECONDS)
        return None

    @staticmethod
    def _wait(seconds):
        """Set the busy timeout when it differs (a request thread keeps its connection for CONN_MAX_AGE)."""
        try:
            connection.ensure_connection()
        except OperationalError:
            return  # the view's first query reports it
        raw, milliseconds = connection.connection, int(seconds * 1000)
        if getattr(connection, "busy_timeout_of", None) != (raw, milliseconds):
            raw.execute(f"PRAGMA busy_timeout = {milliseconds}")
            connection.busy_timeout_of = (raw, milliseconds)

    def process_exception(self, request, exception):
        if not is_unavailable(exception):
            return None  # a bug, not the database's state: the usual 500, traceback logged
        return unavailable_response(request, exception)


def unavailable_response(request, exception):
    log_unavailable(exception)
    response = error_response(request, 503, "Try again later", UNAVAILABLE)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request):
    """handler500: the 503 for an unavailable database met where
    ``process_exception`` does not see it (see the module docstring), else the site's 500."""
    exception = sys.exc_info()[1]  # Django calls the handler while handling the exception
    if is_unavailable(exception):
        return unavailable_response(request, exception)
    return errors.server_error(request)
