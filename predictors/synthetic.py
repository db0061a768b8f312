"""Small generated interaction sets with a known structure, for tests.

Users and items fall into ``n_groups`` taste groups. Within every group the
items have the same popularity profile, so global popularity cannot tell the
groups apart while a personalised model can.
"""

import numpy as np
import pandas as pd


def planted_interactions(n_users=60, n_items=40, n_groups=4, per_user=8, noise=0.1, seed=0):
    """DataFrame(user_id, item_id, timestamp): each user picks ``per_user``
    distinct items, from its own group with probability 1 - noise."""
    rng = np.random.default_rng(seed)
    user_group = np.arange(n_users) % n_groups
    item_group = np.arange(n_items) % n_groups
    rank_in_group = np.arange(n_items) // n_groups
    appeal = 1.0 / (1.0 + rank_in_group)  # same Zipf-like profile in every group
    rows = []
    for user in range(n_users):
        weights = appeal * np.where(item_group == user_group[user], 1.0 - noise, noise)
        items = rng.choice(n_items, size=per_user, replace=False, p=weights / weights.sum())
        rows += [(user + 1, item + 1, 1_000_000 + step) for step, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def two_tastes(n_users_per_group=30, per_user=10, items_per_group=20, seed=0):
    """DataFrame(user_id, item_id, timestamp): the users of group A pick only
    among items 0..items_per_group-1, those of group B only among the next
    items_per_group. Every item's nearest neighbours are the items of its own
    group, and nothing else tells the items apart."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(2 * n_users_per_group):
        group = user // n_users_per_group
        items = rng.choice(items_per_group, per_user, replace=False) + group * items_per_group
        rows += [(user, int(item), step) for step, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
