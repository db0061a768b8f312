"""Onboarding's value: a new visitor's first list after picking from the groups.

Protocol, per dataset (ml-100k, ml-latest-small), seed and model (EASE and
GMF by default): 10% of the users are held out of training. The model is
fitted on the other users at the defaults ``predictors.training_service``
uses (``hyperparameters(model, "full", stats=DatasetStats of the data)``,
``training.fit_model`` with its early stopping), registered and activated
in a scratch SQLite site, and made the primary model. The onboarding groups
are then the site's own (``onboarding.model_groups`` on the loaded model:
the groups and movies as the panel shows them), except that the movies'
rating counts and star histograms are the training users' (the served site
reads the catalog's, which is what its model was trained on); held-out
users' ratings never choose what is shown to them. ``--rules`` measures
other groupings on the same trained models (``RULES``, docs/tuning.md).

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

Each ratio is onboarding's mean recall over the baseline's on the same users,
pooled over seeds, with a 95% interval from a paired bootstrap over users
(resampled within each seed, both methods of a user kept together).

``--validation`` measures on validation users instead (10% of the training
users, held out of training too), for choosing a grouping without looking
at the test users.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_onboarding.py --datasets ml-100k --seeds 0   # quick
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_onboarding.py --validation --rules site most-rated
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_onboarding.py   # seeds 0-4, test users

Five seeds by default: at 55-94 users a seed one seed's ratio moved by
0.06-0.27. A seed costs about a minute on ml-100k and several on
ml-latest-small (EASE's 9,700-item solve, GMF's fit) on an idle core.
Results: docs/tuning.md, "Onboarding groups".
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
BOOTSTRAP_ROUNDS = 2000
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


def user_recall(top, test):
    """Recall@K of one list, as ``evaluation.ranking_metrics`` reads it (hits / relevant)."""
    return float(np.isin(np.asarray(top[:K]), test).sum() / len(test))


# --- Rules tried for the groups (docs/tuning.md, "Onboarding groups") ---------------------------------------------


def training_statistics(part):
    """({Movie pk: training ratings}, {Movie pk: ratings per half star}) of the
    training users, bucketed as the catalog's ``Movie.rating_histogram``."""
    from movie.importer import HISTOGRAM_BUCKETS

    buckets = np.clip(np.round(part.ratings * 2).astype(np.int64) - 1, 0, HISTOGRAM_BUCKETS - 1)
    histogram = np.zeros((part.n_items, HISTOGRAM_BUCKETS), dtype=np.int64)
    np.add.at(histogram, (part.items, buckets), 1)
    pks = [int(pk) for pk in part.item_ids]
    return dict(zip(pks, histogram.sum(1).tolist(), strict=True)), dict(zip(pks, histogram.tolist(), strict=True))


def entropy_bits(histogram):
    """Entropy in bits of a movie's ratings (``histogram``: how many of each star value)."""
    counts = np.asarray(histogram, dtype=np.float64)
    shares = counts[counts > 0] / max(counts.sum(), 1.0)
    return float(-(shares * np.log2(shares)).sum())


def entropy_scores(counts, histograms, lift):
    """{pk: lift(ratings) x entropy of its ratings}: Rashid et al. 2002's
    "popularity x entropy" (``lift`` = log2 for their log popularity): a
    movie many have seen can be rated; one whose raters disagree tells their
    tastes apart."""
    return {pk: float(lift(max(n, 1))) * entropy_bits(histograms[pk]) for pk, n in counts.items()}


def rule_groups(rule, loaded, counts, histograms):
    """The groups a rule shows from the loaded model; "site" is the site's own
    (``model_groups``, whatever rule it holds), "most-rated" the rule it held
    when the others were tried."""
    from predictors import onboarding

    if rule == "site":
        return onboarding.model_groups(loaded, counts).groups
    score, shown_by = counts, None
    if rule in ("logpop-entropy", "pop-entropy"):  # candidates and the order inside groups by the score
        score = entropy_scores(counts, histograms, np.log2 if rule == "logpop-entropy" else float)
    ids, _, genres_of, titles = onboarding.catalog_candidates(loaded.index, score)
    popularity = {pk: counts[pk] for pk in ids}  # groups in order of their ratings, examples most rated
    if score is not counts:
        shown_by = {pk: score[pk] for pk in ids}
    vectors = onboarding.item_vectors(loaded.model, [loaded.index[pk] for pk in ids])
    if rule in ("pop-distinct", "distinct-known"):
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        centre = unit.mean(0)
        centre /= max(np.linalg.norm(centre), 1e-12)
        distance = 1.0 - unit @ centre  # (n,) how far from the average well-known movie's taste
        if rule == "pop-distinct":  # popularity x distinctiveness, as Rashid's popularity x entropy
            shown_by = {pk: popularity[pk] * float(d) for pk, d in zip(ids, distance, strict=True)}
        else:  # the most distinctive first among the better-known half of the candidates
            median = np.median([popularity[pk] for pk in ids])
            shown_by = {pk: float(d) + (popularity[pk] >= median) * 10.0 for pk, d in zip(ids, distance, strict=True)}
    if rule == "pop-norm":  # popularity x the vector's length (how strongly the model places the movie)
        norms = np.linalg.norm(vectors, axis=1)
        shown_by = {pk: popularity[pk] * float(n) for pk, n in zip(ids, norms, strict=True)}
    return onboarding.cluster_groups(vectors, ids, popularity, genres_of, titles, shown_by=shown_by)


RULES = ("site", "most-rated", "logpop-entropy", "pop-entropy", "pop-distinct", "distinct-known", "pop-norm")


def run(dataset, seed, model_name, data, stars, workdir, validation=False, rules=("site",)):
    """-> {rule: per-user "onboarding"/"random"/"popularity" recalls and "picks", and "groups"}."""
    from django.test import override_settings

    from predictors import artifacts, onboarding, serving

    split = cold_split(data, 0.1, seed)
    if validation:  # held-out users of the training users: the test users are not even trained on
        split = cold_split(split.training_part(), 0.1, VALIDATION_SEED + seed)
    part = split.training_part()
    pks = split.data.item_ids  # item index -> Movie pk
    popularity = np.bincount(part.items, minlength=part.n_items).astype(np.float64)
    # "Well known" as the site trained on these users would count it: their ratings only.
    counts, histograms = training_statistics(part)
    store = artifacts.LocalStore(Path(workdir) / "models")
    users = [(user, items) for user, (_, items) in split.cases(0).items() if len(items) >= MIN_RATINGS]
    results = {}
    with override_settings(MOVIELENS_DATASET=dataset, PRIMARY_MODEL=model_name):
        version, _ = train_and_activate(model_name, part, dataset, seed, store)
        onboarding.clear_cache()
        loaded = serving.get_predictor(model_name).current()
        assert loaded.version.label == version.label, loaded.version.label
        random_lists = {}
        for rule in rules:
            groups = rule_groups(rule, loaded, counts, histograms)
            out = {"onboarding": [], "random": [], "popularity": [], "picks": []}
            for user, items in tqdm(users, desc=f"{dataset} {model_name} seed {seed} {rule}", leave=False):
                user_id = int(split.data.user_ids[user])
                user_stars = {int(pks[i]): stars[(user_id, int(pks[i]))] for i in items}
                picks = onboarding_picks(groups, user_stars)
                revealed = np.random.default_rng([seed, user]).permutation(list(user_stars))[:RANDOM_REVEALED]
                revealed = revealed.tolist()
                test = np.array(sorted(set(user_stars) - set(picks) - set(revealed)))
                if not len(test):
                    continue
                if user not in random_lists:
                    random_lists[user] = site_list(model_name, [event("rating", pk, user_stars[pk]) for pk in revealed])
                seen = [i for i, pk in enumerate(pks) if int(pk) in set(picks) | set(revealed)]
                out["picks"].append(len(picks))
                out["onboarding"].append(user_recall(site_list(model_name, [event("like", pk) for pk in picks]), test))
                out["random"].append(user_recall(random_lists[user], test))
                out["popularity"].append(user_recall([int(pks[i]) for i in ranked_by(popularity, seen)], test))
            results[rule] = {key: np.array(values, dtype=np.float64) for key, values in out.items()}
            results[rule]["groups"] = len(groups)
    return results


def paired_ratio(per_seed, against, rng, rounds=BOOTSTRAP_ROUNDS):
    """Onboarding's mean recall over ``against``'s on the same users, pooled over
    seeds, and its 95% percentile interval from a paired bootstrap over users
    (users drawn with replacement within each seed, both methods kept together)."""
    onboarding = [r["onboarding"] for r in per_seed]
    other = [r[against] for r in per_seed]
    point = np.concatenate(onboarding).mean() / max(np.concatenate(other).mean(), 1e-12)
    ratios = np.empty(rounds)
    for b in range(rounds):
        draws = [rng.integers(0, len(o), len(o)) for o in onboarding]
        top = sum(o[d].sum() for o, d in zip(onboarding, draws, strict=True))
        bottom = sum(x[d].sum() for x, d in zip(other, draws, strict=True))
        ratios[b] = top / max(bottom, 1e-12)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(point), float(low), float(high)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--rules", nargs="+", choices=RULES, default=["site"], help="groupings to measure on the same trained models"
    )
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
    rows, all_met, rng = [], True, np.random.default_rng(0)
    for dataset in args.datasets:
        data, stars = dataset_ratings(dataset)
        for model_name in args.models:
            per_seed = [
                run(dataset, seed, model_name, data, stars, args.workdir, args.validation, args.rules)
                for seed in args.seeds
            ]
            for rule in args.rules:
                results = [r[rule] for r in per_seed]
                mean = {
                    m: float(np.concatenate([r[m] for r in results]).mean())
                    for m in ("onboarding", "random", "popularity")
                }
                vs_pop, vs_random = (paired_ratio(results, against, rng) for against in ("popularity", "random"))
                met = vs_pop[0] >= GOAL_VS_POPULARITY and vs_random[0] >= GOAL_VS_RANDOM
                all_met &= met
                picks = np.concatenate([r["picks"] for r in results])
                rows.append(
                    [
                        dataset,
                        model_name,
                        rule,
                        len(picks),
                        f"{picks.mean():.2f}",
                        int((picks == 0).sum()),
                        f"{mean['onboarding']:.4f}",
                        f"{mean['random']:.4f}",
                        f"{mean['popularity']:.4f}",
                        "{:.2f}x ({:.2f}-{:.2f})".format(*vs_pop),
                        "{:.2f}x ({:.2f}-{:.2f})".format(*vs_random),
                        "met" if met else "NOT met",
                    ]
                )
                log.info("%s", rows[-1])
    table = markdown_table(
        [
            "dataset",
            "model",
            "rule",
            "users (all seeds)",
            "mean picks",
            "users with no pick",
            "recall@10 onboarding",
            "5 random ratings",
            "popularity",
            "vs popularity (goal 1.3x), 95% CI",
            "vs 5 random (goal 0.9x), 95% CI",
            "goal",
        ],
        rows,
    )
    text = (
        f"## Onboarding: recall@10 after picking from the groups ({'validation' if args.validation else 'test'} users, "
        f"seeds {', '.join(map(str, args.seeds))}, users pooled over seeds; intervals: paired bootstrap over users, "
        f"{BOOTSTRAP_ROUNDS} rounds)\n\n{table}\n\n{'Every goal met' if all_met else 'At least one goal NOT met (see the table)'}; "
        f"{time.perf_counter() - started:.0f} s in all (OMP_NUM_THREADS=1)."
    )
    print(text)
    write_report(args.out, text)


if __name__ == "__main__":
    main()
