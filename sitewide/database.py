"""The database as a web request sees it: a short wait for a locked SQLite
file, and a sentence (503) instead of a 500 when the database refuses a write
(read-only data folder, a lock held past that wait, a database restarting).

The consumer and the background writers keep the longer
SQLITE_BUSY_TIMEOUT_SECONDS: they retry, a visitor should not wait.
"""

import logging

from django.conf import settings
from django.db import OperationalError, connection

from sitewide.errors import error_response

logger = logging.getLogger(__name__)

UNAVAILABLE = "The site cannot save changes right now (its database is busy or read-only); please try again later."


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if connection.vendor == "sqlite":
            self._short_wait()
        return self.get_response(request)

    @staticmethod
    def _short_wait():
        """Once per connection (a request thread keeps its own for CONN_MAX_AGE)."""
        try:
            connection.ensure_connection()
        except OperationalError:
            return  # the view's first query reports it
        raw = connection.connection
        if getattr(connection, "web_busy_timeout_of", None) is not raw:
            raw.execute(f"PRAGMA busy_timeout = {int(settings.SQLITE_WEB_BUSY_TIMEOUT_SECONDS * 1000)}")
            connection.web_busy_timeout_of = raw

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError):
            return None  # a bug, not the database's state: the usual 500
        logger.warning("A request met an unavailable database (%s): answered 503", exception)
        return error_response(request, 503, "Try again later", UNAVAILABLE)
