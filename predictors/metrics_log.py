"""Serving measurements the dashboard reads (the consumers' heartbeats are
events/heartbeat.py).

The writer is best effort: a page must keep working when the measurement
cannot be stored, so the write is deferred, and dropped (counted) when the
database stays busy.
"""

from events import deferred
from predictors.models import RecommendationImpression


def record_impression(result, visitor_key):
    """Stores one served list (a ``serving.Recommendation``) with its latency,
    in the background (events/deferred.py): a locked database never holds the page."""
    fields = {
        "model_name": result.model_name,
        "version_label": result.version_label or "",
        "fallback": result.fallback or "",
        "visitor_key": visitor_key or "",
        "movie_ids": [int(pk) for pk in result.movie_ids],
        "seconds": result.seconds,
        "cached": result.cached,
    }
    deferred.defer_create(RecommendationImpression, fields)
