"""Serving measurements the dashboard reads (the consumers' heartbeats are
events/heartbeat.py).

The writer is best effort: a page must keep working when the measurement
cannot be stored, so a failed write is logged and dropped.
"""

import logging

from django.db import DatabaseError, transaction

from predictors.models import RecommendationImpression

log = logging.getLogger(__name__)


def record_impression(result, visitor_key):
    """Stores one served list (a ``serving.Recommendation``) with its latency."""
    try:
        # A savepoint: under ATOMIC_REQUESTS a failed insert must not break the page's transaction.
        with transaction.atomic():
            RecommendationImpression.objects.create(
                model_name=result.model_name,
                version_label=result.version_label or "",
                fallback=result.fallback or "",
                visitor_key=visitor_key or "",
                movie_ids=[int(pk) for pk in result.movie_ids],
                seconds=result.seconds,
            )
    except DatabaseError:
        log.warning("could not record a %s impression", result.model_name, exc_info=True)
