"""A data folder the site cannot write (a read-only mount, wrong owner) is
reported once, at start, in one sentence, instead of surfacing later as
failures of every write."""

import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def sqlite_folder():
    """The folder of the default SQLite database, or None for another database."""
    database = settings.DATABASES["default"]
    name = str(database.get("NAME") or "")
    if database["ENGINE"] != "django.db.backends.sqlite3" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).resolve().parent


def read_only_sentence(folder):
    """One sentence when ``folder`` cannot be written, else None (tried for real: root ignores permission bits)."""
    if folder is None or not folder.exists():
        return None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        return (
            f"The data folder {folder} is read-only ({os.strerror(error.errno) if error.errno else error}): "
            "pages that only read keep working, but clicks, ratings, sign-ups and training "
            "cannot be saved until it is writable."
        )
    return None


def report_read_only_data_folder():
    sentence = read_only_sentence(sqlite_folder())
    if sentence:
        logger.error(sentence)
    return sentence
