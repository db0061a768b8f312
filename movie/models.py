"""The MovieLens catalog: datasets, genres, movies and the dataset's own ratings.

Dataset users (MovieLens' userId) are plain integers on ``Interaction``; they
are not site accounts. Site visitors and their events live in the events app.
"""
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
