"""The MovieLens catalog: datasets, genres, movies and the dataset's own ratings.

Dataset users (MovieLens' userId) are plain integers on ``Interaction``; they
are not site accounts. Site visitors and their events live in the events app.
"""

from django.db import models
from django.urls import reverse

from sitewide.id_urls import url_for_id


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
    tmdb_id = models.PositiveIntegerField(null=True, blank=True, help_text="The Movie Database id, from links.csv.")
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    # Denormalised from Interaction at import time: the home page sorts on them.
    rating_count = models.PositiveIntegerField(default=0)
    rating_mean = models.FloatField(null=True, blank=True)
    # Ratings per half star, 0.5 to 5 (ten counts), for the detail page's chart.
    rating_histogram = models.JSONField(default=list, blank=True)

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
        return url_for_id("movie:detail", self.pk)

    @property
    def poster_url(self):
        return url_for_id("movie:poster", self.pk)

    @property
    def tmdb_url(self):
        return f"https://www.themoviedb.org/movie/{self.tmdb_id}" if self.tmdb_id else ""


class Tag(models.Model):
    """A free-text tag that dataset users applied (ml-latest-small, ml-25m: tags.csv)."""

    name = models.CharField(max_length=100, help_text="The most common spelling.")
    slug = models.SlugField(max_length=100, unique=True, allow_unicode=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("movie:tag", args=[self.slug])


class MovieTag(models.Model):
    """How many dataset users gave ``movie`` the tag ``tag``."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="tag_counts")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="movie_counts")
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["movie", "tag"], name="movietag_unique")]
        indexes = [models.Index(fields=["tag", "-count"], name="movietag_by_tag_idx")]

    def __str__(self):
        return f"{self.movie_id} tagged {self.tag_id} x{self.count}"


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
