"""Small catalogs built in code, for tests that need movies and ratings."""

from django.utils.text import slugify

from movie.models import Dataset, Genre, Interaction, Movie
from predictors.models import ModelVersion

GENRES = ["Action", "Comedy", "Drama", "Sci-Fi"]


def make_catalog(name="test-catalog", n_movies=30, n_users=12):
    """``n_movies`` movies cycling through four genres; user u rates every
    movie whose index is divisible by (u % 5 + 1), so popularity falls with
    the index. Returns the Dataset."""
    dataset = Dataset.objects.create(name=name, source="tests", fingerprint="0" * 64)
    genres = [Genre.objects.get_or_create(name=g, defaults={"slug": slugify(g)})[0] for g in GENRES]
    movies = []
    for i in range(n_movies):
        movie = Movie.objects.create(dataset=dataset, source_id=i + 1, title=f"Movie {i + 1:02d}", year=1990 + i % 10)
        movie.genres.add(genres[i % len(genres)])
        movies.append(movie)
    rows = []
    for user in range(1, n_users + 1):
        step = user % 5 + 1
        for i, movie in enumerate(movies):
            if i % step == 0:
                rows.append(
                    Interaction(
                        dataset=dataset, user_id=user, movie=movie, rating=1 + (i + user) % 5, timestamp=1_000_000 + i
                    )
                )
    Interaction.objects.bulk_create(rows)
    for movie in movies:
        ratings = [r.rating for r in rows if r.movie is movie]
        movie.rating_count = len(ratings)
        movie.rating_mean = sum(ratings) / len(ratings) if ratings else None
        movie.save(update_fields=["rating_count", "rating_mean"])
    dataset.n_users, dataset.n_movies, dataset.n_interactions = n_users, n_movies, len(rows)
    dataset.save()
    return dataset


def new_version(model_name="gmf", **fields):
    """A registry row of ``model_name`` whose artifact is nowhere: for tests of
    the registry itself, which never load it."""
    defaults = {"dataset": "ml-100k", "artifact_uri": "/nowhere", "artifact_sha256": "0" * 64}
    return ModelVersion.objects.register(model_name=model_name, **{**defaults, **fields})
