"""The click-log models, moved here from movie (ClickEvent, OutboxEvent,
DeadLetter, VisitorLink) and predictors (ConsumerHeartbeat).

State only: their tables were created by movie.0002_visitor_events and
predictors.0002_dashboard and keep their names, so an existing site keeps its
events. The content types follow the models, so permissions granted on them
stay granted.
"""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = {"clickevent": "movie", "outboxevent": "movie", "deadletter": "movie", "visitorlink": "movie",
         "consumerheartbeat": "predictors"}
EVENT_TYPES = [("click", "Poster click"), ("view", "Detail view"), ("rating", "Rating")]


def move_content_types(apps, schema_editor, forward=True):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, old_app in MOVED.items():
        source, target = (old_app, "events") if forward else ("events", old_app)
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, forward=False)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("movie", "0002_visitor_events"),
        # The heartbeat table was created there; a fresh database needs it first.
        ("predictors", "0002_dashboard"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ClickEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("event_id", models.UUIDField(help_text="Given by the server; makes redelivery harmless.", unique=True)),
                        ("visitor_key", models.CharField(max_length=80)),
                        ("event_type", models.CharField(choices=EVENT_TYPES, max_length=8)),
                        ("rating", models.FloatField(blank=True, null=True)),
                        ("timestamp", models.DateTimeField(help_text="When the server accepted the event.")),
                        ("stored_at", models.DateTimeField(auto_now_add=True)),
                        ("movie", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="movie.movie")),
                    ],
                    options={
                        "db_table": "movie_clickevent",
                        "indexes": [models.Index(fields=["visitor_key", "-timestamp"], name="clickevent_visitor_idx")],
                    },
                ),
                migrations.CreateModel(
                    name="OutboxEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("event_id", models.UUIDField(unique=True)),
                        ("visitor_key", models.CharField(max_length=80)),
                        ("event_type", models.CharField(choices=EVENT_TYPES, max_length=8)),
                        ("movie_id", models.PositiveIntegerField()),
                        ("rating", models.FloatField(blank=True, null=True)),
                        ("timestamp", models.DateTimeField()),
                        ("last_sent_at", models.DateTimeField(help_text="Last hand-over to the producer.")),
                        ("attempts", models.PositiveIntegerField(default=1)),
                    ],
                    options={
                        "db_table": "movie_outboxevent",
                        "indexes": [
                            models.Index(fields=["visitor_key"], name="outbox_visitor_idx"),
                            models.Index(fields=["last_sent_at"], name="outbox_due_idx"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="DeadLetter",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("topic", models.CharField(max_length=200)),
                        ("partition", models.IntegerField()),
                        ("offset", models.BigIntegerField()),
                        ("key", models.TextField(blank=True)),
                        ("value", models.TextField(blank=True)),
                        ("reason", models.TextField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "movie_deadletter",
                        "constraints": [
                            models.UniqueConstraint(fields=("topic", "partition", "offset"), name="deadletter_unique_offset"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="VisitorLink",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("session_visitor_key", models.CharField(max_length=80, unique=True)),
                        ("linked_at", models.DateTimeField(auto_now_add=True)),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="visitor_links", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "movie_visitorlink"},
                ),
                migrations.CreateModel(
                    name="ConsumerHeartbeat",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("worker", models.CharField(help_text="host:pid", max_length=120, unique=True)),
                        ("group_id", models.CharField(max_length=200)),
                        ("topic", models.CharField(max_length=200)),
                        ("lag", models.JSONField(default=dict, help_text="Per assigned partition.")),
                        ("total_lag", models.BigIntegerField(default=0)),
                        ("messages", models.BigIntegerField(default=0)),
                        ("updated_at", models.DateTimeField()),
                    ],
                    options={"db_table": "predictors_consumerheartbeat"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
