"""Quality and training time of GMF, MLP, NeuMF and NGCF against baselines on MovieLens-100k.

Same run, same splits, for every seed: the 75/25 stratified full-ranking
protocol, and the latest-interaction split scored by the NCF (99 sampled
negatives) and d2l (all unseen items) protocols. Our models go through
predictors.training.train_and_evaluate with train_model's defaults; the
baselines (popularity, implicit ALS and BPR) are fitted on the same training
part. Prints a mean ± std table (also written to --out, refreshed after every seed).

    .venv/bin/python benchmarks/bench_models.py --seeds 0 1 2

On a 2-core machine two processes (one thread each) halve the wall time; the
table of all seeds is then made from their JSON files:

    .venv/bin/python benchmarks/bench_models.py --seeds 0 2 --out benchmarks/results/models-a.md &
    .venv/bin/python benchmarks/bench_models.py --seeds 1 --out benchmarks/results/models-b.md
    .venv/bin/python benchmarks/bench_models.py --merge benchmarks/results/models-a.json benchmarks/results/models-b.json
"""

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from predictors.baselines import BASELINES, fit_baseline  # noqa: E402
from predictors.data import from_frame, read_movielens_ratings  # noqa: E402
from predictors.evaluation import evaluate  # noqa: E402
from predictors.training import protocol_split, train_and_evaluate  # noqa: E402
from predictors.zoo import MODEL_NAMES, hyperparameters  # noqa: E402

log = logging.getLogger("bench_models")

# microsoft/recommenders' MovieLens-100k table for the same 75/25 protocol (NDCG@10, P@10, R@10).
PUBLISHED = {
    "BPR (cornac)": (0.4420, 0.3882, 0.2125),
    "BiVAE": (0.4751, 0.4118, 0.2191),
    "LightGCN": (0.4198, 0.3796, 0.1443),
    "NCF": (0.3961, 0.3473, 0.1808),
}
COLUMNS = [
    ("full", "ndcg@10"),
    ("full", "precision@10"),
    ("full", "recall@10"),
    ("full", "map@10"),
    ("full", "recall@20"),
    ("full", "ndcg@20"),
    ("ncf", "hr@10"),
    ("ncf", "ndcg@10"),
    ("d2l", "hit@50"),
    ("d2l", "auc"),
    ("time", "full_seconds"),
]
SPLITS = {"full": "full", "latest": "ncf"}  # "ncf" and "d2l" share the latest-interaction split


def run_seed(data, seed, model_names, threads, bar):
    """{name: {"full": {...}, "ncf": {...}, "d2l": {...}, "time": {...}}} for one seed."""
    results = {}
    for split_name, protocol in SPLITS.items():
        train, test = protocol_split(data, protocol, seed)
        for name in BASELINES:
            started = time.perf_counter()
            scorer = fit_baseline(name, train, seed, threads)
            seconds = time.perf_counter() - started
            entry = results.setdefault(name, {"time": {}})
            entry.update(evaluate(scorer, protocol, train, test, np.random.default_rng(seed + 2)))
            entry["time"][f"{split_name}_seconds"] = seconds
        for name in model_names:
            bar.set_description(f"seed {seed} {split_name} {name}")
            result = train_and_evaluate(data, name, hyperparameters(name, protocol), protocol, seed, progress=False)
            assert np.array_equal(result.split[1].items, test.items)  # the baselines' split
            entry = results.setdefault(name, {"time": {}})
            entry.update(result.metrics)
            entry["time"][f"{split_name}_seconds"] = result.seconds
            entry["time"][f"{split_name}_epochs"] = len(result.curves)
            log.info("seed %d %s %s: %s in %.0f s", seed, split_name, name, result.metrics, result.seconds)
            bar.update()
    return results


def table(per_seed, names):
    def cell(name, group, metric):
        values = [
            seed_results[name][group][metric]
            for seed_results in per_seed
            if metric in seed_results[name].get(group, {})
        ]
        if not values:
            return "-"
        if group == "time":
            return f"{np.mean(values):.0f}"
        return f"{np.mean(values):.4f} ± {np.std(values):.4f}" if len(values) > 1 else f"{values[0]:.4f}"

    header = ["model"] + [
        f"{group} {metric}".replace("time full_seconds", "train s (full)") for group, metric in COLUMNS
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        lines.append("| " + " | ".join([name] + [cell(name, group, metric) for group, metric in COLUMNS]) + " |")
    for name, (ndcg, precision, recall) in PUBLISHED.items():
        lines.append(f"| published {name} | {ndcg:.4f} | {precision:.4f} | {recall:.4f} |" + " |" * (len(COLUMNS) - 3))

    # Ratios against the best implicit baseline of the same run and the published NCF row.
    def mean(name, group, metric):
        return float(np.mean([seed_results[name][group][metric] for seed_results in per_seed]))

    best_peer = max(("als", "bpr"), key=lambda peer: mean(peer, "full", "ndcg@10"))
    lines.append("")
    lines.append(
        f"Full-ranking NDCG@10 as a ratio to implicit {best_peer.upper()} (best peer, same run) and to the published NCF row:"
    )
    for name in names:
        if name in BASELINES:
            continue
        ndcg = mean(name, "full", "ndcg@10")
        lines.append(
            f"- {name}: {ndcg / mean(best_peer, 'full', 'ndcg@10'):.3f}x {best_peer}, {ndcg / PUBLISHED['NCF'][0]:.3f}x NCF"
        )
    lines.append(f"Seeds: {len(per_seed)}. Torch threads: {torch.get_num_threads()}.")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=os.environ.get("MOVIELENS_100K_DIR", str(REPO_DIR.parent / "shared" / "data" / "ml-100k"))
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (and implicit's)")
    parser.add_argument("--out", default=str(REPO_DIR / "benchmarks" / "results" / "models.md"))
    parser.add_argument(
        "--merge", nargs="+", metavar="JSON", help="no training: the table of the seeds in these result files"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    if args.merge:
        missing = [path for path in args.merge if not Path(path).is_file()]
        if missing:
            parser.error(f"no such result file: {', '.join(missing)}")
        per_seed = [seed_results for path in args.merge for seed_results in json.loads(Path(path).read_text())]
        names = [
            name
            for name in list(BASELINES) + list(MODEL_NAMES)
            if all(name in seed_results for seed_results in per_seed)
        ]
        report = table(per_seed, names)
        Path(args.out).write_text(report + "\n")
        print(report)
        print(f"Merged {len(per_seed)} seeds from {len(args.merge)} files; table in {args.out}.")
        return
    ratings = Path(args.data) / "u.data"
    if not ratings.exists():
        parser.error(f"{ratings} does not exist; pass --data or set MOVIELENS_100K_DIR.")
    data = from_frame(read_movielens_ratings(ratings))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = list(BASELINES) + args.models
    per_seed = []
    started = time.perf_counter()
    with tqdm(total=len(args.seeds) * len(SPLITS) * len(args.models)) as bar:
        for seed in args.seeds:
            per_seed.append(run_seed(data, seed, args.models, args.threads, bar))
            report = table(per_seed, names)
            out.write_text(report + "\n")
            out.with_suffix(".json").write_text(json.dumps(per_seed, indent=1))
    print(report)
    print(
        f"Benchmark finished: {len(args.seeds)} seeds, {len(names)} models in {time.perf_counter() - started:.0f} s; table in {out}."
    )


if __name__ == "__main__":
    main()
