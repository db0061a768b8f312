"""Catalog import speed: `load_movielens` on a synthetic ml-1m-layout dataset
(1M ratings by default) against the floor of the same work, parsing the
ratings file and `executemany` into the same table and indexes in one
transaction, measured in the same run on the same SQLite file.

    .venv/bin/python benchmarks/bench_import.py [--ratings 1000000] [--repeat 2]

Writes its table to benchmarks/results/import.md. The data are generated
(movies.dat and ratings.dat in ml-1m's '::' format), so nothing is downloaded.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))
sys.path.insert(0, str(REPO_DIR / "benchmarks"))

from bench_pages import print_and_save  # noqa: E402

GENRES = ["Action", "Adventure", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller"]
GOAL = 1.5


def write_dataset(directory, n_ratings, n_movies=3706, n_users=6040, seed=0):
    rng = random.Random(seed)
    with open(directory / "movies.dat", "w", encoding="latin-1") as movies:
        for movie in range(1, n_movies + 1):
            genres = "|".join(rng.sample(GENRES, rng.randint(1, 3)))
            movies.write(f"{movie}::Movie {movie} ({1930 + movie % 70})::{genres}\n")
    with open(directory / "ratings.dat", "w", encoding="latin-1") as ratings:
        lines = (
            f"{rng.randint(1, n_users)}::{rng.randint(1, n_movies)}::{rng.randint(1, 5)}::{956703932 + i}\n"
            for i in range(n_ratings)
        )
        ratings.writelines(lines)


def floor_import(directory, dataset_pk, movie_pks):
    """Parse ratings.dat and executemany it into movie_interaction, one transaction."""
    from django.db import connection, transaction

    from movie.models import Interaction

    table = connection.ops.quote_name(Interaction._meta.db_table)
    sql = f"INSERT INTO {table} (dataset_id, user_id, movie_id, rating, timestamp) VALUES (%s, %s, %s, %s, %s)"
    with transaction.atomic(), open(directory / "ratings.dat", encoding="latin-1") as handle:
        rows = []
        for line in handle:
            user, movie, rating, timestamp = line.rstrip("\n").split("::")
            rows.append((dataset_pk, int(user), movie_pks[int(movie)], float(rating), int(timestamp)))
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best of each side counts")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    data = work / "ml-1m"
    data.mkdir()
    write_dataset(data, args.ratings)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "APP_VAR_DIR": str(work),
            "SQLITE_PATH": str(work / "db.sqlite3"),
            "MOVIELENS_DOWNLOAD": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    from movie.models import Dataset, Interaction, Movie

    call_command("migrate", verbosity=0)
    ours, floor = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        call_command("load_movielens", dataset="ml-1m", path=str(data), no_download=True, force=True, verbosity=0)
        ours.append(time.perf_counter() - started)
        dataset = Dataset.objects.get(name="ml-1m")
        assert Interaction.objects.filter(dataset=dataset).count() == args.ratings
        movie_pks = dict(Movie.objects.filter(dataset=dataset).values_list("source_id", "pk"))
        Interaction.objects.filter(dataset=dataset).delete()
        started = time.perf_counter()
        floor_import(data, dataset.pk, movie_pks)
        floor.append(time.perf_counter() - started)
    ratio = min(ours) / min(floor)
    table = "\n".join(
        [
            "| import | ratings | ours s | parse + executemany s | ratio | goal | met |",
            "|---|---|---|---|---|---|---|",
            f"| load_movielens ml-1m layout (synthetic) | {args.ratings:,} | {min(ours):.2f} | {min(floor):.2f} "
            f"| {ratio:.2f} | <= {GOAL} | {'met' if ratio <= GOAL else 'NOT met'} |",
        ]
    )
    text = f"SQLite, best of {args.repeat} rounds each, the same file and table.\n\n{table}"
    print_and_save(text, "import.md")


if __name__ == "__main__":
    main()
