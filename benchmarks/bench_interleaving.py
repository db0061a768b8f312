"""Team-draft interleaving against an A/B split on simulated visitors: impressions until the 95% interval excludes zero.

Visitors: every user of ml-100k and of ml-latest-small with held-out
ratings, on the random 75/25 split per user of the "full" protocol (seed 0):
the models are fitted on the 75%, the remaining 25% are the movies the
visitor would click. Click model (--click-model): a shown movie at rank r
(1..10) is noticed with probability 1 / log2(r + 1); "cascade" (default):
the visitor reads top-down and clicks the first noticed movie that is in
their remaining ratings, then leaves (a card click opens the movie's page);
"examination": every noticed movie in their remaining ratings is clicked.

Pairs (A is the one with the higher offline NDCG@10 on that split):
- EASE (train_model's lambda) vs popularity;
- the best vs the worst served model: EASE vs GMF at train_model's defaults;
- two versions of one model: EASE at its lambda vs EASE at lambda / 16.

For each pair and seed, one stream of impressions, each a visitor drawn
uniformly: interleaving shows that visitor the team-draft merge of A and B
(experiments.interleaving.team_draft); the A/B split shows the same visitor,
with the same random numbers for the clicks, the list of the side their
visitor hash gives (experiments.interleaving.ab_side). After every ~10% more
impressions, the 95% interval (experiments.stats: percentile bootstrap over
visitors, 1,000 resamples) is checked; the first count at which it excludes
zero is the method's "impressions needed", and the sign it shows then is
its pick. A method that never excludes zero by --max-impressions is counted
at the cap and as not picking the winner.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_interleaving.py --seeds 20
"""

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from experiments.interleaving import ab_side, team_draft  # noqa: E402
from experiments.stats import bootstrap_preference, bootstrap_rate_preference, excludes_zero  # noqa: E402
from predictors.baselines import fit_popularity  # noqa: E402
from predictors.data import from_movielens_files  # noqa: E402
from predictors.defaults import DatasetStats  # noqa: E402
from predictors.evaluation import full_ranking, interaction_matrix, model_scorer, top_k  # noqa: E402
from predictors.training import protocol_split, train_and_evaluate  # noqa: E402
from predictors.zoo import hyperparameters  # noqa: E402

log = logging.getLogger("bench_interleaving")

K = 10
EXAMINATION = 1.0 / np.log2(np.arange(2, K + 2))  # rank 1 -> 1, rank 2 -> 0.63, ... rank 10 -> 0.29
FIRST_CHECK, GROWTH = 20, 1.1
GOAL_PICKS, GOAL_RATIO = 19, 10.0


def rankings(scorer, train, users):
    """(len(users), K) item indices, best first, the user's training items left out."""
    seen = interaction_matrix(train)
    scores = np.array(scorer(users), dtype=np.float64)
    scores[seen[users]] = -np.inf
    return top_k(scores, K)


def fit_models(dataset, split, gmf):
    """{name: (scorer, NDCG@10)} on the split's training part."""
    data, (train, test) = dataset
    stats = DatasetStats.from_interactions(data)
    models = {"popularity": (fit_popularity(train), None)}
    ease_l2 = hyperparameters("ease", stats=stats)["l2"]
    wanted = {"ease": ("ease", {}), "ease-weak": ("ease", {"l2": ease_l2 / 16})}
    if gmf:
        wanted["gmf"] = ("gmf", {})
    for name, (model_name, overrides) in wanted.items():
        started = time.perf_counter()
        result = train_and_evaluate(
            data, model_name, hyperparameters(model_name, stats=stats, **overrides), "full", 0, False
        )
        assert np.array_equal(result.split[1].items, test.items)
        models[name] = (model_scorer(result.model), None)
        log.info("%s fitted in %.0f s", name, time.perf_counter() - started)
    return {name: (scorer, full_ranking(scorer, train, test)["ndcg@10"]) for name, (scorer, _) in models.items()}


def checkpoints(cap):
    points, n = [], FIRST_CHECK
    while n < cap:
        points.append(int(n))
        n = max(n * GROWTH, n + 1)
    return points + [cap]


def first_exclusion(stream_length, interval_at):
    """(impressions, sign) at the first checkpoint whose interval excludes zero, else (cap, 0)."""
    for n in checkpoints(stream_length):
        point, interval = interval_at(n)
        if excludes_zero(interval):
            return n, int(np.sign(point))
    return stream_length, 0


def first_only(noticed):
    """Cascade: the visitor leaves for the first relevant movie they notice; (..., K) bool -> the one click."""
    first = np.cumsum(noticed, axis=-1) == 1
    return noticed & first


CLICK_MODELS = {"cascade": first_only, "examination": lambda noticed: noticed}


def simulate(rank_a, rank_b, relevant, seed, cap_interleaving, cap_ab, click_model, visit_weights=None):
    """One seed: (interleaving (impressions, sign), A/B (impressions, sign)); sign +1 means A is preferred."""
    n_users = len(rank_a)
    rng = np.random.default_rng(seed)
    # The same visitors, in the same order, for both methods.
    visitors = rng.choice(n_users, size=cap_ab, p=visit_weights)
    uniforms = rng.random((cap_ab, K))  # the same click coins for both
    coins = random.Random(seed)

    # Interleaving: per-impression winner, computed lazily up to where it is needed.
    winners = np.zeros(cap_interleaving, dtype=np.int8)  # +1 A, -1 B, 0 tie
    for i in range(cap_interleaving):
        user = visitors[i]
        shown, credits = team_draft(rank_a[user], rank_b[user], K, coins)
        clicked = CLICK_MODELS[click_model](
            (uniforms[i, : len(shown)] < EXAMINATION[: len(shown)]) & relevant[user, shown]
        )
        a = sum(1 for c, side in zip(clicked, credits, strict=True) if c and side == "a")
        b = int(clicked.sum()) - a
        winners[i] = (a > b) - (b > a)
    boot = np.random.default_rng(seed + 1_000_000)

    def interleaving_interval(n):
        users = visitors[:n]
        wins_a = np.bincount(users, weights=winners[:n] == 1, minlength=n_users)
        wins_b = np.bincount(users, weights=winners[:n] == -1, minlength=n_users)
        present = np.bincount(users, minlength=n_users) > 0
        return bootstrap_preference(wins_a[present], wins_b[present], boot)

    # A/B: each visitor sees their side's list; clicks per impression, vectorised.
    side_b = np.array([ab_side(seed, user) == "b" for user in range(n_users)])
    click_probability = np.where(side_b[:, None], relevant_hits(rank_b, relevant), relevant_hits(rank_a, relevant))
    click_probability = click_probability * EXAMINATION  # (n_users, K)
    clicks = np.zeros(cap_ab)
    for start in range(0, cap_ab, 100_000):
        end = min(start + 100_000, cap_ab)
        noticed = uniforms[start:end] < click_probability[visitors[start:end]]
        clicks[start:end] = CLICK_MODELS[click_model](noticed).any(axis=1)  # impressions with a click

    def ab_interval(n):
        users = visitors[:n]
        shown = np.bincount(users, minlength=n_users)
        clicked = np.bincount(users, weights=clicks[:n], minlength=n_users)
        in_a, in_b = (shown > 0) & ~side_b, (shown > 0) & side_b
        return bootstrap_rate_preference(clicked[in_a], shown[in_a], clicked[in_b], shown[in_b], boot)

    return first_exclusion(cap_interleaving, interleaving_interval), first_exclusion(cap_ab, ab_interval)


def relevant_hits(ranking, relevant):
    """(n_users, K) bool: is the movie at each rank in the visitor's remaining ratings."""
    return np.take_along_axis(relevant, ranking, axis=1)


def run_dataset(name, seeds, cap_interleaving, cap_ab, gmf, click_model, visits):
    data = from_movielens_files(name)
    train, test = protocol_split(data, "full", 0)
    models = fit_models((data, (train, test)), None, gmf)
    relevant_all = interaction_matrix(test)
    users = np.flatnonzero(relevant_all.any(axis=1))
    relevant = relevant_all[users]
    counts = np.bincount(train.users, minlength=train.n_users)[users].astype(np.float64)
    visit_weights = counts / counts.sum() if visits == "active" else None
    ranked = {model: rankings(scorer, train, users) for model, (scorer, _) in models.items()}
    pairs = [("ease", "popularity", "EASE vs popularity")]
    if gmf:
        pairs.append(("ease", "gmf", "best vs worst served: EASE vs GMF"))
    pairs.append(("ease", "ease-weak", "EASE lambda vs lambda/16"))
    rows = []
    for first, second, label in pairs:
        a, b = sorted((first, second), key=lambda model: -models[model][1])  # A: the offline winner
        results = []
        for seed in tqdm(range(seeds), desc=f"{name} {label}", leave=False):
            results.append(
                simulate(ranked[a], ranked[b], relevant, seed, cap_interleaving, cap_ab, click_model, visit_weights)
            )
        rows.append(summarise(name, label, a, b, models, results, len(users)))
    return rows


def summarise(dataset, label, a, b, models, results, n_users):
    interleaving = [r[0] for r in results]
    ab = [r[1] for r in results]
    median_il = float(np.median([n for n, _ in interleaving]))
    median_ab = float(np.median([n for n, _ in ab]))
    return {
        "dataset": dataset,
        "pair": label,
        "a": a,
        "b": b,
        "ndcg_a": models[a][1],
        "ndcg_b": models[b][1],
        "visitors": n_users,
        "interleaving_picks": sum(1 for _, sign in interleaving if sign == 1),
        "ab_picks": sum(1 for _, sign in ab if sign == 1),
        "median_interleaving": median_il,
        "median_ab": median_ab,
        "ab_capped": sum(1 for _, sign in ab if sign == 0),
        "ratio": median_ab / median_il,
        "seeds": len(results),
        "per_seed": results,
    }


def table(rows, cap_ab):
    lines = [
        "| dataset | pair (A = offline winner) | NDCG@10 A / B | interleaving picks A | A/B picks A | median impressions interleaving | median impressions A/B | A/B / interleaving | goal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        capped = f" ({row['ab_capped']} at the {cap_ab:,} cap)" if row["ab_capped"] else ""
        met = row["interleaving_picks"] >= GOAL_PICKS * row["seeds"] / 20 and row["ratio"] >= GOAL_RATIO
        lines.append(
            f"| {row['dataset']} | {row['pair']} | {row['ndcg_a']:.4f} / {row['ndcg_b']:.4f} | "
            f"{row['interleaving_picks']}/{row['seeds']} | {row['ab_picks']}/{row['seeds']} | "
            f"{row['median_interleaving']:,.0f} | {row['median_ab']:,.0f}{capped} | {row['ratio']:.1f}x | "
            f"{'met' if met else 'NOT met'} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["ml-100k", "ml-latest-small"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-impressions", type=int, default=400_000, help="Cap for the A/B split.")
    parser.add_argument("--max-interleaved", type=int, default=40_000, help="Cap for interleaving.")
    parser.add_argument("--click-model", choices=sorted(CLICK_MODELS), default="cascade")
    parser.add_argument(
        "--visits",
        choices=["uniform", "active"],
        default="uniform",
        help="Who comes back: every visitor alike, or in proportion to their training ratings.",
    )
    parser.add_argument("--no-gmf", action="store_true", help="Leave out the GMF pair (it trains for minutes).")
    parser.add_argument("--out", type=Path, help="Also write the table here, and the numbers to a .json beside it.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rows = []
    for dataset in args.datasets:
        rows += run_dataset(
            dataset,
            args.seeds,
            args.max_interleaved,
            args.max_impressions,
            not args.no_gmf,
            args.click_model,
            args.visits,
        )
        text = table(rows, args.max_impressions)
        if args.out:
            args.out.write_text(text + "\n")
            args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(text)
    met = all(row["interleaving_picks"] >= GOAL_PICKS and row["ratio"] >= GOAL_RATIO for row in rows)
    print(
        f"Goal (interleaving picks the winner in >= {GOAL_PICKS}/20 seeds and needs >= {GOAL_RATIO:.0f}x fewer impressions, every pair): {'met' if met else 'NOT met'}."
    )


if __name__ == "__main__":
    main()
