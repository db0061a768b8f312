"""The personal home page on ml-100k: rows that never repeat, and its speed.

A scratch SQLite site (migrated, ml-100k imported, the four served models
trained with --epochs EPOCHS and activated; kept in --work-dir for the next
run) is driven through Django's test client, CSRF on, events written inline
(no broker). Each of --visitors ml-100k users becomes a fresh anonymous
visitor who rates five of their movies (their stars: dislikes stay dislikes)
and then opens the home page.

Measured per visitor, on that page:
- overlap: movies of "Top picks for you" also in "Popular now" (goal 0);
  baseline: the same visitor's top picks against the popular list the page
  showed before this work (popularity without the history, not deduplicated);
- how many of the personal picks (top picks and "Because you liked" rows)
  are among the 50 most popular movies, against popularity's own 10;
- GET / p50/p95 with caches cold (the first view of this history: Django's
  cache cleared, no serving result cached) and warm (the same page again),
  against the plain popular home page of a visitor without history.
Goals: overlap 0; cold p95 <= 150 ms; warm p95 <= 40 ms.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_foryou.py [--visitors 100] [--work-dir DIR]
"""

import argparse
import logging
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

log = logging.getLogger("bench_foryou")

ML100K = Path(os.environ.get("MOVIELENS_100K_DIR", REPO_DIR.parent / "shared" / "data" / "ml-100k"))
MODELS = ("gmf", "neumf", "ngcf", "ease")
REVEALED = 5
POPULAR_TOP = 50
GOALS_MS = {"cold": 150.0, "warm": 40.0}


def setup_site(work_dir, epochs):
    work_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "APP_VAR_DIR": str(work_dir),
            "SQLITE_PATH": str(work_dir / "db.sqlite3"),
            "MODEL_STORE_URI": str(work_dir / "models"),
            "DJANGO_ALLOWED_HOSTS": "testserver,localhost",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "MOVIELENS_DATASET": "ml-100k",
            "MOVIELENS_DOWNLOAD": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # inline events: the endpoint writes the click log itself
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    if not (work_dir / "imported").exists():
        log.info("importing ml-100k into %s", work_dir)
        call_command("load_movielens", "--dataset", "ml-100k", "--path", str(ML100K), "--no-download", verbosity=0)
        (work_dir / "imported").write_text("ok\n")
    for model_name in MODELS:
        marker = work_dir / f"trained-{model_name}"
        if not marker.exists():
            log.info("training %s", model_name)
            extra = [] if model_name == "ease" else ["--epochs", str(epochs), "--patience", "2"]
            call_command("train_model", model_name, *extra, "--activate", "--force", verbosity=0)
            marker.write_text("ok\n")


def visitors_histories(n, seed):
    """n ml-100k users' REVEALED ratings each: [(Movie pk, stars)]."""
    from movie.models import Interaction

    rows = Interaction.objects.filter(dataset__name="ml-100k").values_list("user_id", "movie_id", "rating")
    by_user = {}
    for user, movie, rating in rows:
        by_user.setdefault(user, []).append((movie, float(rating)))
    rng = random.Random(seed)
    users = rng.sample(sorted(u for u, r in by_user.items() if len(r) > 2 * REVEALED), n)
    return [rng.sample(by_user[user], REVEALED) for user in users]


def page_rows(html):
    """{row kind: [movie ids]}, "because-liked" rows joined."""
    rows = {}
    for section in html.split('<section class="home-row"')[1:]:
        kind = re.search(r'data-row="([^"]+)"', section).group(1)
        cards = section.split("</ol>", 1)[0]
        rows.setdefault(kind, []).extend(
            int(pk) for pk in re.findall(r'class="movie-card" data-movie-id="(\d+)"', cards)
        )
    return rows


def timed_get(client, path):
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.status_code
    return response.content.decode(), elapsed


def run(n_visitors, seed):
    from django.core.cache import cache

    from predictors import serving
    from predictors.home_rows import primary_model_name
    from predictors.names import SERVED_MODELS
    from predictors.popularity import popular_movie_ids, popular_ranking
    from tests.services import Browser

    primary = primary_model_name()
    for name in SERVED_MODELS:  # models loaded before timing: a process loads them once
        serving.recommend(name, [1], k=1)
    top_popular = set(popular_ranking()[:POPULAR_TOP])
    times = {"cold": [], "warm": [], "baseline": []}
    overlap, overlap_before, personal_in_top, popular_in_top, rows_seen = [], [], [], [], []
    for history in tqdm(visitors_histories(n_visitors, seed), desc="visitors"):
        anonymous = Browser()
        times["baseline"].append(timed_get(anonymous.client, "/")[1])
        visitor = Browser()
        visitor.open("/")
        for movie_id, stars in history:
            assert visitor.rate(movie_id, stars).status_code == 202
        cache.clear()
        for name in SERVED_MODELS:
            serving.get_predictor(name)._cache.clear()
        html, cold = timed_get(visitor.client, "/")
        times["cold"].append(cold)
        times["warm"].extend(timed_get(visitor.client, "/")[1] for _ in range(3))
        rows = page_rows(html)
        top, popular = rows.get("top-picks", []), rows.get("popular", [])
        rows_seen.append(len(rows))
        overlap.append(len(set(top) & set(popular)))
        before = popular_movie_ids(10, exclude=[pk for pk, _ in history])
        overlap_before.append(len(set(top) & set(before)))
        personal = top + rows.get("because-liked", [])
        personal_in_top.append(len(set(personal) & top_popular) / max(len(personal), 1) * 10)
        popular_in_top.append(len(set(before) & top_popular))
    return primary, times, overlap, overlap_before, personal_in_top, popular_in_top, rows_seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench-foryou-site"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    setup_site(args.work_dir, args.epochs)
    primary, times, overlap, before, personal, popular, rows_seen = run(args.visitors, args.seed)

    def p(values, q):
        return float(np.percentile(values, q))

    base95 = p(times["baseline"], 95)
    print(f"\nHome page, ml-100k, {args.visitors} visitors with {REVEALED} ratings each; primary model {primary}")
    print(f"Kinds of row per page: mean {np.mean(rows_seen):.1f} of 4\n")
    print("| measure | ours | baseline | ratio | goal | met |")
    print("|---|---|---|---|---|---|")
    print(
        f"| Top picks also in Popular now (mean of 10) | {np.mean(overlap):.2f} | {np.mean(before):.2f} "
        f"(popular column before) | - | 0 | {'yes' if max(overlap) == 0 else 'NO'} |"
    )
    print(
        f"| personal picks among the {POPULAR_TOP} most popular (per 10) | {np.mean(personal):.2f} | "
        f"{np.mean(popular):.2f} (popularity's 10) | {np.mean(personal) / max(np.mean(popular), 1e-9):.2f} | report | - |"
    )
    for phase in ("cold", "warm"):
        ours50, ours95 = p(times[phase], 50), p(times[phase], 95)
        print(
            f"| GET / {phase}: p50 / p95 ms | {ours50:.1f} / {ours95:.1f} | {p(times['baseline'], 50):.1f} / "
            f"{base95:.1f} (popular home, no history) | {ours95 / base95:.2f} | <= {GOALS_MS[phase]:.0f} | "
            f"{'yes' if ours95 <= GOALS_MS[phase] else 'NO'} |"
        )
    print(
        f"\nSummary: overlap {np.mean(overlap):.2f}, cold p95 {p(times['cold'], 95):.1f} ms, "
        f"warm p95 {p(times['warm'], 95):.1f} ms (load average {os.getloadavg()[0]:.1f} at the end)."
    )


if __name__ == "__main__":
    main()
