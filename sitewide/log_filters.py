"""Filters named in settings.LOGGING (imported while logging is configured,
before the apps are ready, so they import the rest of the site lazily)."""

import logging


class SkipUnavailableDatabase(logging.Filter):
    """Drops django.request's ERROR for a 503 that sitewide.database.server_error
    answered for a busy or read-only database: ``log_unavailable`` has said so
    already, at most once a minute, where this would log (or mail) a traceback
    per request while the lock lasts."""

    def filter(self, record):
        from sitewide.database import is_unavailable

        error = record.exc_info[1] if record.exc_info else None
        return not (getattr(record, "status_code", None) == 503 and is_unavailable(error))
