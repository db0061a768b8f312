"""Interactions as implicit feedback: contiguous ids, splits and a fingerprint.

Every rating counts as a positive by default (the implicit-feedback reading
used by the NCF and NGCF papers and by the published protocols); the rating
travels along, so that training can weigh interactions by it or drop the
dislikes (RATINGS_MODES). Users become rows 0..n_users-1 and items (Movie.pk when
read from the database) become indices 0..n_items-1; both maps travel with
the trained model so that scores can be turned back into movies.
"""

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd


class DataError(ValueError):
    """The interactions cannot be used for training or evaluation."""


# How training reads ratings: every rating an interaction; each weighted by
# its rating over the mean rating; or only the ratings above DISLIKE_RATING.
RATINGS_MODES = ("all", "weighted", "threshold")
# A rating at or below this many stars says the user did not like the movie.
DISLIKE_RATING = 2.0


@dataclass(frozen=True)
class Interactions:
    user_ids: np.ndarray  # (n_users,) original user id of each row
    item_ids: np.ndarray  # (n_items,) original item id (Movie.pk) of each index
    users: np.ndarray  # (n,) int64 row of each interaction
    items: np.ndarray  # (n,) int64 item index of each interaction
    timestamps: np.ndarray  # (n,) int64 unix seconds
    ratings: np.ndarray | None = None  # (n,) float32 stars, when the source has them

    @property
    def n_users(self):
        return len(self.user_ids)

    @property
    def n_items(self):
        return len(self.item_ids)

    def __len__(self):
        return len(self.users)

    def subset(self, mask):
        """The interactions where ``mask`` holds, with the same id maps."""
        ratings = None if self.ratings is None else self.ratings[mask]
        return replace(
            self, users=self.users[mask], items=self.items[mask], timestamps=self.timestamps[mask], ratings=ratings
        )

    def keys(self):
        """Sorted ``user * n_items + item`` codes: a compact positive set."""
        return np.unique(self.users * self.n_items + self.items)

    def counts_per_user(self):
        return np.bincount(self.users, minlength=self.n_users)

    def rating_weights(self, mode):
        """(n,) float64 weight of each interaction under a RATINGS_MODES mode:
        ones, except for "weighted" with ratings, where it is rating / mean rating."""
        if mode == "weighted" and self.ratings is not None and len(self.ratings):
            return self.ratings.astype(np.float64) / float(np.mean(self.ratings))
        return np.ones(len(self), dtype=np.float64)


def rated_view(data, mode):
    """The interactions training fits on under ``mode``: without the dislikes
    for "threshold" (when the ratings are known), else all of them."""
    if mode == "threshold" and data.ratings is not None:
        return data.subset(data.ratings > DISLIKE_RATING)
    return data


def from_frame(frame, user="user_id", item="item_id", time="timestamp", rating="rating"):
    """Build :class:`Interactions` from a DataFrame with user, item and time
    columns, and a rating column when it has one."""
    if frame.empty:
        raise DataError("There are no interactions to learn from.")
    columns = [user, item, time] + ([rating] if rating in frame.columns else [])
    frame = frame[columns].sort_values(time, kind="stable")
    # A repeated (user, item) pair counts once, at its latest time.
    frame = frame.drop_duplicates([user, item], keep="last")
    user_codes, user_ids = pd.factorize(frame[user], sort=True)
    item_codes, item_ids = pd.factorize(frame[item], sort=True)
    return Interactions(
        user_ids=np.asarray(user_ids, dtype=np.int64),
        item_ids=np.asarray(item_ids, dtype=np.int64),
        users=user_codes.astype(np.int64),
        items=item_codes.astype(np.int64),
        timestamps=frame[time].to_numpy(dtype=np.int64),
        ratings=frame[rating].to_numpy(dtype=np.float32) if rating in frame.columns else None,
    )


def from_database(dataset_name):
    """The ratings of one imported dataset; items are identified by Movie.pk."""
    from movie.models import Interaction

    rows = Interaction.objects.filter(dataset__name=dataset_name).values_list(
        "user_id", "movie_id", "timestamp", "rating"
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["user_id", "item_id", "timestamp", "rating"])
    if frame.empty:
        raise DataError(f"Dataset {dataset_name!r} has no interactions; import it with load_movielens first.")
    return from_frame(frame)


def local_movielens_dirs():
    """Where the files of a MovieLens dataset are looked for, as the loader
    looks: $MOVIELENS_DIR, the project's ../shared/data, the dataset cache."""
    repo_dir = Path(__file__).resolve().parent.parent
    env_dir = os.environ.get("MOVIELENS_DIR") or str(repo_dir.parent / "shared" / "data")
    cache_dir = os.environ.get("MOVIELENS_CACHE_DIR") or str(repo_dir / "var" / "datasets")
    return env_dir, cache_dir


def from_movielens_files(dataset_name):
    """The ratings of a MovieLens dataset read straight from its files (no
    database, no download). Raises movie.datasets.DatasetError when absent."""
    from movie import datasets

    env_dir, cache_dir = local_movielens_dirs()
    located = datasets.locate(dataset_name, env_dir=env_dir, cache_dir=cache_dir, base_url="", allow_download=False)
    ratings = datasets.detect_layout(located.source, dataset_name).ratings()
    return from_frame(pd.DataFrame.from_records(list(ratings), columns=["user_id", "item_id", "rating", "timestamp"]))


def read_movielens_ratings(path):
    """MovieLens u.data (tab separated user, item, rating, timestamp) as a DataFrame."""
    return pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])


def fingerprint(data):
    """Counts and a sha256 of the sorted (user id, item id, timestamp) triples."""
    triples = np.stack([data.user_ids[data.users], data.item_ids[data.items], data.timestamps], axis=1)
    triples = triples[np.lexsort(triples.T[::-1])]
    digest = hashlib.sha256(np.ascontiguousarray(triples, dtype="<i8").tobytes()).hexdigest()
    return {"n_users": data.n_users, "n_items": data.n_items, "n_interactions": len(data), "sha256": digest}


def _last_per_user(data, order_key, n_per_user):
    """Mask of each user's ``n_per_user[user]`` interactions with the largest ``order_key``."""
    order = np.lexsort((order_key, data.users))  # by user, then by key
    sorted_users = data.users[order]
    counts = data.counts_per_user()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position_from_end = counts[sorted_users] - (np.arange(len(order)) - starts[sorted_users])  # 1 = last
    mask = np.zeros(len(data), dtype=bool)
    mask[order] = position_from_end <= n_per_user[sorted_users]
    return mask


def _hold_out(data, order_key, n_held_out):
    """Per user, the ``n_held_out[user]`` interactions with the largest
    ``order_key`` go to the second part. Returns (kept, held_out)."""
    held = _last_per_user(data, order_key, n_held_out)
    return data.subset(~held), data.subset(held)


def _time_order(data):
    # Interactions in the same second: the later row in the data is the later one.
    return data.timestamps * len(data) + np.arange(len(data))


def latest_per_user(data, n):
    """Mask of each user's ``n`` latest interactions (all of a user's, if fewer)."""
    return _last_per_user(data, _time_order(data), np.full(data.n_users, n, dtype=np.int64))


def split_latest(data):
    """Each user's latest interaction is held out (users with one interaction keep it)."""
    counts = data.counts_per_user()
    return _hold_out(data, _time_order(data), (counts >= 2).astype(np.int64))


def split_random(data, test_fraction, rng):
    """Stratified random split: about ``test_fraction`` of every user's interactions held out."""
    counts = data.counts_per_user()
    n_held_out = np.rint(counts * test_fraction).astype(np.int64)
    n_held_out = np.minimum(n_held_out, np.maximum(counts - 1, 0))
    return _hold_out(data, rng.random(len(data)), n_held_out)
