"""Serving measurements the dashboard reads (the consumers' heartbeats are
events/heartbeat.py).

The writer is best effort: a page must keep working when the measurement
cannot be stored, so a failed write is logged and dropped. Impressions are
gathered per process and written together, in one transaction, after the
response of the first request that finds them IMPRESSION_FLUSH_SECONDS old
(and at exit): one commit per page was most of a cached model page's time,
and SQLite's single writer made concurrent pages queue behind each other.
The dashboard's numbers are a few seconds behind instead.
"""

import atexit
import logging
import threading
import time

from django.conf import settings
from django.core.signals import request_finished
from django.db import DatabaseError, transaction

from predictors.models import RecommendationImpression

log = logging.getLogger(__name__)

MAX_PENDING = 1000  # written at once beyond this, however young

_pending = []
_oldest = [None]  # monotonic time of the oldest pending impression
_lock = threading.Lock()


def record_impression(result, visitor_key):
    """Keeps one served list (a ``serving.Recommendation``) with its latency for the next write."""
    row = RecommendationImpression(
        model_name=result.model_name,
        version_label=result.version_label or "",
        fallback=result.fallback or "",
        visitor_key=visitor_key or "",
        movie_ids=[int(pk) for pk in result.movie_ids],
        seconds=result.seconds,
    )
    with _lock:
        _pending.append(row)
        if _oldest[0] is None:
            _oldest[0] = time.monotonic()
        full = len(_pending) >= MAX_PENDING
    if full or settings.IMPRESSION_FLUSH_SECONDS <= 0:
        flush_impressions()


def flush_impressions():
    """Writes the pending impressions now (one transaction); returns how many."""
    with _lock:
        rows = _pending[:]
        _pending.clear()
        _oldest[0] = None
    if not rows:
        return 0
    try:
        # A savepoint: under ATOMIC_REQUESTS a failed insert must not break the page's transaction.
        with transaction.atomic():
            RecommendationImpression.objects.bulk_create(rows)
    except DatabaseError:
        log.warning("could not record %d impressions", len(rows), exc_info=True)
        return 0
    return len(rows)


def _flush_when_due(**kwargs):
    oldest = _oldest[0]
    if oldest is not None and time.monotonic() - oldest >= settings.IMPRESSION_FLUSH_SECONDS:
        flush_impressions()


request_finished.connect(_flush_when_due, dispatch_uid="predictors.metrics_log.flush")
atexit.register(flush_impressions)
