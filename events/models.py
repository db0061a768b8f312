"""Visitor events: the SQL click log, the outbox, dead letters, the link from an
anonymous visitor to a user, and the consumers' heartbeats.

A visitor is "user:<id>" or "session:<visitor id>" (events/visitors.py).
The tables keep the names they had when these models lived in the movie and
predictors apps, so a site that upgrades keeps its data.
"""

from django.conf import settings
from django.db import models

from movie.models import Movie

EVENT_TYPES = [
    ("click", "Poster click"),
    ("view", "Detail view"),
    ("rating", "Rating"),
    ("like", "Like"),
    ("not_interested", "Not interested"),
    ("rating_cleared", "Rating cleared"),
    ("unhidden", "Not interested taken back"),
    ("like_cleared", "Like taken back"),
    ("impression", "Impression"),
]
EVENT_TYPE_LENGTH = 16


class ClickEvent(models.Model):
    """One stored visitor event: the SQL click-log store."""

    # Unique per visitor, not alone: a client's id reused by another visitor is a different event.
    event_id = models.UUIDField(help_text="Given by the client (or the server); makes a retry or redelivery harmless.")
    visitor_key = models.CharField(max_length=80)
    event_type = models.CharField(max_length=EVENT_TYPE_LENGTH, choices=EVENT_TYPES)
    # No database constraint: the log is append-only and must outlive a catalog re-import.
    # None only for an impression, whose movies are in its details.
    movie = models.ForeignKey(
        Movie, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", null=True, blank=True
    )
    rating = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField(help_text="When the server accepted the event.")
    details = models.JSONField(default=dict, blank=True, help_text="The client's small JSON object, if any.")
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "movie_clickevent"
        indexes = [models.Index(fields=["visitor_key", "-timestamp"], name="clickevent_visitor_idx")]
        constraints = [models.UniqueConstraint(fields=["visitor_key", "event_id"], name="clickevent_one_per_visitor")]

    def __str__(self):
        return f"{self.visitor_key} {self.event_type} {self.movie_id}"


class OutboxEvent(models.Model):
    """An accepted event that is not yet known to be in the store.

    Written in the request's transaction before anything is sent to Kafka, and
    deleted by the consumer once the store holds the event, so a broker that is
    down (or loses its data) cannot lose a click.
    """

    event_id = models.UUIDField()
    visitor_key = models.CharField(max_length=80)
    event_type = models.CharField(max_length=EVENT_TYPE_LENGTH, choices=EVENT_TYPES)
    movie_id = models.BigIntegerField(null=True, blank=True)
    rating = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)
    last_sent_at = models.DateTimeField(help_text="Last hand-over to the producer.")
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        db_table = "movie_outboxevent"
        indexes = [
            models.Index(fields=["visitor_key"], name="outbox_visitor_idx"),
            models.Index(fields=["last_sent_at"], name="outbox_due_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["visitor_key", "event_id"], name="outbox_one_per_visitor")]

    def __str__(self):
        return f"outbox {self.event_id}"


class DeadLetter(models.Model):
    """A message the consumer could not use, kept with the reason.

    Unique per message (``digest`` of its place and content), not per
    offset: a recreated topic reuses offsets, and its bad messages must be
    kept too, while a redelivered one is kept once."""

    digest = models.CharField(max_length=64, default="", help_text="sha256 of topic, partition, offset, key, value.")
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.TextField(blank=True)
    value = models.TextField(blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "movie_deadletter"
        constraints = [models.UniqueConstraint(fields=["digest"], name="deadletter_one_per_message")]

    def __str__(self):
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.reason[:60]}"

    @staticmethod
    def digest_of(topic, partition, offset, key, value):
        import hashlib

        return hashlib.sha256("\0".join(map(str, (topic, partition, offset, key, value))).encode()).hexdigest()


class VisitorLink(models.Model):
    """An anonymous session whose history belongs to a user since they logged in."""

    session_visitor_key = models.CharField(max_length=80, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="visitor_links")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "movie_visitorlink"

    def __str__(self):
        return f"{self.session_visitor_key} -> user:{self.user_id}"


class ConsumerHeartbeat(models.Model):
    """What a running click-log consumer last reported: one row per consumer process."""

    worker = models.CharField(max_length=120, unique=True, help_text="host:pid")
    group_id = models.CharField(max_length=200)
    topic = models.CharField(max_length=200)
    lag = models.JSONField(default=dict, help_text="Per assigned partition.")
    total_lag = models.BigIntegerField(default=0)
    messages = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "predictors_consumerheartbeat"

    def __str__(self):
        return f"{self.worker} ({self.group_id}): lag {self.total_lag}"


class PopularityVote(models.Model):
    """A visitor engaged with a movie in a time bucket: one vote for "Popular
    now", however many events it took. Written insert-if-absent; only a new
    vote adds one to the movie's PopularityCount of that bucket."""

    bucket = models.DateTimeField(help_text="Start of the POPULAR_BUCKET_MINUTES bucket.")
    movie_id = models.BigIntegerField()
    visitor_key = models.CharField(max_length=80)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bucket", "movie_id", "visitor_key"], name="popularity_one_vote"),
        ]

    def __str__(self):
        return f"{self.visitor_key} -> {self.movie_id} @ {self.bucket:%Y-%m-%d %H:%M}"


class PopularityCount(models.Model):
    """Distinct visitors of a movie in a time bucket; "Popular now" sums a window of them."""

    bucket = models.DateTimeField(help_text="Start of the POPULAR_BUCKET_MINUTES bucket.")
    movie_id = models.BigIntegerField()
    visitors = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bucket", "movie_id"], name="popularity_count_per_bucket"),
        ]

    def __str__(self):
        return f"{self.movie_id} @ {self.bucket:%Y-%m-%d %H:%M}: {self.visitors}"


class SetAsideEvents(models.Model):
    """Per machine and hand-off journal folder: the events kept in its
    ``*.unstorable`` files because the outbox can never store them
    (events/journal.py), for the admin dashboard. Recounted from the folder
    whenever one is set aside or recovered, and by ``manage.py set_aside_events``."""

    host = models.CharField(max_length=120)
    directory = models.CharField(max_length=255)
    files = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "directory"], name="setaside_one_per_folder")]

    def __str__(self):
        return f"{self.host}:{self.directory}: {self.events} event(s) in {self.files} file(s)"
