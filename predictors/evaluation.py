"""The three evaluation protocols of issue 3 and their metrics.

A *scorer* is any callable ``scores(users) -> (B, n_items)`` array, so the
same code ranks our models and the baselines. Ties count against the held-out
item (it is ranked below every other item with the same score).

- "full": random stratified 75/25 split per user; all unseen items ranked;
  precision@10, recall@10, NDCG@10, MAP@10 (AP divided by the number of the
  user's test items, as microsoft/recommenders computes it), recall@20, NDCG@20.
- "ncf": latest interaction held out, ranked among 99 sampled unseen items; HR@10, NDCG@10.
- "d2l": latest interaction held out, ranked among all items the user has not
  trained on; Hit@50 and AUC = share of those items ranked below it.
"""

import numpy as np
import torch

from predictors.data import split_latest, split_random
from predictors.names import PROTOCOLS

FULL_TEST_FRACTION = 0.25
USER_BATCH = 256


def split_for_protocol(data, protocol, rng):
    """(train, test) as the protocol defines them; "ncf" and "d2l" share one split."""
    if protocol == "full":
        return split_random(data, FULL_TEST_FRACTION, rng)
    if protocol in ("ncf", "d2l"):
        return split_latest(data)
    raise ValueError(f"Unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}.")


def model_scorer(model):
    """Scores of every item for known users, from a trained model."""
    model.eval()

    def scores(users):
        with torch.no_grad():
            user_repr = model.user_representation(torch.as_tensor(users, dtype=torch.int64))
            return model.score_items(user_repr).numpy()

    return scores


def interaction_matrix(data):
    """(n_users, n_items) bool matrix of the interactions."""
    matrix = np.zeros((data.n_users, data.n_items), dtype=bool)
    matrix[data.users, data.items] = True
    return matrix


def _batched_scores(scorer, users, seen):
    """Scores per batch of users with already-seen items pushed to -inf."""
    for start in range(0, len(users), USER_BATCH):
        batch = users[start : start + USER_BATCH]
        scores = np.array(scorer(batch), dtype=np.float64)  # (B, n_items)
        scores[seen[batch]] = -np.inf
        yield batch, scores


def top_k(scores, k):
    """(B, n_items) -> (B, k) item indices, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def ranking_metrics(hits, n_relevant, k):
    """hits (U, >=k) bool: is the item at each rank relevant; n_relevant (U,) > 0.
    -> mean precision, recall, NDCG and MAP at k."""
    hits = hits[:, :k].astype(np.float64)
    if hits.shape[1] < k:  # a catalog smaller than k
        hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))  # rank 1 -> 1, rank 2 -> 1/log2(3), ...
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        f"precision@{k}": float(np.mean(hits.sum(1) / k)),
        f"recall@{k}": float(np.mean(hits.sum(1) / n_relevant)),
        f"ndcg@{k}": float(np.mean((hits * discounts).sum(1) / ideal)),
        f"map@{k}": float(np.mean((precision_at_rank * hits).sum(1) / n_relevant)),
    }


def full_ranking(scorer, train, test):
    """The "full" protocol's metrics."""
    seen, relevant = interaction_matrix(train), interaction_matrix(test)
    users = np.flatnonzero(relevant.any(axis=1))
    hits = np.concatenate(
        [
            np.take_along_axis(relevant[batch], top_k(scores, 20), axis=1)
            for batch, scores in _batched_scores(scorer, users, seen)
        ]
    )
    n_relevant = relevant[users].sum(axis=1)
    at_10, at_20 = ranking_metrics(hits, n_relevant, 10), ranking_metrics(hits, n_relevant, 20)
    return {**at_10, "recall@20": at_20["recall@20"], "ndcg@20": at_20["ndcg@20"]}


def rank_below(target_scores, other_scores):
    """0-based rank of each target among its row of other scores (ties against it)."""
    return (other_scores >= target_scores[:, None]).sum(axis=1)


def _one_target_per_user(test):
    order = np.argsort(test.users, kind="stable")
    return test.users[order], test.items[order]


def ncf_protocol(scorer, train, test, rng, n_negatives=99, k=10):
    """HR@k and NDCG@k of the held-out item among ``n_negatives`` distinct
    unseen items drawn at random (all of them when a user has fewer)."""
    users, targets = _one_target_per_user(test)
    known = interaction_matrix(train) | interaction_matrix(test)
    ranks = []
    for start in range(0, len(users), USER_BATCH):
        batch, batch_targets = users[start : start + USER_BATCH], targets[start : start + USER_BATCH]
        # A random key per unseen item; the smallest keys are a uniform sample without replacement.
        keys = rng.random((len(batch), train.n_items))
        keys[known[batch]] = np.inf
        count = min(n_negatives, train.n_items)
        negatives = np.argpartition(keys, count - 1, axis=1)[:, :count]  # (B, count)
        usable = np.isfinite(np.take_along_axis(keys, negatives, axis=1))
        scores = np.asarray(scorer(batch), dtype=np.float64)
        target_scores = scores[np.arange(len(batch)), batch_targets]
        negative_scores = np.where(usable, np.take_along_axis(scores, negatives, axis=1), -np.inf)
        ranks.append(rank_below(target_scores, negative_scores))
    ranks = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
    hit = ranks < k
    return {f"hr@{k}": float(hit.mean()), f"ndcg@{k}": float(np.mean(np.where(hit, 1.0 / np.log2(ranks + 2), 0.0)))}


def d2l_protocol(scorer, train, test, k=50):
    """Hit@k and AUC of the held-out item among all items the user did not train on."""
    users, targets = _one_target_per_user(test)
    seen = interaction_matrix(train)
    position = np.empty(train.n_users, dtype=np.int64)
    position[users] = np.arange(len(users))
    ranks, n_candidates = [], []
    for batch, scores in _batched_scores(scorer, users, seen):
        batch_targets = targets[position[batch]]
        rows = np.arange(len(batch))
        target_scores = scores[rows, batch_targets].copy()
        scores[rows, batch_targets] = -np.inf
        ranks.append(rank_below(target_scores, scores))
        n_candidates.append(train.n_items - seen[batch].sum(axis=1))
    ranks, n_candidates = np.concatenate(ranks), np.concatenate(n_candidates)
    auc = (n_candidates - 1 - ranks) / np.maximum(n_candidates - 1, 1)
    return {f"hit@{k}": float(np.mean(ranks < k)), "auc": float(auc.mean())}


def evaluate(scorer, protocol, train, test, rng):
    """Metrics keyed by protocol name, as stored on a model version."""
    if protocol == "full":
        return {"full": full_ranking(scorer, train, test)}
    return {"ncf": ncf_protocol(scorer, train, test, rng), "d2l": d2l_protocol(scorer, train, test)}
