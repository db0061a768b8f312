"""Serving and consumer measurements the dashboard reads.

Both writers are best effort: a page or a consumer must keep working when the
measurement cannot be stored, so a failed write is logged and dropped.
"""
import logging
import os
import socket

from django.db import DatabaseError, transaction
from django.utils import timezone

from predictors.models import ConsumerHeartbeat, RecommendationImpression

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


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def record_consumer_heartbeat(group_id, topic, lag, messages):
    """What a click-log consumer reports at each progress interval."""
    try:
        ConsumerHeartbeat.objects.update_or_create(
            worker=worker_name(),
            defaults={
                "group_id": group_id,
                "topic": topic,
                "lag": lag,
                "total_lag": sum(lag.values()),
                "messages": messages,
                "updated_at": timezone.now(),
            },
        )
    except DatabaseError:
        log.warning("could not record the consumer heartbeat", exc_info=True)
