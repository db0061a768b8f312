"""The events settings' system checks."""

from events.checks import kafka_session_timeout


def test_a_session_timeout_below_kafkas_minimum_is_warned_about(settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = "localhost:9092"
    settings.KAFKA_SESSION_TIMEOUT_MS = 3000
    [warning] = kafka_session_timeout()
    assert warning.id == "events.W001"
    assert "3000 ms" in warning.msg and "group.min.session.timeout.ms" in warning.msg


def test_the_default_session_timeout_and_no_broker_are_not_warned_about(settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = "localhost:9092"
    settings.KAFKA_SESSION_TIMEOUT_MS = 10_000
    assert kafka_session_timeout() == []
    settings.KAFKA_BOOTSTRAP_SERVERS = ""
    settings.KAFKA_SESSION_TIMEOUT_MS = 1000
    assert kafka_session_timeout() == []
