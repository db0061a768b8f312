"""Metrics on hand-computed rankings, the protocols, splits and negative sampling."""

import math

import numpy as np
import pandas as pd
import pytest

from predictors.data import fingerprint, from_frame, latest_per_user, split_latest, split_random
from predictors.evaluation import d2l_protocol, full_ranking, ncf_protocol, ranking_metrics, top_k
from predictors.sampling import is_positive, sample_negatives


def frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def fixed_scorer(matrix):
    matrix = np.asarray(matrix, dtype=np.float64)
    return lambda users: matrix[users]


def test_ranking_metrics_match_hand_computation():
    # User A: hits at ranks 1 and 3, 2 relevant. User B: hit at rank 2, 4 relevant.
    hits = np.array([[1, 0, 1, 0], [0, 1, 0, 0]], dtype=bool)
    metrics = ranking_metrics(hits, np.array([2, 4]), k=3)
    assert metrics["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert metrics["recall@3"] == pytest.approx((2 / 2 + 1 / 4) / 2)
    ndcg_a = (1 + 1 / 2) / (1 + 1 / math.log2(3))
    ndcg_b = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / 2)
    assert metrics["ndcg@3"] == pytest.approx((ndcg_a + ndcg_b) / 2)
    # AP divided by all of the user's relevant items (microsoft/recommenders).
    assert metrics["map@3"] == pytest.approx(((1 + 2 / 3) / 2 + (1 / 2) / 4) / 2)


def test_top_k_orders_best_first():
    assert top_k(np.array([[0.1, 0.9, 0.5, 0.7]]), 3).tolist() == [[1, 3, 2]]


def test_full_ranking_skips_training_items_and_scores_the_test_items():
    # Two users, five items. User 1 trained on item 10, tests on 20 and 30.
    data = from_frame(frame([(1, 10, 1), (1, 20, 2), (1, 30, 3), (2, 40, 1), (2, 50, 2)]))
    train, test = data.subset(np.array([1, 0, 0, 1, 0], bool)), data.subset(np.array([0, 1, 1, 0, 1], bool))
    # Item indices follow sorted ids: 10->0 ... 50->4. User 1 ranks: 0 (seen, skipped), 3, 1, 2, 4
    scores = [[9, 5, 1, 6, 0], [0, 1, 2, 3, 4]]
    metrics = full_ranking(fixed_scorer(scores), train, test)
    # User 1 top-10 after skipping item 0: [3, 1, 2, 4] -> hits at ranks 2 and 3.
    # User 2 top-10 after skipping item 3: [4, 2, 1, 0] -> hit at rank 1.
    ndcg_1 = (1 / math.log2(3) + 1 / 2) / (1 + 1 / math.log2(3))
    assert metrics["ndcg@10"] == pytest.approx((ndcg_1 + 1.0) / 2)
    assert metrics["precision@10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    assert metrics["recall@10"] == pytest.approx(1.0)
    assert metrics["map@10"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1.0) / 2)


def latest_split_of(rows):
    return split_latest(from_frame(frame(rows)))


def test_ncf_protocol_ranks_the_held_out_item_among_unseen_items_with_ties_against_it():
    # Items 0..4. Held out (latest): user 1 -> 1, user 2 -> 2, user 3 -> 4.
    train, test = latest_split_of([(1, 0, 1), (1, 1, 2), (2, 0, 1), (2, 2, 2), (3, 3, 1), (3, 4, 2)])
    scores = [
        [0, 5, 0, 9, 1],  # unseen 2, 3, 4: only item 3 beats 5 -> rank 1, a hit at k=2
        [0, 7, 5, 8, 1],  # unseen 1, 3, 4: two beat 5 -> rank 2, a miss
        [1, 1, 1, 0, 1],  # unseen 0, 1, 2 all tie with 1 -> rank 3, a miss
    ]
    # 99 requested, fewer exist: every unseen item is a negative, none twice.
    metrics = ncf_protocol(fixed_scorer(scores), train, test, np.random.default_rng(0), n_negatives=99, k=2)
    assert metrics["hr@2"] == pytest.approx(1 / 3)
    assert metrics["ndcg@2"] == pytest.approx((1 / math.log2(3)) / 3)


def test_ncf_protocol_draws_only_unseen_items():
    # User 1 saw items 0 and 1; scoring every seen item high would hurt if it were drawn.
    train, test = latest_split_of([(1, 0, 1), (1, 1, 2), (2, 2, 1), (2, 3, 2), (2, 4, 3)])
    scores = [[100, 1, 0, 0, 0], [0, 0, 0, 0, 1]]
    metrics = ncf_protocol(fixed_scorer(scores), train, test, np.random.default_rng(0), n_negatives=2, k=1)
    assert metrics["hr@1"] == 1.0


def test_d2l_protocol_hit_and_auc_by_hand():
    # Items 0..3. User 1 trains on 0 and holds out 2; user 2 trains on 1 and holds out 3.
    train, test = latest_split_of([(1, 0, 1), (1, 2, 2), (2, 1, 1), (2, 3, 2)])
    scores = [[9, 8, 7, 1], [0, 0, 0, 9]]
    metrics = d2l_protocol(fixed_scorer(scores), train, test, k=1)
    # User 1: candidates {1: 8, 2: 7, 3: 1}; item 2 at rank 1 of 3 -> AUC (3-1-1)/(3-1) = 1/2, no hit.
    # User 2: candidates {0, 2, 3}; item 3 first -> AUC 1, a hit.
    assert metrics["hit@1"] == pytest.approx(0.5)
    assert metrics["auc"] == pytest.approx(0.75)


def test_latest_split_holds_out_each_users_last_interaction():
    data = from_frame(frame([(1, 10, 5), (1, 11, 9), (1, 12, 7), (2, 10, 3), (3, 11, 4), (3, 12, 4)]))
    train, test = split_latest(data)
    held = sorted(zip(data.user_ids[test.users], data.item_ids[test.items], strict=False))
    assert held == [(1, 11), (3, 12)]  # user 2 has one interaction and keeps it; ties: later row wins
    assert len(train) + len(test) == len(data)


def test_latest_per_user_marks_each_users_newest_interactions():
    data = from_frame(frame([(1, 10, 5), (1, 11, 9), (1, 12, 7), (2, 10, 3), (3, 11, 4), (3, 12, 4), (3, 13, 1)]))
    recent = latest_per_user(data, 2)
    marked = sorted(zip(data.user_ids[data.users[recent]], data.item_ids[data.items[recent]], strict=False))
    assert marked == [(1, 11), (1, 12), (2, 10), (3, 11), (3, 12)]  # user 2 has only one


def test_random_split_is_stratified_per_user_and_reproducible():
    rows = [(u, i, i) for u in range(1, 5) for i in range(u * 8)]
    data = from_frame(frame(rows))
    train, test = split_random(data, 0.25, np.random.default_rng(3))
    assert np.bincount(test.users).tolist() == [2, 4, 6, 8]
    again = split_random(data, 0.25, np.random.default_rng(3))[1]
    assert np.array_equal(test.items, again.items) and np.array_equal(test.users, again.users)
    assert not set(train.keys()) & set(test.keys())


def test_fingerprint_ignores_row_order_but_not_content():
    rows = [(1, 10, 5), (2, 11, 6), (2, 12, 7)]
    first, shuffled = fingerprint(from_frame(frame(rows))), fingerprint(from_frame(frame(rows[::-1])))
    assert first == shuffled
    assert first["n_interactions"] == 3 and first["n_users"] == 2 and first["n_items"] == 3
    assert fingerprint(from_frame(frame(rows[:2] + [(2, 12, 8)])))["sha256"] != first["sha256"]


def test_sampled_negatives_are_never_positives():
    rng = np.random.default_rng(0)
    n_users, n_items = 50, 30
    users = np.repeat(np.arange(n_users), 25)
    items = np.concatenate([rng.choice(n_items, 25, replace=False) for _ in range(n_users)])  # dense: 25 of 30
    keys = np.unique(users * n_items + items)
    negatives = sample_negatives(np.arange(n_users), n_items, keys, rng, per_user=40)
    assert negatives.shape == (n_users, 40)
    owners = np.repeat(np.arange(n_users), 40)
    assert not is_positive(owners, negatives.ravel(), keys, n_items).any()
    assert negatives.min() >= 0 and negatives.max() < n_items


def test_sampling_refuses_a_user_who_has_seen_everything():
    keys = np.arange(4)  # user 0 saw items 0..3 of 4
    with pytest.raises(ValueError, match="every item"):
        sample_negatives(np.array([0]), 4, keys, np.random.default_rng(0))
