"""The numbers on the admin dashboard, as plain functions of the database.

Windows are measured back from ``now`` (an argument, so tests can pin it).
Click-through counts a (visitor, movie) pair once per model: the movie was in
a list the model itself produced for that visitor (not the popularity
fallback), and the visitor then clicked or opened it.
"""

import logging
from collections import defaultdict
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from events import set_aside
from events.models import EVENT_TYPES, ConsumerHeartbeat
from events.stores import StoreUnavailable, get_store
from predictors.models import MODEL_CHOICES, ModelVersion, RecommendationImpression, TrainingRun
from predictors.names import SERVED_MODELS

log = logging.getLogger(__name__)

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SERVING_WINDOW = DAY
# Heartbeats come every consume_events --progress-seconds (10 s by default).
HEARTBEAT_STALE_AFTER = timedelta(minutes=2)
# Bounds that keep the page quick on a busy site; the newest rows count.
MAX_IMPRESSIONS = 20_000
MAX_CLICK_EVENTS = 100_000
ENGAGEMENT_TYPES = ("click", "view")

# (protocol, metric, column heading): HR@10 only exists under the NCF protocol,
# NDCG@10 under both, so both are shown and named by protocol.
KEY_METRICS = [
    ("ncf", "hr@10", "HR@10 (ncf)"),
    ("ncf", "ndcg@10", "NDCG@10 (ncf)"),
    ("full", "ndcg@10", "NDCG@10 (full)"),
    ("full", "recall@20", "Recall@20 (full)"),
]


def metric(version, protocol, name):
    value = (version.metrics or {}).get(protocol, {}).get(name) if version is not None else None
    return value if isinstance(value, (int, float)) else None


def percentile(values, q):
    """Linear-interpolated percentile (numpy's default), None for no values."""
    return float(np.percentile(values, q)) if len(values) else None


def event_counts(now=None):
    """Visitor events stored in the last hour and day, by type; None when the
    click log cannot be read (the page says so instead of failing)."""
    now = now or timezone.now()
    store = get_store()
    try:
        per_window = store.event_counts({"hour": now - HOUR, "day": now - DAY}, now)
    except StoreUnavailable as error:
        log.warning("Event counts unavailable: %s", error)
        return None
    counts = {label: {"total": sum(by_type.values()), **by_type} for label, by_type in per_window.items()}
    # One row per type, every type the totals count, so the rows add up to them.
    counts["by_type"] = [
        (label, per_window["hour"].get(kind, 0), per_window["day"].get(kind, 0)) for kind, label in EVENT_TYPES
    ]
    counts["approximate"] = store.approximate_counts
    return counts


def _recent_impressions(now):
    rows = RecommendationImpression.objects.filter(created_at__gte=now - SERVING_WINDOW).order_by("-created_at")
    fields = ("model_name", "fallback", "visitor_key", "movie_ids", "seconds", "cached", "created_at")
    return list(rows.values(*fields)[:MAX_IMPRESSIONS])


def _engagements(visitor_keys, since):
    """(visitor, movie) -> latest click or view at or after ``since``."""
    latest = {}
    if not visitor_keys:
        return latest
    try:
        events = get_store().history(visitor_keys, MAX_CLICK_EVENTS, event_types=ENGAGEMENT_TYPES, since=since)
    except StoreUnavailable as error:
        log.warning("Click-through unavailable: %s", error)
        return latest
    for event in events:
        pair = (event.visitor_key, event.movie_id)
        if pair not in latest or event.timestamp > latest[pair]:
            latest[pair] = event.timestamp
    return latest


def serving_stats(now=None):
    """Per served model over the last day: lists served, fallbacks, latency of
    the model's own lists (p50/p95 in ms; a cached list is served and counts
    for click-through but has no latency of its own), and click-through."""
    now = now or timezone.now()
    impressions = _recent_impressions(now)
    first_shown = defaultdict(dict)  # model -> {(visitor, movie): first time the model showed it}
    stats = {}
    for name, label in SERVED_MODELS.items():
        stats[name] = {"label": label, "served": 0, "fallbacks": 0, "cached": 0, "latencies": []}
    for row in impressions:
        entry = stats.get(row["model_name"])
        if entry is None:
            continue
        entry["served"] += 1
        if row["fallback"]:
            entry["fallbacks"] += 1
            continue
        if row["cached"]:  # a cached list repeats the first answer's time; counting it again would skew p50/p95
            entry["cached"] += 1
        else:
            entry["latencies"].append(row["seconds"])
        if row["visitor_key"]:
            shown = first_shown[row["model_name"]]
            for movie_id in row["movie_ids"]:
                pair = (row["visitor_key"], movie_id)
                if pair not in shown or row["created_at"] < shown[pair]:
                    shown[pair] = row["created_at"]
    visitors = sorted({visitor for shown in first_shown.values() for visitor, _ in shown})
    engaged = _engagements(visitors, now - SERVING_WINDOW)
    for name, entry in stats.items():
        latencies = entry.pop("latencies")
        shown = first_shown.get(name, {})
        clicked = sum(1 for pair, when in shown.items() if pair in engaged and engaged[pair] >= when)
        entry.update(
            p50_ms=None if not latencies else percentile(latencies, 50) * 1000,
            p95_ms=None if not latencies else percentile(latencies, 95) * 1000,
            recommended=len(shown),
            clicked=clicked,
            click_through=clicked / len(shown) if shown else None,
        )
    return stats


def consumer_state(now=None):
    """None without Kafka (events are written inline); else the consumers'
    last heartbeats, and the lag summed over the ones still reporting."""
    if not settings.KAFKA_BOOTSTRAP_SERVERS:
        return None
    now = now or timezone.now()
    heartbeats = list(ConsumerHeartbeat.objects.filter(topic=settings.KAFKA_TOPIC).order_by("-updated_at"))
    for heartbeat in heartbeats:
        heartbeat.stale = now - heartbeat.updated_at > HEARTBEAT_STALE_AFTER
    live = [heartbeat for heartbeat in heartbeats if not heartbeat.stale]
    return {"heartbeats": heartbeats, "live": len(live), "total_lag": sum(h.total_lag for h in live) if live else None}


def set_aside_events():
    """One sentence per machine's journal folder that keeps events the outbox
    can never store (counted when they were set aside, not per page)."""
    return [set_aside.sentence(row.events, row.files, row.directory, row.host) for row in set_aside.where_set_aside()]


def model_overview():
    """Per registry model: the active version and the last training run."""
    active = {version.model_name: version for version in ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE)}
    overview = []
    for name, label in MODEL_CHOICES:
        version = active.get(name)
        overview.append(
            {
                "name": name,
                "label": label,
                "active": version,
                "metrics": [(heading, metric(version, protocol, key)) for protocol, key, heading in KEY_METRICS],
                "last_run": TrainingRun.objects.filter(model_name=name).order_by("-created_at", "-pk").first(),
            }
        )
    return overview


def dashboard_context(now=None):
    now = now or timezone.now()
    return {
        "models": model_overview(),
        "metric_headings": [heading for _, _, heading in KEY_METRICS],
        "jobs": list(TrainingRun.objects.select_related("version", "target", "requested_by")[:10]),
        "events": event_counts(now),
        "consumer": consumer_state(now),
        "set_aside": set_aside_events(),
        "serving": serving_stats(now),
        "kafka": bool(settings.KAFKA_BOOTSTRAP_SERVERS),
    }
