"""Django's SQLite backend for a data folder the site cannot write: each new
connection picks its read-only URI from the files present at that moment
(``sqlite_read_only_name``), so -wal/-shm files that appear or vanish after
start do not leave the site with stale pages or a database it cannot open.
The reason is logged once per change of mode."""

import logging
import time
from pathlib import Path

from django.db.backends.sqlite3 import base

from config.env import sqlite_read_only_name

logger = logging.getLogger(__name__)
_last_reason = None


class DatabaseWrapper(base.DatabaseWrapper):
    _fresh_each_request = False

    def get_connection_params(self):
        global _last_reason
        params = super().get_connection_params()
        uri, self._fresh_each_request, reason = sqlite_read_only_name(Path(self.settings_dict["READ_ONLY_PATH"]))
        if reason != _last_reason:
            _last_reason = reason
            logger.warning("The database %s opens read-only: %s.", self.settings_dict["READ_ONLY_PATH"], reason)
        params["database"] = uri
        return params

    def connect(self):
        super().connect()
        if self._fresh_each_request:
            # An immutable reader never sees another owner's change: closed at the request's end.
            self.close_at = time.monotonic()
