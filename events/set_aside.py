"""Events set aside because the outbox can never store them (events/journal.py
keeps them in ``*.unstorable`` files of the hand-off journal folder): counted
for the operator, who would otherwise only see them in the error log.

The folder is local to each machine, so each machine stores its own count in
the database (``SetAsideEvents``) for the admin dashboard. It is recounted
from the folder when an event is set aside or recovered (rare), never per
page, and by ``manage.py set_aside_events`` after an operator dealt with the files.
"""

import logging
import socket

from django.db import DatabaseError
from django.utils import timezone

from events.journal import SUFFIX, UNSTORABLE_SUFFIX, unstorable_files
from events.models import SetAsideEvents

logger = logging.getLogger(__name__)


def count(directory):
    """Recount ``directory``'s set-aside files and store the count for this
    machine (best effort: a database that refuses it is logged, the files
    stay). Returns (files, events)."""
    found = unstorable_files(directory)
    files, events = len(found), sum(events for _, events in found)
    try:
        SetAsideEvents.objects.update_or_create(
            host=socket.gethostname()[:120],
            directory=str(directory)[:255],
            defaults={"files": files, "events": events, "updated_at": timezone.now()},
        )
    except DatabaseError:
        logger.warning("Could not record the count of set-aside events in %s", directory, exc_info=True)
    return files, events


def where_set_aside():
    """The machines' folders that keep set-aside events, as stored by ``count``."""
    return list(SetAsideEvents.objects.filter(events__gt=0).order_by("host", "directory"))


def sentence(events, files, directory, host=None):
    """What an operator needs to know about one folder's set-aside events, in one sentence."""
    if not events:
        return f"No event is set aside as unstorable in {directory}{f' on {host}' if host else ''}."
    return (
        f"{events} event{'s' if events != 1 else ''} that the outbox can never store "
        f"{'are' if events != 1 else 'is'} set aside in {files} file{'s' if files != 1 else ''} "
        f"(*{UNSTORABLE_SUFFIX}, one event a line) in {directory}{f' on {host}' if host else ''}: "
        f"the error log says why; once the cause is fixed, give each a new name ending in {SUFFIX} "
        f"(requeued-1{SUFFIX}, say) and the next recovery stores them."
    )
