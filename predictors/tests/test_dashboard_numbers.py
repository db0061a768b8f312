"""The dashboard's numbers on hand-made rows: events per hour/day, latency
percentiles, click-through, consumer lag; and the serving side that records
impressions without ever breaking a page."""

import re
import socket
import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from events.heartbeat import record_consumer_heartbeat, worker_name
from events.models import ClickEvent, ConsumerHeartbeat
from events.records import EVENT_TYPES, new_event
from predictors import dashboard, serving
from predictors.models import RecommendationImpression
from tests.dashboard_helpers import admin_client_, admin_user  # noqa: F401

NOW = timezone.now()


def event(visitor, movie_id, minutes_ago, event_type="click"):
    return ClickEvent.objects.create(
        event_id=uuid.uuid4(),
        visitor_key=visitor,
        event_type=event_type,
        movie_id=movie_id,
        rating=4.0 if event_type == "rating" else None,
        timestamp=NOW - timedelta(minutes=minutes_ago),
    )


def impression(model_name, visitor, movie_ids, minutes_ago, seconds=0.01, fallback="", cached=False):
    return RecommendationImpression.objects.create(
        model_name=model_name,
        version_label="" if fallback else f"{model_name}:1",
        fallback=fallback,
        visitor_key=visitor,
        movie_ids=movie_ids,
        seconds=seconds,
        cached=cached,
        created_at=NOW - timedelta(minutes=minutes_ago),
    )


def test_events_in_the_last_hour_and_day(db, django_assert_num_queries):
    event("session:a", 1, 5)
    event("session:a", 2, 50, "view")
    event("session:b", 2, 59, "rating")
    event("session:b", 3, 61)
    event("session:b", 3, 23 * 60)
    event("session:c", 4, 25 * 60)  # older than a day
    with django_assert_num_queries(1):  # both windows from one read
        counts = dashboard.event_counts(NOW)
    zeros = dict.fromkeys(EVENT_TYPES, 0)  # every type is listed, the newer ones too
    assert counts["hour"] == {**zeros, "total": 3, "click": 1, "view": 1, "rating": 1}
    assert counts["day"] == {**zeros, "total": 5, "click": 3, "view": 1, "rating": 1}


def test_events_are_not_counted_when_the_click_log_cannot_be_read(db, monkeypatch):
    from events.stores import StoreUnavailable
    from events.stores.sql import SqlClickLogStore

    def unreadable(self, windows, now):
        raise StoreUnavailable("DynamoDB read failed: connection refused")

    monkeypatch.setattr(SqlClickLogStore, "event_counts", unreadable)
    assert dashboard.event_counts(NOW) is None


def test_latency_percentiles_of_the_models_own_lists(db):
    for ms in range(1, 101):  # 1..100 ms
        impression("gmf", "session:a", [1], minutes_ago=10, seconds=ms / 1000)
    impression("gmf", "session:a", [1], minutes_ago=10, seconds=9.0, fallback="not-trained")
    impression("gmf", "session:a", [1], minutes_ago=25 * 60, seconds=9.0)  # outside the day
    stats = dashboard.serving_stats(NOW)
    assert stats["gmf"]["served"] == 101 and stats["gmf"]["fallbacks"] == 1
    assert stats["gmf"]["p50_ms"] == pytest.approx(50.5)
    assert stats["gmf"]["p95_ms"] == pytest.approx(95.05)
    assert stats["ngcf"]["p50_ms"] is None and stats["ngcf"]["click_through"] is None


def test_click_through_counts_clicks_after_the_recommendation(db):
    impression("gmf", "session:a", [1, 2, 3, 4], minutes_ago=60)
    impression("gmf", "session:a", [1, 2, 5], minutes_ago=30)  # 1 and 2 again: counted once, from the first time
    event("session:a", 2, 40)  # clicked after gmf showed it: counts
    event("session:a", 3, 70)  # clicked before it was recommended: does not
    event("session:a", 5, 40)  # clicked before gmf's second list showed it: does not
    impression("gmf", "session:b", [1, 2], minutes_ago=20)
    event("session:b", 1, 10, "view")  # opening the page counts too
    event("session:b", 1, 5)  # a second engagement with the same movie counts once
    event("session:b", 9, 5)  # not recommended to b
    event("session:c", 2, 5)  # c was never shown anything
    impression("ngcf", "session:b", [2], minutes_ago=20, fallback="no-history")  # popularity, not the model
    event("session:b", 2, 5, "rating")  # a rating is not a click
    stats = dashboard.serving_stats(NOW)
    assert (stats["gmf"]["recommended"], stats["gmf"]["clicked"]) == (7, 2)
    assert stats["gmf"]["click_through"] == pytest.approx(2 / 7)
    assert stats["ngcf"]["recommended"] == 0 and stats["ngcf"]["click_through"] is None


def test_consumer_lag_from_the_heartbeats(db, settings):
    assert dashboard.consumer_state(NOW) is None  # no broker configured: events are inline
    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:9"]
    assert dashboard.consumer_state(NOW) == {"heartbeats": [], "live": 0, "total_lag": None}
    record_consumer_heartbeat(settings.KAFKA_CONSUMER_GROUP, settings.KAFKA_TOPIC, {"t[0]": 3, "t[1]": 4}, 120)
    ConsumerHeartbeat.objects.create(
        worker="gone:1",
        group_id="g",
        topic=settings.KAFKA_TOPIC,
        lag={"t[2]": 50},
        total_lag=50,
        messages=1,
        updated_at=timezone.now() - timedelta(minutes=30),
    )
    state = dashboard.consumer_state()
    assert state["live"] == 1 and state["total_lag"] == 7
    assert [h.stale for h in state["heartbeats"]] == [False, True]
    record_consumer_heartbeat(settings.KAFKA_CONSUMER_GROUP, settings.KAFKA_TOPIC, {"t[0]": 0}, 130)
    assert ConsumerHeartbeat.objects.get(worker=worker_name()).total_lag == 0  # one row per process, updated


def test_cached_lists_are_served_and_clicked_but_add_no_latency(db):
    impression("ease", "session:a", [1, 2], 5, seconds=0.010)
    impression("ease", "session:b", [3], 4, seconds=0.010, cached=True)
    impression("ease", "session:c", [4], 3, seconds=0.030)
    event("session:b", 3, 1)
    stats = dashboard.serving_stats(NOW)["ease"]
    assert stats["served"] == 3 and stats["clicked"] == 1 and stats["recommended"] == 4
    assert stats["p50_ms"] == pytest.approx(20.0)  # of the two computed lists only
    assert stats["cached"] == 1


def test_a_model_whose_lists_all_came_from_a_cache_says_so(admin_client_):
    impression("ease", "session:a", [1, 2], 5, seconds=0.010, cached=True)
    serving_table = admin_client_.get("/admin/dashboard/").content.decode().split('id="serving"', 1)[1]
    ease_row = serving_table.split("<tr><th>EASE</th>", 1)[1].split("</tr>", 1)[0]
    assert ease_row.count("all cached") == 2  # p50 and p95: served, but none timed


def test_model_page_records_an_impression(catalog, client):
    serving.reset_predictors()
    client.get("/")  # a session
    assert client.get("/movie/gmf").status_code == 200
    row = RecommendationImpression.objects.get()
    assert row.model_name == "gmf" and row.fallback == "not-trained" and len(row.movie_ids) == 10 and row.seconds >= 0
    assert client.get("/api/recommendations", {"model": "ngcf"}).status_code == 200
    assert RecommendationImpression.objects.filter(model_name="ngcf").count() == 1


def test_a_failed_impression_write_does_not_break_the_page(catalog, client, monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(RecommendationImpression.objects, "create", broken)
    response = client.get("/movie/neumf")
    assert response.status_code == 200 and b'data-list="recommendations"' in response.content


def test_dashboard_page_shows_the_numbers(admin_client_, settings):
    event("session:a", 2, 5)
    impression("gmf", "session:a", [1, 2], minutes_ago=10, seconds=0.02)
    html = admin_client_.get("/admin/dashboard/").content.decode()
    assert "Not using Kafka" in html
    serving_table = html.split('id="serving"', 1)[1]
    assert "20.0 ms" in serving_table and "50.0%" in serving_table
    events_table = html.split('id="events"', 1)[1].split("</table>", 1)[0]
    assert '<td class="num">1</td>' in events_table
    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:9"]
    assert "no consumer has reported yet" in admin_client_.get("/admin/dashboard/").content.decode()


def test_the_event_rows_add_up_to_the_total(admin_client_):
    for kind in ("click", "like", "not_interested", "unhidden"):
        event("session:a", 3, 5, event_type=kind)
    html = admin_client_.get("/admin/dashboard/").content.decode()
    table = html.split('id="events"', 1)[1].split("</table>", 1)[0]
    rows = dict(re.findall(r'<tr><th>([^<]+)</th><td class="num">(\d+)</td>', table))
    assert rows["All events"] == "4"
    assert rows["Like"] == rows["Not interested"] == rows["Not interested taken back"] == "1"
    assert sum(int(n) for label, n in rows.items() if label != "All events") == 4


def test_dashboard_says_where_events_are_set_aside_as_unstorable(admin_client_, settings, tmp_path):
    from events import journal, set_aside

    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:9"]
    consumer_card = lambda: admin_client_.get("/admin/dashboard/").content.decode().split('id="consumer"', 1)[1]  # noqa: E731
    assert "No event is set aside as unstorable." in consumer_card()
    log = journal.Journal(tmp_path, on_set_aside=set_aside.count)  # a web process's journal on this machine
    events = [new_event("session:a", "click", movie_id) for movie_id in (1, 2)]
    log.set_aside(log.record(events), events)
    card = consumer_card()
    assert "2 events that the outbox can never store are set aside in 1 file (*.unstorable" in card
    assert f"in {tmp_path} on {socket.gethostname()}" in card
