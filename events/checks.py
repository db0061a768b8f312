"""System checks (``manage.py check``, and every start) for the events settings."""

from django.conf import settings
from django.core import checks

# Apache Kafka's group.min.session.timeout.ms default: a broker refuses a
# consumer's join with a shorter session timeout.
KAFKA_MIN_SESSION_TIMEOUT_MS = 6000


@checks.register(checks.Tags.compatibility)
def kafka_session_timeout(app_configs=None, **kwargs):
    """Warn when the consumer's session timeout is below Apache Kafka's default minimum."""
    if not settings.KAFKA_BOOTSTRAP_SERVERS:
        return []
    session_ms = min(settings.KAFKA_SESSION_TIMEOUT_MS, settings.KAFKA_MAX_POLL_INTERVAL_MS)
    if session_ms >= KAFKA_MIN_SESSION_TIMEOUT_MS:
        return []
    return [
        checks.Warning(
            f"The event consumer's session timeout is {session_ms} ms (KAFKA_SESSION_TIMEOUT_MS, at most "
            f"KAFKA_MAX_POLL_INTERVAL_MS), below the {KAFKA_MIN_SESSION_TIMEOUT_MS} ms that Apache Kafka accepts "
            "by default (group.min.session.timeout.ms): such a broker refuses every join. tansu accepts it.",
            hint=f"Set KAFKA_SESSION_TIMEOUT_MS to {KAFKA_MIN_SESSION_TIMEOUT_MS} or more, or lower the broker's "
            "group.min.session.timeout.ms.",
            id="events.W001",
        )
    ]
