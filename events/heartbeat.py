"""The consumers' heartbeats the admin dashboard reads (consumer lag)."""

import logging
import os
import socket

from django.db import DatabaseError
from django.utils import timezone

from events.models import ConsumerHeartbeat

log = logging.getLogger(__name__)


def worker_name():
    """This process as "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def record_consumer_heartbeat(group_id, topic, lag, messages):
    """What a click-log consumer reports at each progress interval. Best
    effort: a consumer keeps working when the heartbeat cannot be stored."""
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
