"""The MovieLens catalog: datasets, genres, movies and the dataset's own ratings.

Dataset users (MovieLens' userId) are plain integers on ``Interaction``; they
are not site accounts. Site visitors and their events live elsewhere.
"""
from django.conf import settings
from django.db import models
from django.urls import reverse


class Dataset(models.Model):
    """One imported GroupLens dataset (ml-100k, ml-1m, ...)."""

    name = models.CharField(max_length=32, unique=True)
    source = models.CharField(max_length=500, help_text="Where the files were read from.")
    fingerprint = models.CharField(max_length=64, help_text="sha256 over the imported files.")
    n_users = models.PositiveIntegerField(default=0)
    n_movies = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveBigIntegerField(default=0)
    imported_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name


class Genre(models.Model):
    name = models.CharField(max_length=40, unique=True)
    slug = models.SlugField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("movie:genre", args=[self.slug])


class Movie(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="movies")
    source_id = models.PositiveIntegerField(help_text="The dataset's movieId.")
    title = models.CharField(max_length=300, help_text="Title without the year.")
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    imdb_url = models.URLField(max_length=500, blank=True)
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    # Denormalised from Interaction at import time: the home page sorts on them.
    rating_count = models.PositiveIntegerField(default=0)
    rating_mean = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-rating_count", "title"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "source_id"], name="movie_unique_per_dataset"),
        ]
        indexes = [
            models.Index(fields=["dataset", "-rating_count"], name="movie_popular_idx"),
            models.Index(fields=["dataset", "title"], name="movie_title_idx"),
        ]

    def __str__(self):
        return f"{self.title} ({self.year})" if self.year else self.title

    def get_absolute_url(self):
        return reverse("movie:detail", args=[self.pk])


class Interaction(models.Model):
    """A rating from the dataset itself (the training data), not from a visitor."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="interactions")
    user_id = models.PositiveIntegerField(help_text="The dataset's userId (not a site account).")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="interactions")
    rating = models.FloatField()
    timestamp = models.BigIntegerField(help_text="Unix seconds, as in the dataset.")

    class Meta:
        indexes = [models.Index(fields=["dataset", "user_id", "timestamp"], name="interaction_user_idx")]

    def __str__(self):
        return f"{self.dataset_id}:{self.user_id} -> {self.movie_id} ({self.rating})"


# --- Visitor events (click log) -------------------------------------------------
# A visitor is "user:<id>" or "session:<session key>" (see movie/events.py).
# Movie links are kept without a database constraint: the log is append-only
# and must outlive a catalog re-import.

EVENT_TYPES = [("click", "Poster click"), ("view", "Detail view"), ("rating", "Rating")]


class ClickEvent(models.Model):
    """One stored visitor event: the SQL click-log store."""

    event_id = models.UUIDField(unique=True, help_text="Given by the server; makes redelivery harmless.")
    visitor_key = models.CharField(max_length=80)
    event_type = models.CharField(max_length=8, choices=EVENT_TYPES)
    movie = models.ForeignKey(
        Movie, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    rating = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField(help_text="When the server accepted the event.")
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["visitor_key", "-timestamp"], name="clickevent_visitor_idx")]

    def __str__(self):
        return f"{self.visitor_key} {self.event_type} {self.movie_id}"


class OutboxEvent(models.Model):
    """An accepted event that is not yet known to be in the store.

    Written in the request's transaction before anything is sent to Kafka, and
    deleted by the consumer once the store holds the event, so a broker that is
    down (or loses its data) cannot lose a click.
    """

    event_id = models.UUIDField(unique=True)
    visitor_key = models.CharField(max_length=80)
    event_type = models.CharField(max_length=8, choices=EVENT_TYPES)
    movie_id = models.PositiveIntegerField()
    rating = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField()
    last_sent_at = models.DateTimeField(help_text="Last hand-over to the producer.")
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["visitor_key"], name="outbox_visitor_idx"),
            models.Index(fields=["last_sent_at"], name="outbox_due_idx"),
        ]

    def __str__(self):
        return f"outbox {self.event_id}"


class DeadLetter(models.Model):
    """A message the consumer could not use, kept with the reason."""

    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.TextField(blank=True)
    value = models.TextField(blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "partition", "offset"], name="deadletter_unique_offset"),
        ]

    def __str__(self):
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.reason[:60]}"


class VisitorLink(models.Model):
    """An anonymous session whose history belongs to a user since they logged in."""

    session_visitor_key = models.CharField(max_length=80, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="visitor_links")
    linked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.session_visitor_key} -> user:{self.user_id}"
