"""Vectorised negative sampling against a sorted set of positive keys."""

import numpy as np


def is_positive(users, items, positive_keys, n_items):
    """(n,) bool: whether each (user, item) pair is in ``positive_keys``
    (sorted ``user * n_items + item`` codes, see Interactions.keys)."""
    keys = users * n_items + items
    where = np.searchsorted(positive_keys, keys)
    where = np.minimum(where, len(positive_keys) - 1)
    return positive_keys[where] == keys if len(positive_keys) else np.zeros(len(keys), dtype=bool)


def sample_negatives(users, n_items, positive_keys, rng, per_user=1):
    """(len(users), per_user) item indices that none of the users interacted with.

    Draws uniformly, then redraws only the collisions until none is left; the
    expected number of rounds is small unless a user has seen most items.
    """
    users = np.asarray(users, dtype=np.int64)
    if len(positive_keys):
        seen_per_user = np.bincount(positive_keys // n_items)
        if len(users) and seen_per_user[users[users < len(seen_per_user)]].max(initial=0) >= n_items:
            raise ValueError("A user has interacted with every item, so no negative exists.")
    owners = np.repeat(users, per_user)  # (n * per_user,)
    items = rng.integers(0, n_items, size=len(owners))
    todo = np.flatnonzero(is_positive(owners, items, positive_keys, n_items))
    while len(todo):
        items[todo] = rng.integers(0, n_items, size=len(todo))
        todo = todo[is_positive(owners[todo], items[todo], positive_keys, n_items)]
    return items.reshape(len(users), per_user)
