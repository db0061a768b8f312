"""The dashboard's event counts from the DynamoDB click-log store on a real moto server."""

import math
from datetime import UTC

from events.records import EVENT_TYPES, new_event
from tests.dashboard_helpers import admin_client_, admin_user  # noqa: F401
from tests.services import dynamodb_server, dynamodb_store  # noqa: F401


def test_the_dashboard_counts_dynamodb_events_per_hour_and_day(dynamodb_store, dynamodb_server, admin_client_):
    from datetime import datetime, timedelta, timezone

    from predictors import dashboard

    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # on a bucket boundary: the windows are exact
    minutes_ago = {"click": [5, 61, 23 * 60, 25 * 60], "view": [50], "rating": [59]}
    stored = [
        new_event("session:count", kind, 1, now=now - timedelta(minutes=m))
        for kind, ago in minutes_ago.items()
        for m in ago
    ]
    dynamodb_store.write(stored)
    dynamodb_store.write(stored[:2])  # a redelivery counts once
    batch_reads = []
    dynamodb_store.client.meta.events.register(
        "before-call.dynamodb.BatchGetItem", lambda **kwargs: batch_reads.append(1)
    )
    counts = dashboard.event_counts(now)
    none = dict.fromkeys(EVENT_TYPES, 0)
    assert counts["hour"] == {**none, "total": 3, "click": 1, "view": 1, "rating": 1}
    assert counts["day"] == {**none, "total": 5, "click": 3, "view": 1, "rating": 1}
    # The day's 145 buckets x every event type, 100 counters a read, and the hour's within them.
    assert len(batch_reads) == math.ceil(145 * len(EVENT_TYPES) / 100)
    assert len(dynamodb_store.history(["session:count"], 100)) == 6  # the counters are no visitor's history

    page = admin_client_.get("/admin/dashboard/").content.decode()
    assert "10-minute buckets" in page

    dynamodb_server.stop()
    try:
        assert dashboard.event_counts(now) is None
        assert "could not be read" in admin_client_.get("/admin/dashboard/").content.decode()
    finally:
        dynamodb_server.start()
