"""Full-ranking quality of every served model at train_model's defaults, on every dataset, against popularity and tuned ALS.

Same run, same splits: for each dataset and seed, the random 75/25 split per
user (predictors.evaluation's "full" protocol); inside its training part the
validation split that train_model early-stops on (training.validation_split).
Rows:
- popularity, fitted on the training part;
- implicit ALS on the binary interactions, its factors, regularization and
  alpha picked on that validation split from baselines.ALS_GRID, then refitted
  on the whole training part (as our models are);
- GMF, NeuMF, NGCF and EASE, each trained by training.train_and_evaluate with
  the hyper-parameters train_model uses by default (predictors.defaults from
  the dataset's statistics).
Columns: NDCG@10 mean ± sd over the seeds, ratio to ALS and to popularity
(ratios of the means), training seconds, and the goal's verdict:
NGCF, NeuMF >= 1.0x ALS; GMF >= 0.95x; EASE >= 1.02x; every model >= 1.3x
popularity; at most 300 s of training.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality.py --seeds 0 1 2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality.py --seeds 0 --ratings all weighted threshold
    .venv/bin/python benchmarks/bench_quality.py --merge seed0.json seed1.json seed2.json --out quality.md

With --ratings, each model is also trained under each ratings mode (every
rating an interaction; weighted by stars; ratings at or below 2 stars left
out) and scored on the same test split, which always counts every held-out
rating. The table is written to --out (and its numbers to a JSON beside it)
after every dataset and seed.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from predictors.baselines import fit_als, fit_popularity, tune_als  # noqa: E402
from predictors.data import from_movielens_files  # noqa: E402
from predictors.defaults import DatasetStats  # noqa: E402
from predictors.evaluation import full_ranking  # noqa: E402
from predictors.training import protocol_split, train_and_evaluate, validation_split  # noqa: E402
from predictors.zoo import hyperparameters  # noqa: E402

log = logging.getLogger("bench_quality")

MODELS = ("gmf", "neumf", "ngcf", "ease")
ROWS = ("popularity", "als") + MODELS
GOAL_TO_ALS = {"gmf": 0.95, "neumf": 1.0, "ngcf": 1.0, "ease": 1.02}
GOAL_TO_POPULARITY = 1.3
GOAL_SECONDS = 300


def run_seed(data, seed, models, modes, bar):
    """{row: {"ndcg@10": .., "seconds": .., "params": ..}} for one split; rows
    of a ratings mode other than "all" are keyed "model/mode"."""
    train, test = protocol_split(data, "full", seed)
    results = {}
    started = time.perf_counter()
    results["popularity"] = {
        "ndcg@10": full_ranking(fit_popularity(train), train, test)["ndcg@10"],
        "seconds": time.perf_counter() - started,
    }
    bar.set_description(f"seed {seed} als (grid)")
    started = time.perf_counter()
    fit, validation = validation_split(train, np.random.default_rng(seed + 1))
    als_params, als_validation, _ = tune_als(fit, validation, seed)
    scorer = fit_als(train, seed, 1, **als_params)
    results["als"] = {
        "ndcg@10": full_ranking(scorer, train, test)["ndcg@10"],
        "seconds": time.perf_counter() - started,
        "params": als_params,
        "val_ndcg@10": als_validation,
    }
    bar.update()
    stats = DatasetStats.from_interactions(data)
    for name in models:
        for mode in modes:
            bar.set_description(f"seed {seed} {name} ({mode})")
            result = train_and_evaluate(
                data, name, hyperparameters(name, stats=stats, ratings=mode), "full", seed, progress=False
            )
            assert np.array_equal(result.split[1].items, test.items) and np.array_equal(
                result.split[1].users, test.users
            )
            key = name if mode == "all" else f"{name}/{mode}"
            results[key] = {
                "ndcg@10": result.metrics["full"]["ndcg@10"],
                "seconds": result.seconds,
                "epochs": len(result.curves),
                "refit_epochs": result.params.get("refit_epochs"),
            }
            log.info("seed %d %s: NDCG@10 %.4f in %.0f s", seed, key, results[key]["ndcg@10"], result.seconds)
            bar.update()
    return results


def verdict(name, ndcg, als, popularity, seconds):
    checks = []
    if name in GOAL_TO_ALS:
        checks.append(ndcg >= GOAL_TO_ALS[name] * als)
    if name != "popularity":
        checks.append(ndcg >= GOAL_TO_POPULARITY * popularity)
    if name in MODELS:
        checks.append(seconds <= GOAL_SECONDS)
    if not checks:
        return "-"
    return "met" if all(checks) else "NOT met"


def table(dataset, per_seed):
    rows = [row for row in per_seed[0] if all(row in seed_results for seed_results in per_seed)]
    mean = {row: float(np.mean([seed_results[row]["ndcg@10"] for seed_results in per_seed])) for row in rows}
    lines = [
        f"### {dataset} ({len(per_seed)} seeds)",
        "",
        "| model | NDCG@10 | x ALS | x popularity | train s | goal |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        values = [seed_results[row]["ndcg@10"] for seed_results in per_seed]
        seconds = float(np.mean([seed_results[row]["seconds"] for seed_results in per_seed]))
        worst_seconds = max(seed_results[row]["seconds"] for seed_results in per_seed)
        spread = f" ± {np.std(values):.4f}" if len(values) > 1 else ""
        name = row.split("/")[0]
        goal = verdict(name, mean[row], mean["als"], mean["popularity"], worst_seconds) if "/" not in row else "-"
        lines.append(
            f"| {row} | {mean[row]:.4f}{spread} | {mean[row] / mean['als']:.3f} | "
            f"{mean[row] / mean['popularity']:.2f} | {seconds:.0f} | {goal} |"
        )
    return "\n".join(lines), {row: mean[row] / mean["als"] for row in rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["ml-latest-small", "ml-100k"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument(
        "--ratings",
        nargs="+",
        choices=["all", "weighted", "threshold"],
        default=["all"],
        help="ratings modes to train each model under (default: all)",
    )
    parser.add_argument("--out", default=str(REPO_DIR / "benchmarks" / "results" / "quality.md"))
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="instead of training, merge the numbers of runs made in parallel (one seed each) into one table",
    )
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, Path(args.out))
        return
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    modes = ["all"] + [mode for mode in args.ratings if mode != "all"]
    loaded = {}
    for dataset in args.datasets:
        try:
            loaded[dataset] = from_movielens_files(dataset)
        except Exception as error:  # noqa: BLE001 - a missing dataset is reported, not fatal
            parser.error(f"{dataset}: {error}")
    results, reports = {}, []
    started = time.perf_counter()
    steps = len(args.datasets) * len(args.seeds) * (1 + len(args.models) * len(modes))
    with tqdm(total=steps) as bar:
        for dataset, data in loaded.items():
            for seed in args.seeds:
                results.setdefault(dataset, []).append(run_seed(data, seed, args.models, modes, bar))
                reports = [table(name, per_seed)[0] for name, per_seed in results.items()]
                out.write_text("\n\n".join(reports) + "\n")
                out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    print("\n\n".join(reports))
    print(
        f"Benchmark finished in {time.perf_counter() - started:.0f} s: {len(loaded)} datasets x {len(args.seeds)} seeds; "
        f"{goals_summary(results)}; table in {out}."
    )


def goals_summary(results):
    below = []
    for dataset, per_seed in results.items():
        report, _ = table(dataset, per_seed)
        below += [
            f"{dataset} {line.split('|')[1].strip()}" for line in report.splitlines() if line.endswith("NOT met |")
        ]
    return "every goal met" if not below else "goal not met for " + ", ".join(below)


def merge(paths, out):
    """One table per dataset over the seeds of several runs' JSON files."""
    results = {}
    for path in paths:
        for dataset, per_seed in json.loads(Path(path).read_text()).items():
            results.setdefault(dataset, []).extend(per_seed)
    reports = [table(name, per_seed)[0] for name, per_seed in results.items()]
    out.write_text("\n\n".join(reports) + "\n")
    print("\n\n".join(reports))
    print(f"Merged {len(paths)} runs: {goals_summary(results)}; table in {out}.")


if __name__ == "__main__":
    main()
