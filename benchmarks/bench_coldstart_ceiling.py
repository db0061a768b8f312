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
from bench_foldin_quality import GOAL_VS_POPULARITY, REVEALED, K, Scores, cold_split, ranked_by
from foldin_common import DEFAULT_DATA, markdown_table, write_report
from tqdm import tqdm

from predictors.data import from_frame, read_movielens_ratings
from predictors.ease import EASE
from predictors.evaluation import interaction_matrix
from predictors.zoo import hyperparameters

NEIGHBOURS = (50, 200)
RIDGE_GRID = (10.0, 100.0, 500.0)


def user_knn(train_rows, neighbours):
    """history (h,) -> (n_items,) scores from the ``neighbours`` most similar training users."""
    norms = np.sqrt(train_rows.sum(axis=1)) + 1e-9

    def scores(history):
        similarity = train_rows[:, history].sum(axis=1) / norms  # cosine, up to the visitor's own norm
        nearest = np.argpartition(-similarity, neighbours)[:neighbours]
        return similarity[nearest] @ train_rows[nearest]

    return scores


def ease_scorer(train):
    ease = EASE(train.n_users, train.n_items, train.users, train.items).fit(hyperparameters("ease")["l2"])
    weights = ease.weights.numpy()
    return lambda history: weights[history].sum(axis=0)


def prefix_ridge(prefix_rows, rest_rows, strength):
    """history -> scores: B = argmin ||rest - prefix B||^2 + strength ||B||^2."""
    n_items = prefix_rows.shape[1]
    weights = np.linalg.solve(prefix_rows.T @ prefix_rows + strength * np.eye(n_items), prefix_rows.T @ rest_rows)
    return lambda history: weights[history].sum(axis=0)


def recalls_for_seed(split, revealed_counts):
    """{n: {method: recall@10}} over the held-out users with more than n interactions."""
    train = split.training_part()
    train_rows = interaction_matrix(train).astype(np.float64)  # (n_train_users, n_items)
    popularity = train_rows.sum(axis=0)
    methods = {"popularity": lambda history: popularity}
    methods.update({f"user-kNN, k={k}": user_knn(train_rows, k) for k in NEIGHBOURS})
    methods["EASE"] = ease_scorer(train)
    recalls = {}
    for n in revealed_counts:
        early = (split.data.users < split.n_train_users) & (split.position < n)
        prefix_rows = interaction_matrix(split.data.subset(early))[: split.n_train_users].astype(np.float64)
        ridges = {
            f"prefix -> rest ridge, strength {s:g}": prefix_ridge(prefix_rows, train_rows - prefix_rows, s)
            for s in RIDGE_GRID
        }
        scores = Scores()
        for history, test in split.cases(n).values():
            for name, scorer in {**methods, **ridges}.items():
                # Popularity breaks ties, as it does for the models' near-ties.
                scores.add(name, n, ranked_by(scorer(np.asarray(history)) + 1e-9 * popularity, history), test)
        recalls[n] = {name: scores.metrics(name, n)[0] for name in {**methods, **ridges}}
    return recalls


def report(args, recalls):
    """recalls: {(seed, n): {method: recall}} -> text."""
    parts, best = [], {}
    for n in args.revealed:
        rows = []
        for method in recalls[(args.seeds[0], n)]:
            values = np.array([recalls[(seed, n)][method] for seed in args.seeds])
            ratios = values / np.array([recalls[(seed, n)]["popularity"] for seed in args.seeds])
            spread = f" ± {ratios.std(ddof=1):.2f}" if len(ratios) > 1 else ""
            rows.append(
                [
                    n,
                    method,
                    f"{values.mean():.4f}",
                    f"{ratios.mean():.2f}{spread}",
                    " ".join(f"{ratio:.2f}" for ratio in ratios),
                    f"{(ratios >= GOAL_VS_POPULARITY).sum()} of {len(ratios)}",
                ]
            )
            if method != "popularity" and ratios.mean() > best.get(n, ("", 0.0))[1]:
                best[n] = (method, ratios.mean())
        parts.append(
            markdown_table(
                [
                    "n revealed",
                    "method",
                    f"recall@{K} (mean)",
                    "recall / popularity (mean ± sd)",
                    "per seed",
                    f"seeds at >= {GOAL_VS_POPULARITY}x",
                ],
                rows,
            )
        )
    summary = "; ".join(f"n={n}: {method} {ratio:.2f}x popularity" for n, (method, ratio) in best.items())
    return "\n\n".join(
        [
            f"Cold-visitor ceiling, ml-100k, {args.held_out:.0%} users held out, seeds {', '.join(map(str, args.seeds))} "
            f"(the users of bench_foldin_quality.py with the same seeds).",
            *parts,
            f"Best on the means: {summary}.",
        ]
    )


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
        for n, by_method in recalls_for_seed(cold_split(data, args.held_out, seed), args.revealed).items():
            recalls[(seed, n)] = by_method
    text = report(args, recalls)
    print(text)
    path = write_report(args.out, text)
    print(f"Benchmark finished in {time.perf_counter() - started:.0f} s; table in {path}.")


if __name__ == "__main__":
    main()
