"""Interactions as implicit feedback: contiguous ids, splits and a fingerprint.

Every rating counts as a positive (the implicit-feedback reading used by the
NCF and NGCF papers). Users become rows 0..n_users-1 and items (Movie.pk when
read from the database) become indices 0..n_items-1; both maps travel with
the trained model so that scores can be turned back into movies.
"""
import hashlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd


class DataError(ValueError):
    """The interactions cannot be used for training or evaluation."""


@dataclass(frozen=True)
class Interactions:
    user_ids: np.ndarray  # (n_users,) original user id of each row
    item_ids: np.ndarray  # (n_items,) original item id (Movie.pk) of each index
    users: np.ndarray  # (n,) int64 row of each interaction
    items: np.ndarray  # (n,) int64 item index of each interaction
    timestamps: np.ndarray  # (n,) int64 unix seconds

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
        return replace(self, users=self.users[mask], items=self.items[mask], timestamps=self.timestamps[mask])

    def keys(self):
        """Sorted ``user * n_items + item`` codes: a compact positive set."""
        return np.unique(self.users * self.n_items + self.items)

    def counts_per_user(self):
        return np.bincount(self.users, minlength=self.n_users)


def from_frame(frame, user="user_id", item="item_id", time="timestamp"):
    """Build :class:`Interactions` from a DataFrame with user, item and time columns."""
    if frame.empty:
        raise DataError("There are no interactions to learn from.")
    frame = frame[[user, item, time]].sort_values(time, kind="stable")
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
    )


def from_database(dataset_name):
    """The ratings of one imported dataset; items are identified by Movie.pk."""
    from movie.models import Interaction

    rows = Interaction.objects.filter(dataset__name=dataset_name).values_list("user_id", "movie_id", "timestamp")
    frame = pd.DataFrame.from_records(list(rows), columns=["user_id", "item_id", "timestamp"])
    if frame.empty:
        raise DataError(f"Dataset {dataset_name!r} has no interactions; import it with load_movielens first.")
    return from_frame(frame)


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


def split_one_random(data, rng):
    """One random interaction per user (with at least two) held out, for validation."""
    counts = data.counts_per_user()
    return _hold_out(data, rng.random(len(data)), (counts >= 2).astype(np.int64))
