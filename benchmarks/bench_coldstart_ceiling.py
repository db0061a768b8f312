"""How far above popularity can *any* simple recommender get for a cold
visitor on MovieLens-100k? The ceiling behind issue 5's goal.

Same protocol, same held-out users as bench_foldin_quality.py (10% of the
users out of training; the first n interactions in time order revealed, the
rest to find; recall@10 over all unseen movies). Instead of our fold-in, the
classic alternatives, each as a multiple of the popularity model's recall:
- user-kNN: the k training users whose histories overlap the visitor's most
  (cosine), their movies weighted by that overlap;
- EASE fitted on every training interaction (its visitor is scored exactly);
- "prefix -> rest" ridge regression: an item-to-item model fitted to this
  very protocol, the training users' first n interactions as input and their
  later ones as target. Its ridge strength is picked from a grid *on the
  test users*, so its row is an optimistic ceiling for a linear model.
None of them learns anything per request, so this runs in a few minutes
without training a neural model. If none comes near 1.5x popularity after
five clicks, the five clicks do not hold the information, whatever model
folds them in.

    .venv/bin/python benchmarks/bench_coldstart_ceiling.py --seeds 0 1 2 3 4 5 6 7
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bench_foldin_quality import K, REVEALED, GOAL_VS_POPULARITY, cold_split, hits_at_k
from foldin_common import DEFAULT_DATA, markdown_table, write_report
from predictors.data import from_frame, read_movielens_ratings
from predictors.ease import EASE
from predictors.evaluation import ranking_metrics
from predictors.training import hyperparameters

NEIGHBOURS = (50, 200)
RIDGE_GRID = (10.0, 100.0, 500.0)


def rows_matrix(users, items, n_users, n_items):
    """(n_users, n_items) float 0/1 matrix."""
    matrix = np.zeros((n_users, n_items))
    matrix[users, items] = 1.0
    return matrix


def user_knn(train_rows, neighbours):
    """history (h,) -> (n_items,) scores from the ``neighbours`` most similar training users."""
    norms = np.sqrt(train_rows.sum(axis=1)) + 1e-9

    def scores(history):
        similarity = train_rows[:, history].sum(axis=1) / norms  # cosine, up to the visitor's own norm
        nearest = np.argpartition(-similarity, neighbours)[:neighbours]
        return similarity[nearest] @ train_rows[nearest]

    return scores


def ease_scorer(train, n_train_users, n_items):
    ease = EASE(n_train_users, n_items, train.users, train.items).fit(hyperparameters("ease")["l2"])
    weights = ease.weights.numpy()
    return lambda history: weights[history].sum(axis=0)


def prefix_ridge(prefix_rows, rest_rows, strength):
    """history -> scores: B = argmin ||rest - prefix B||^2 + strength ||B||^2."""
    n_items = prefix_rows.shape[1]
    weights = np.linalg.solve(prefix_rows.T @ prefix_rows + strength * np.eye(n_items), prefix_rows.T @ rest_rows)
    return lambda history: weights[history].sum(axis=0)


def methods_for(split, revealed, popularity):
    data, n_train, n_items = split.data, split.n_train_users, split.data.n_items
    training = data.users < n_train
    train = data.subset(training)
    train_rows = rows_matrix(train.users, train.items, n_train, n_items)
    early = training & (split.position < revealed)
    prefix_rows = rows_matrix(data.users[early], data.items[early], n_train, n_items)
    rest_rows = train_rows - prefix_rows
    methods = {"popularity": lambda history: popularity}
    methods.update({f"user-kNN, k={k}": user_knn(train_rows, k) for k in NEIGHBOURS})
    methods["EASE"] = ease_scorer(train, n_train, n_items)
    methods.update({f"prefix -> rest ridge, strength {s:g}": prefix_ridge(prefix_rows, rest_rows, s) for s in RIDGE_GRID})
    return methods


def recall_by_method(split, revealed):
    """{method: recall@10} over the held-out users with more than ``revealed`` interactions."""
    data = split.data
    popularity = np.bincount(data.items[data.users < split.n_train_users], minlength=data.n_items).astype(np.float64)
    methods = methods_for(split, revealed, popularity)
    hits, counts, per_user = {name: [] for name in methods}, [], data.counts_per_user()
    for user in split.held_out_users:
        if per_user[user] <= revealed:
            continue
        history, test = split.history_and_test(user, revealed)
        counts.append(len(test))
        for name, scores in methods.items():
            # Popularity breaks ties, as it does for the models' near-ties.
            ranked = np.array(scores(np.asarray(history)), dtype=np.float64) + 1e-9 * popularity
            ranked[history] = -np.inf
            hits[name].append(hits_at_k(np.argsort(-ranked, kind="stable"), test))
    return {name: ranking_metrics(np.array(rows), np.array(counts), K)[f"recall@{K}"] for name, rows in hits.items()}


def report(args, recalls):
    """recalls: {(seed, n): {method: recall}} -> text."""
    parts, best = [], {}
    for n in args.revealed:
        rows = []
        for method in recalls[(args.seeds[0], n)]:
            values = np.array([recalls[(seed, n)][method] for seed in args.seeds])
            ratios = values / np.array([recalls[(seed, n)]["popularity"] for seed in args.seeds])
            spread = f" ± {ratios.std(ddof=1):.2f}" if len(ratios) > 1 else ""
            rows.append([n, method, f"{values.mean():.4f}", f"{ratios.mean():.2f}{spread}",
                         " ".join(f"{ratio:.2f}" for ratio in ratios), f"{(ratios >= GOAL_VS_POPULARITY).sum()} of {len(ratios)}"])
            if method != "popularity" and ratios.mean() > best.get(n, ("", 0.0))[1]:
                best[n] = (method, ratios.mean())
        parts.append(markdown_table(["n revealed", "method", f"recall@{K} (mean)", "recall / popularity (mean ± sd)",
                                     "per seed", f"seeds at >= {GOAL_VS_POPULARITY}x"], rows))
    summary = "; ".join(f"n={n}: {method} {ratio:.2f}x popularity" for n, (method, ratio) in best.items())
    return "\n\n".join([
        f"Cold-visitor ceiling, ml-100k, {args.held_out:.0%} users held out, seeds {', '.join(map(str, args.seeds))} "
        f"(the users of bench_foldin_quality.py with the same seeds).", *parts, f"Best on the means: {summary}.",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--held-out", type=float, default=0.1)
    parser.add_argument("--revealed", nargs="+", type=int, default=[n for n in REVEALED if n > 1])
    parser.add_argument("--out", default="coldstart-ceiling.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    data = from_frame(read_movielens_ratings(Path(args.data) / "u.data"))
    recalls = {}
    for seed in tqdm(args.seeds, desc="seeds"):
        split = cold_split(data, args.held_out, seed)
        for n in args.revealed:
            recalls[(seed, n)] = recall_by_method(split, n)
    text = report(args, recalls)
    print(text)
    path = write_report(args.out, text)
    print(f"Benchmark finished in {time.perf_counter() - started:.0f} s; table in {path}.")


if __name__ == "__main__":
    main()
