"""Writing a MovieLens dataset into the catalog tables.

One transaction per import: a malformed line anywhere rolls everything back,
so the catalog is either the old one or the new one, never half of each.
Re-importing identical files is a no-op (same fingerprint). Re-importing
changed files updates movies in place (their primary keys, which visitor
events point at, survive) and replaces the dataset's interactions.
"""

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import islice

from django.db import connection, transaction
from django.utils.text import slugify

from movie.datasets import DatasetFormatError, Layout, no_progress
from movie.models import Dataset, Genre, Interaction, Movie, MovieTag, Tag

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
# Half-star buckets of the rating histogram: 0.5, 1.0, ..., 5.0.
HISTOGRAM_BUCKETS = 10


@dataclass
class ImportResult:
    dataset: Dataset
    changed: bool
    movies: int
    users: int
    interactions: int

    def summary(self):
        if not self.changed:
            return f"{self.dataset.name} is already imported with the same files; nothing changed."
        return (
            f"Imported {self.dataset.name}: {self.movies:,} movies, {self.users:,} users, "
            f"{self.interactions:,} ratings from {self.dataset.source}."
        )


def import_dataset(name, layout: Layout, source_description, progress=None, force=False):
    fingerprint = layout.fingerprint()
    existing = Dataset.objects.filter(name=name).first()
    if existing and existing.fingerprint == fingerprint and not force:
        return ImportResult(existing, False, existing.n_movies, existing.n_users, existing.n_interactions)

    with transaction.atomic():
        dataset, _ = Dataset.objects.update_or_create(
            name=name, defaults={"source": source_description[:500], "fingerprint": fingerprint}
        )
        movie_pks = _import_movies(dataset, layout.movies())
        n_users, n_interactions, stats = _import_ratings(dataset, layout, movie_pks, progress)
        _store_rating_stats(dataset, movie_pks, stats)
        _import_tags(dataset, layout.tags(), movie_pks)
        dataset.n_users, dataset.n_movies, dataset.n_interactions = n_users, len(movie_pks), n_interactions
        dataset.save()
    return ImportResult(dataset, True, len(movie_pks), n_users, n_interactions)


def _import_movies(dataset, rows):
    """Upsert movies by (dataset, source_id); returns {source_id: pk}."""
    rows = list(rows)  # ml-25m has 62k movies: small enough to hold
    genres = _genres_by_name({g for row in rows for g in row.genres})
    existing = {m.source_id: m for m in Movie.objects.filter(dataset=dataset)}
    to_create, to_update = [], []
    for row in rows:
        fields = {"title": row.title[:300], "year": row.year, "imdb_url": row.imdb_url[:500], "tmdb_id": row.tmdb_id}
        movie = existing.get(row.source_id)
        if movie is None:
            to_create.append(Movie(dataset=dataset, source_id=row.source_id, **fields))
        else:
            for key, value in fields.items():
                setattr(movie, key, value)
            to_update.append(movie)
    Movie.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    _update_rows(
        Movie,
        ("title", "year", "imdb_url", "tmdb_id"),
        [(movie.title, movie.year, movie.imdb_url, movie.tmdb_id, movie.pk) for movie in to_update],
    )
    stale = set(existing) - {row.source_id for row in rows}
    Movie.objects.filter(dataset=dataset, source_id__in=stale).delete()

    movie_pks = dict(Movie.objects.filter(dataset=dataset).values_list("source_id", "pk"))
    through = Movie.genres.through
    through.objects.filter(movie__dataset=dataset).delete()
    links = [(movie_pks[row.source_id], genres[g].pk) for row in rows for g in dict.fromkeys(row.genres)]
    _insert_rows(through, ("movie_id", "genre_id"), links)
    return movie_pks


def _genres_by_name(names):
    genres = {g.name: g for g in Genre.objects.filter(name__in=names)}
    for name in sorted(set(names) - set(genres)):
        genres[name] = Genre.objects.create(name=name, slug=_unique_slug(name))
    return genres


def _unique_slug(name):
    base = slugify(name.replace("'", "")) or "genre"
    slug, n = base, 2
    while Genre.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _import_ratings(dataset, layout, movie_pks, progress):
    Interaction.objects.filter(dataset=dataset).delete()
    total = 0
    users, per_value = set(), Counter()  # per_value: (movie pk, rating) -> ratings
    ratings = iter(layout.ratings())
    bar = (progress or no_progress)(desc=f"ratings of {dataset.name}", unit=" ratings", unit_scale=True)
    ratings_file = layout.source.describe(layout.files[-1])
    while batch := list(islice(ratings, BATCH_SIZE)):
        try:
            rows = [(dataset.pk, user, movie_pks[movie], rating, timestamp) for user, movie, rating, timestamp in batch]
        except KeyError:
            offset, movie_source_id = next((i, row[1]) for i, row in enumerate(batch) if row[1] not in movie_pks)
            # Line numbers count data lines; good enough to find the row.
            raise DatasetFormatError(
                ratings_file, total + offset + 1, f"rating for movie {movie_source_id}, which is not in the movie list"
            ) from None
        _insert_interactions(rows)
        # Counted in C (set.update, Counter over zip): per-row Python bookkeeping
        # was a third of a million-rating import.
        _, batch_users, batch_movies, batch_ratings, _ = zip(*rows, strict=True)
        users.update(batch_users)
        per_value.update(zip(batch_movies, batch_ratings, strict=True))
        total += len(batch)
        bar.update(len(batch))
    bar.close()
    return len(users), total, _rating_stats(per_value)


def _rating_stats(per_value):
    """{movie pk: [count, sum, histogram]} from {(movie pk, rating): ratings}."""
    stats = defaultdict(lambda: [0, 0.0, [0] * HISTOGRAM_BUCKETS])
    for (movie_pk, rating), n in per_value.items():
        entry = stats[movie_pk]
        entry[0] += n
        entry[1] += rating * n
        entry[2][min(max(round(rating * 2) - 1, 0), HISTOGRAM_BUCKETS - 1)] += n
    return stats


def _insert_interactions(rows):
    _insert_rows(Interaction, ("dataset_id", "user_id", "movie_id", "rating", "timestamp"), rows)


def _insert_rows(model, columns, rows):
    """Plain executemany: building 25M model instances for ml-25m would
    spend most of the import in Python object churn."""
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _store_rating_stats(dataset, movie_pks, stats):
    rows = []
    for movie_pk in movie_pks.values():
        count, total, histogram = stats.get(movie_pk, (0, 0.0, [0] * HISTOGRAM_BUCKETS))
        rows.append((count, total / count if count else None, json.dumps(histogram), movie_pk))
    _update_rows(Movie, ("rating_count", "rating_mean", "rating_histogram"), rows)


def _update_rows(model, columns, rows):
    """UPDATE ... WHERE pk = %s per row of (*columns, pk) in one executemany: bulk_update's
    CASE WHEN over thousands of pks cost more than the whole ratings insert."""
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _import_tags(dataset, tag_rows, movie_pks):
    """Counts each (movie, tag) pair; tags differing only in case or spaces are one."""
    counts = Counter()
    spellings = defaultdict(Counter)
    for movie_source_id, text in tag_rows:
        text = " ".join(text.split())[:100]
        slug = slugify(text, allow_unicode=True)[:100]
        movie_pk = movie_pks.get(movie_source_id)
        if not slug or movie_pk is None:
            continue  # a tag of punctuation only, or of a movie the list lacks
        counts[movie_pk, slug] += 1
        spellings[slug][text] += 1
    MovieTag.objects.filter(movie__dataset=dataset).delete()
    tags = {tag.slug: tag for tag in Tag.objects.filter(slug__in=spellings)}
    new = [Tag(slug=slug, name=names.most_common(1)[0][0]) for slug, names in spellings.items() if slug not in tags]
    Tag.objects.bulk_create(new, batch_size=BATCH_SIZE)
    tags.update({tag.slug: tag for tag in Tag.objects.filter(slug__in=[tag.slug for tag in new])})
    MovieTag.objects.bulk_create(
        [MovieTag(movie_id=movie_pk, tag_id=tags[slug].pk, count=n) for (movie_pk, slug), n in counts.items()],
        batch_size=BATCH_SIZE,
    )
