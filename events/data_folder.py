"""A data folder the site cannot write (a read-only mount, wrong owner) is
reported once, at start, in one sentence, instead of surfacing later as
failures of every write. The settings then open the SQLite file read-only
(config/settings.py), so the pages that only read keep working."""

import logging
from pathlib import Path

from django.conf import settings

from config.env import unwritable_reason

logger = logging.getLogger(__name__)


def read_only_sentence(folder, reason=None):
    """One sentence when ``folder`` cannot be written (``reason``: the OS's words, found when not given), else None."""
    if folder is None:
        return None
    reason = reason or unwritable_reason(Path(folder))
    if reason is None:
        return None
    return (
        f"The data folder {folder} is read-only ({reason}): "
        "pages that only read keep working, but clicks, ratings, sign-ups and training "
        "cannot be saved until it is writable."
    )


def report_read_only_data_folder():
    reason = getattr(settings, "SQLITE_READ_ONLY_REASON", None)
    sentence = read_only_sentence(settings.SQLITE_PATH.parent, reason) if reason else None
    if sentence:
        logger.error(sentence)
    return sentence
