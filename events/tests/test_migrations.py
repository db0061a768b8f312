"""A site created before the events app existed keeps its click log, outbox,
dead letters, visitor links and consumer heartbeats when it migrates."""

import uuid
from datetime import UTC, datetime, timezone

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from events.models import ClickEvent, ConsumerHeartbeat, DeadLetter, OutboxEvent, VisitorLink
from events.stores.sql import SqlClickLogStore

MOVED_HEARTBEAT = "consumer_heartbeat_moved_to_events"
WHEN = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def old_layout(graph):
    """Migration targets of the layout before the move: movie's event migration
    as its last, predictors just before the heartbeat moved, no events app."""
    [moved] = [key for key in graph.nodes if key[0] == "predictors" and key[1].endswith(MOVED_HEARTBEAT)]
    [before] = [parent for parent in graph.node_map[moved].parents if parent.key[0] == "predictors"]
    return [("movie", "0002_visitor_events"), before.key, ("events", None)]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


def fill_old_tables(apps):
    """One row in every moved table, written through the models as they were."""
    Dataset, Movie = apps.get_model("movie", "Dataset"), apps.get_model("movie", "Movie")
    movie = Movie.objects.create(
        dataset=Dataset.objects.create(name="old-site", fingerprint="0" * 64), source_id=1, title="Old"
    )
    user = apps.get_model("auth", "User").objects.create(username="longtime")
    event_id = uuid.uuid4()
    apps.get_model("movie", "ClickEvent").objects.create(
        event_id=event_id,
        visitor_key=f"user:{user.pk}",
        event_type="rating",
        movie_id=movie.pk,
        rating=4.5,
        timestamp=WHEN,
    )
    apps.get_model("movie", "OutboxEvent").objects.create(
        event_id=uuid.uuid4(),
        visitor_key="session:waiting",
        event_type="click",
        movie_id=movie.pk,
        timestamp=WHEN,
        last_sent_at=WHEN,
    )
    apps.get_model("movie", "DeadLetter").objects.create(topic="movie-events", partition=0, offset=7, reason="not JSON")
    apps.get_model("movie", "VisitorLink").objects.create(session_visitor_key="session:before-login", user=user)
    apps.get_model("predictors", "ConsumerHeartbeat").objects.create(
        worker="host:1", group_id="clicklog-writer", topic="movie-events", lag={"t[0]": 2}, total_lag=2, updated_at=WHEN
    )
    return str(event_id), movie.pk, user.pk


@pytest.mark.django_db(transaction=True)
def test_a_database_at_the_old_layout_keeps_its_rows_in_the_new_one():
    executor = MigrationExecutor(connection)
    targets = old_layout(executor.loader.graph)
    try:
        executor = migrate(targets)
        old_apps = executor.loader.project_state([key for key in targets if key[1]]).apps
        assert "clickevent" in old_apps.all_models["movie"] and "events" not in old_apps.all_models
        event_id, movie_id, user_id = fill_old_tables(old_apps)
    finally:
        executor = migrate(executor.loader.graph.leaf_nodes())

    [stored] = SqlClickLogStore().history([f"user:{user_id}"], 10)
    assert (stored.event_id, stored.event_type, stored.movie_id, stored.rating, stored.timestamp) == (
        event_id,
        "rating",
        movie_id,
        4.5,
        WHEN,
    )
    assert ClickEvent.objects.get().visitor_key == f"user:{user_id}"
    assert OutboxEvent.objects.get().visitor_key == "session:waiting"
    assert DeadLetter.objects.get().offset == 7
    assert VisitorLink.objects.get().user.username == "longtime"
    assert ConsumerHeartbeat.objects.get().lag == {"t[0]": 2}
    ContentType.objects.clear_cache()
    assert not ContentType.objects.filter(
        app_label__in=["movie", "predictors"], model__in=["clickevent", "consumerheartbeat"]
    ).exists()
