"""Onboarding's value: a new visitor's first list after picking from the groups.

Protocol, per dataset (ml-100k, ml-latest-small), seed and model (EASE and
GMF by default): 10% of the users are held out of training. The model is
fitted on the other users at the defaults ``predictors.training_service``
uses (``hyperparameters(model, "full", stats=DatasetStats of the data)``,
``training.fit_model`` with its early stopping), registered and activated
in a scratch SQLite site, and made the primary model. The onboarding groups
are then the site's own (``onboarding.site_groups``: the groups and movies
exactly as the panel shows them).

Each held-out user with at least MIN_RATINGS ratings is a new visitor who
goes through the groups in the order shown and picks every movie they rated
4 stars or more, up to 5 picks (a user who finds none gets the site's answer
to an empty history: popularity). Their list is what the site answers to
those ``like`` events (``serving.history_from_events`` ->
``serving.recommend``), scored by recall@10 on the rest of their ratings.

Baselines on the same users and the same test movies (their ratings minus
both the picks and the 5 revealed below):
- 5 random ratings: 5 of their ratings drawn at random, sent as rating
  events with their stars, through the same path;
- popularity: the training users' most rated movies, less the picks and the
  5 revealed (the strongest reading of "show the popular list").

Goal (issue 17): onboarding >= 1.3x popularity and >= 0.9x 5 random ratings.

``--validation`` measures on validation users instead (10% of the training
users, held out of training too), for choosing a grouping without looking
at the test users.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_onboarding.py --datasets ml-100k --seeds 0   # quick
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_onboarding.py

Measured 2026-12-01 (seeds 0-2, 10% held out, GMF by weighted least
squares, a 2-core machine shared with other jobs): ml-100k GMF 1.43x
popularity, 1.23x 5 random; EASE 1.63x, 1.05x (both met). ml-latest-small
GMF 1.39x, 1.05x (met); EASE 1.77x, 0.88x: it misses 0.9x of 5 random
ratings by 0.02 (61 users a seed): random ratings reach its long tail, the
groups show the 150 most rated movies only. A grouping from the catalog's
statistics (the movies a tenth of the users rated, in sqrt(n / 2) groups)
met every goal on validation users but not on these: docs/tuning.md.

Note: which movies are "well known" (the candidates of the groups) is read
from the catalog's rating counts, which the held-out users' ratings are part of.
"""

import argparse
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from bench_foldin_quality import cold_split, ranked_by
from bench_newvisitors import dataset_ratings, setup_site
from foldin_common import RESULTS_DIR, markdown_table, write_report
from tqdm import tqdm

log = logging.getLogger("bench_onboarding")

DATASETS = ("ml-100k", "ml-latest-small")
MODELS = ("ease", "gmf")
K = 10
MAX_PICKS, LIKED_AT, RANDOM_REVEALED, MIN_RATINGS = 5, 4.0, 5, 15
GOAL_VS_POPULARITY, GOAL_VS_RANDOM = 1.3, 0.9
VALIDATION_SEED = 1000  # --validation: its users are drawn from the training users with this seed offset


def train_and_activate(name, part, dataset, seed, store):
    """The model at the site's defaults, fitted on the training users, active; -> (version, seconds)."""
    from predictors import training
    from predictors.defaults import DatasetStats
    from predictors.registry import register
    from predictors.zoo import hyperparameters

    params = hyperparameters(name, "full", stats=DatasetStats.from_interactions(part))
    torch.manual_seed(seed)
    started = time.perf_counter()
    model, fit, _ = training.fit_model(name, part, params, np.random.default_rng(seed + 3), progress=False)
    seconds = time.perf_counter() - started
    result = SimpleNamespace(model=model, params=params, fit=fit, metrics={}, curves=[], seconds=seconds)
    version = register(name, result, part, dataset, {"benchmark": "onboarding", "seed": seed}, store=store)
    version.activate(force=True)
    return version, seconds


def event(event_type, movie_id, rating=None):
    return SimpleNamespace(event_type=event_type, movie_id=movie_id, rating=rating)


def site_list(model_name, events_oldest_first):
    """The site's top 10 for a visitor with these events (events -> history -> serving)."""
    from predictors import serving

    history = serving.history_from_events(list(reversed(events_oldest_first)))
    return serving.recommend(model_name, history, k=K).movie_ids


def onboarding_picks(groups, user_stars):
    """The movies this user rated >= LIKED_AT, in the order the groups show them, up to MAX_PICKS."""
    shown = [pk for group in groups for pk in group.movie_ids]
    return [pk for pk in dict.fromkeys(shown) if user_stars.get(pk, 0) >= LIKED_AT][:MAX_PICKS]


def recall(top, test):
    from predictors.evaluation import ranking_metrics

    hits = np.array(
        [
            np.isin(np.pad(np.asarray(t[:K]), (0, K - len(t[:K])), constant_values=-1), s)
            for t, s in zip(top, test, strict=True)
        ]
    )
    return ranking_metrics(hits, np.array([len(s) for s in test]), K)[f"recall@{K}"]


def run(dataset, seed, model_name, data, stars, workdir, validation=False):
    from django.test import override_settings

    from predictors import artifacts, onboarding

    split = cold_split(data, 0.1, seed)
    if validation:  # held-out users of the training users: the test users are not even trained on
        split = cold_split(split.training_part(), 0.1, VALIDATION_SEED + seed)
    part = split.training_part()
    pks = split.data.item_ids  # item index -> Movie pk
    popularity = np.bincount(part.items, minlength=part.n_items).astype(np.float64)
    store = artifacts.LocalStore(Path(workdir) / "models")
    with override_settings(MOVIELENS_DATASET=dataset, PRIMARY_MODEL=model_name):
        version, seconds = train_and_activate(model_name, part, dataset, seed, store)
        onboarding.clear_cache()
        groups = onboarding.site_groups(model_name)
        assert groups.source == version.label, groups.source
        lists = {"onboarding": [], "random": [], "popularity": []}
        tests, n_picks = [], []
        for user, (_, items) in tqdm(split.cases(0).items(), desc=f"{dataset} {model_name} seed {seed}", leave=False):
            if len(items) < MIN_RATINGS:
                continue
            user_id = int(split.data.user_ids[user])
            user_stars = {int(pks[i]): stars[(user_id, int(pks[i]))] for i in items}
            picks = onboarding_picks(groups.groups, user_stars)
            revealed = np.random.default_rng([seed, user]).permutation(list(user_stars))[:RANDOM_REVEALED].tolist()
            test = np.array(sorted(set(user_stars) - set(picks) - set(revealed)))
            if not len(test):
                continue
            n_picks.append(len(picks))
            tests.append(test)
            lists["onboarding"].append(site_list(model_name, [event("like", pk) for pk in picks]))
            lists["random"].append(site_list(model_name, [event("rating", pk, user_stars[pk]) for pk in revealed]))
            seen = [i for i, pk in enumerate(pks) if int(pk) in set(picks) | set(revealed)]
            lists["popularity"].append([int(pks[i]) for i in ranked_by(popularity, seen)])
    n_picks = np.array(n_picks)
    recalls = {method: recall(top, tests) for method, top in lists.items()}
    return {
        "users": len(tests),
        "mean_picks": float(n_picks.mean()),
        "no_pick": int((n_picks == 0).sum()),
        "groups": len(groups.groups),
        "recalls": recalls,
        "seconds": seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--workdir", default=str(RESULTS_DIR / "onboarding-site"), help="scratch site (SQLite, artifacts)"
    )
    parser.add_argument(
        "--validation",
        action="store_true",
        help="measure on validation users split off the training users (for choosing the grouping), not the test users",
    )
    parser.add_argument("--out", default="onboarding.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    started = time.perf_counter()
    setup_site(Path(args.workdir).resolve())
    rows, all_met = [], True
    for dataset in args.datasets:
        data, stars = dataset_ratings(dataset)
        for model_name in args.models:
            results = [
                run(dataset, seed, model_name, data, stars, args.workdir, args.validation) for seed in args.seeds
            ]
            mean = {
                m: float(np.mean([r["recalls"][m] for r in results])) for m in ("onboarding", "random", "popularity")
            }
            vs_pop, vs_random = mean["onboarding"] / mean["popularity"], mean["onboarding"] / mean["random"]
            met = vs_pop >= GOAL_VS_POPULARITY and vs_random >= GOAL_VS_RANDOM
            all_met &= met
            rows.append(
                [
                    dataset,
                    model_name,
                    int(np.mean([r["users"] for r in results])),
                    f"{np.mean([r['mean_picks'] for r in results]):.2f}",
                    int(np.mean([r["no_pick"] for r in results])),
                    f"{mean['onboarding']:.4f}",
                    f"{mean['random']:.4f}",
                    f"{mean['popularity']:.4f}",
                    f"{vs_pop:.2f}x",
                    f"{vs_random:.2f}x",
                    "met" if met else "NOT met",
                ]
            )
            log.info("%s %s: %s", dataset, model_name, rows[-1])
    table = markdown_table(
        [
            "dataset",
            "model",
            "users",
            "mean picks",
            "users with no pick",
            "recall@10 onboarding",
            "5 random ratings",
            "popularity",
            "vs popularity (goal 1.3x)",
            "vs 5 random (goal 0.9x)",
            "goal",
        ],
        rows,
    )
    text = (
        f"## Onboarding: recall@10 after picking from the groups ({'validation' if args.validation else 'test'} users, "
        f"seeds {', '.join(map(str, args.seeds))}, "
        f"means over seeds)\n\n{table}\n\nAll goals {'met' if all_met else 'NOT met'}; "
        f"{time.perf_counter() - started:.0f} s in all (OMP_NUM_THREADS=1)."
    )
    print(text)
    write_report(args.out, text)


if __name__ == "__main__":
    main()
