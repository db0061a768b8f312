"""Page throughput against bare Django: the site under gunicorn as the README's
production section runs it (2 workers x 4 gthreads, DEBUG off, SQLite,
collected static files), driven by wrk at 32 connections.

Each endpoint is paired, in the same round, with /bench/bare: a view that
answers "ok" through the same middleware (benchmarks/bare_view_urls.py,
served only by this benchmark's settings module). The table gives ours /
bare against the goal of issue 20 as the median of short interleaved rounds
(benchmarks/paired_wrk.py: single long runs move with other jobs),
with errors (non-2xx, socket errors) and wrk's timeouts (2 s). Beside it,
the workers' CPU time per request of each, whose ratio other load barely
moves.

    .venv/bin/python benchmarks/bench_pages.py [--seconds 3] [--rounds 5] [--connections 32]
        [--work-dir DIR]    # reuse a prepared database (import, training, visitors)
        [--only home detail ...]

The visitor of the model pages has 10 click events; "uncached" walks through
--uncached-visitors visitors of 10 events each, each run of wrk going on where
the last one stopped and its threads spread over the list, so that a visitor
comes back only after all the others: more than serving's caches hold in all
workers together, so every request folds a history in (the table's last
column counts the answers that came from a cache all the same). Needs wrk
(apt-get install wrk).
"""

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(REPO_DIR))
sys.path.insert(0, str(BENCH_DIR))

from bench_load import ML100K, RESULTS_DIR, Site, manage  # noqa: E402
from bench_load import site_env as load_site_env  # noqa: E402
from paired_wrk import interleaved_rounds, ratios, summary, wrk  # noqa: E402

SETTINGS_MODULE = "benchmarks.bare_view_settings"
BARE_PATH = "/bench/bare"
HISTORY_EVENTS = 10
MOVIE_ID = 50  # Star Wars in ml-100k: the most rated movie, with the fullest detail page
# (name, path, cookie: None / "visitor" / "uncached", goal as a fraction of bare)
ENDPOINTS = [
    ("home", "/", None, 0.25),
    ("detail", f"/movie/{MOVIE_ID}/", None, 0.25),
    ("search", "/search/?q=star", None, 0.25),
    ("ngcf", "/movie/ngcf", "visitor", 0.2),
    ("api-cached", "/api/recommendations?model=gmf", "visitor", 0.4),
    ("api-uncached", "/api/recommendations?model=gmf", "uncached", 0.4),
]
LABELS = {
    "home": "home",
    "detail": "movie detail",
    "search": "search ?q=star",
    "ngcf": "/movie/ngcf, visitor of 10 events, cached",
    "api-cached": "/api/recommendations?model=gmf, cached",
    "api-uncached": "/api/recommendations?model=gmf, uncached",
}
# Each wrk thread walks its own stretch of the cookie list from BENCH_START on.
CYCLE_LUA = """
local cookies = {}
for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
local start = tonumber(os.getenv("BENCH_START"))
local stretch = math.floor(#cookies / tonumber(os.getenv("BENCH_THREADS")))
local threads = 0
function setup(thread) thread:set("offset", start + threads * stretch); threads = threads + 1 end
function init(args) position = offset or 0 end
function request()
  position = position + 1
  return wrk.format(nil, nil, {["Cookie"] = cookies[position % #cookies + 1]})
end
"""


def site_env(work_dir):
    return load_site_env(work_dir, SETTINGS_MODULE)


def prepare_site(work_dir, env, epochs):
    """ml-100k imported; GMF and NGCF trained for a few epochs (only their speed
    counts here, so activated whatever their quality) and EASE for the detail
    page's "Viewers also watched"."""
    if (work_dir / "prepared").exists():
        return
    manage(env, "migrate", "--noinput")
    manage(env, "load_movielens", "--dataset", "ml-100k", "--path", str(ML100K), "--no-download")
    for model_name in ("gmf", "ngcf"):
        manage(env, "train_model", model_name, "--epochs", str(epochs), "--activate", "--force", "-v", "0")
    manage(env, "train_model", "ease", "--activate", "-v", "0")
    (work_dir / "prepared").write_text("ok\n")


def make_visitors(work_dir, env, uncached_visitors):
    """Signed visitor cookies: one visitor for the cached pages, many for the
    uncached API, each with HISTORY_EVENTS clicks in the click log (made once
    per work dir, more added when more are asked for)."""
    marker = work_dir / "visitors.json"
    visitors = json.loads(marker.read_text()) if marker.exists() else {"visitor": None, "uncached": []}
    made = len(visitors["uncached"]) + 1 if visitors["visitor"] else 0
    if made > uncached_visitors:
        return {**visitors, "uncached": visitors["uncached"][:uncached_visitors]}
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    from events.records import new_event
    from events.stores import get_store
    from events.visitors import KEY_PREFIX, _signer
    from movie.catalog import catalog_movies

    movie_ids = list(catalog_movies().values_list("pk", flat=True)[:1000])
    store, cookies, batch = get_store(), [], []
    for index in range(made, uncached_visitors + 1):
        visitor_id = f"bench{index:06d}"
        for movie_id in random.Random(index).sample(movie_ids, HISTORY_EVENTS):
            batch.append(new_event(KEY_PREFIX + visitor_id, "click", movie_id))
        cookies.append(f"{settings.EVENTS_VISITOR_COOKIE_NAME}={_signer().sign(visitor_id)}")
        if len(batch) >= 5000:
            store.write(batch)
            batch = []
    store.write(batch)
    everyone = ([visitors["visitor"]] if made else []) + visitors["uncached"] + cookies
    visitors = {"visitor": everyone[0], "uncached": everyone[1:]}
    marker.write_text(json.dumps(visitors))
    return visitors


class VisitorWalk:
    """wrk runs of the uncached API, each going on where the last one stopped
    in the cookie list, its threads in stretches of it: a visitor comes back
    only once all the others have had their turn."""

    def __init__(self, cookies_file, lua, threads):
        self.cookies_file, self.lua, self.threads = cookies_file, lua, threads
        self.position = 0

    def wrk(self, url, seconds, **load):
        env = {"BENCH_COOKIES": str(self.cookies_file), "BENCH_START": str(self.position)}
        result = wrk(url, seconds, lua=self.lua, env={**env, "BENCH_THREADS": str(self.threads)}, **load)
        self.position += result["requests"] // self.threads
        return result


def visitor_headers(cookie_kind, visitors):
    """The cached visitor's cookie header, for its pages and their bare view."""
    return [f"Cookie: {visitors['visitor']}"] if cookie_kind == "visitor" else []


def runner(base, path, cookie_kind, visitors, walk):
    """run(seconds, **shape) -> wrk's result for an endpoint's visitor: none, the cached one, or the walk."""
    if cookie_kind == "uncached":
        return lambda seconds, **shape: walk.wrk(base + path, seconds, **shape)
    headers = visitor_headers(cookie_kind, visitors)
    return lambda seconds, **shape: wrk(base + path, seconds, headers=headers, **shape)


def impressions(work_dir):
    """counts(since) -> (the last RecommendationImpression id, how many rows after
    ``since`` are answers from a cache, how many rows after it), after the
    deferred writer has written what it holds."""
    database = sqlite3.connect(work_dir / "db.sqlite3")

    def counts(since=0):
        deferred_writes = 1.0  # the writer gathers for 0.2 s (events/deferred.py)
        time.sleep(deferred_writes)
        rows = database.execute(
            "SELECT max(id), sum(cached), count(*) FROM predictors_recommendationimpression WHERE id > ?", [since]
        ).fetchone()
        return rows[0] or since, rows[1] or 0, rows[2]

    return counts


def check_answers(base, visitors):
    """Every endpoint answers 200, and the model pages from the model, not popularity."""
    for name, path, cookie_kind, _ in ENDPOINTS:
        cookie = visitors["visitor"] if cookie_kind else None
        request = urllib.request.Request(base + path, headers={"Cookie": cookie} if cookie else {})
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
        assert response.status == 200, (name, response.status)
        if name == "ngcf":
            assert b"data-fallback" not in body, "the NGCF page shows popularity: is the model trained and active?"
        if name.startswith("api"):
            assert json.loads(body)["fallback"] is None, json.loads(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="wrk seconds per run (one of ours, one bare per round)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds per endpoint; the table gives medians"
    )
    parser.add_argument("--warmup-seconds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the prepared models (speed only)")
    parser.add_argument(
        "--uncached-visitors",
        type=int,
        default=20000,
        help="more than one worker's cache of lists (2048) and of API answers (8192) holds, twice over",
    )
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="gunicorn without the README's -c config/gunicorn.conf.py --preload (each worker loads its models)",
    )
    parser.add_argument("--only", nargs="+", choices=[name for name, *_ in ENDPOINTS])
    parser.add_argument("--work-dir", type=Path, default=RESULTS_DIR / "pages")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_pages.py needs wrk: apt-get install -y wrk")
    work_dir = args.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    if not (work_dir / "secret").exists():
        (work_dir / "secret").write_text(os.urandom(32).hex())
    env = site_env(work_dir)
    print(f"preparing {work_dir} (import, training, visitors; reused when present)", flush=True)
    prepare_site(work_dir, env, args.epochs)
    manage(env, "collectstatic", "--noinput")
    visitors = make_visitors(work_dir, env, args.uncached_visitors)
    cookies_file = work_dir / "uncached-cookies.txt"
    cookies_file.write_text("\n".join(visitors["uncached"]) + "\n")
    lua = work_dir / "cycle-cookies.lua"
    lua.write_text(CYCLE_LUA)

    site = Site(env, work_dir, workers=args.workers, threads=args.threads, preload=not args.no_preload)
    site.start_web()
    base = f"http://127.0.0.1:{site.port}"
    walk = VisitorWalk(cookies_file, lua, args.wrk_threads)
    count_impressions = impressions(work_dir)
    rows = []
    try:
        check_answers(base, visitors)
        for name, path, cookie_kind, goal in ENDPOINTS:
            if args.only and name not in args.only:
                continue
            shape = {"connections": args.connections, "threads": args.wrk_threads, "cpu_of": [site.gunicorn.pid]}
            run_ours = runner(base, path, cookie_kind, visitors, walk)
            # The bare view gets the same cookie header, so both parse the same request.
            bare_headers = visitor_headers(cookie_kind, visitors)
            run_ours(args.warmup_seconds, **shape)
            wrk(base + BARE_PATH, args.warmup_seconds, headers=bare_headers, **shape)
            since, _, _ = count_impressions()
            results = interleaved_rounds(
                {
                    "bare": lambda h=bare_headers, s=shape: wrk(base + BARE_PATH, args.seconds, headers=h, **s),
                    "ours": lambda run=run_ours, s=shape: run(args.seconds, **s),
                },
                args.rounds,
            )
            _, from_cache, answers = count_impressions(since)
            ours, bare = summary(results["ours"]), summary(results["bare"])
            ratio = ratios(results["ours"], results["bare"])
            clean = ours["errors"] == ours["timeouts"] == 0
            rows.append(
                [
                    LABELS[name],
                    f"{ours['rate']:.0f}",
                    f"{bare['rate']:.0f}",
                    f"{ratio['median']:.3f} ({ratio['min']:.2f}-{ratio['max']:.2f})",
                    f"{ours['cpu_ms']:.2f} / {bare['cpu_ms']:.2f} = {ratio['cpu']:.3f}",
                    f">= {goal}",
                    f"{ours['errors']}/{ours['timeouts']}",
                    f"{from_cache} of {answers}" if name.startswith("api") else "",
                    "met" if ratio["median"] >= goal and clean else "NOT met",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    finally:
        site.stop()
    header = [
        "endpoint",
        "req/s (median)",
        "bare req/s (median)",
        "ours / bare: median of rounds (range)",
        "CPU ms per request, ours / bare = bare / ours",
        "goal",
        "errors/timeouts",
        "API answers from a cache",
        "goal met",
    ]
    table = "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(row) + " |" for row in rows)]
    )
    text = (
        f"gunicorn {args.workers} workers x {args.threads} gthreads"
        f"{', no --preload' if args.no_preload else ', -c config/gunicorn.conf.py --preload'}, DEBUG off, SQLite; wrk -t{args.wrk_threads} "
        f"-c{args.connections}; per endpoint {args.rounds} rounds of {args.seconds} s runs of it and {BARE_PATH}, "
        f"interleaved ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{n:.2f}' for n in os.getloadavg())} at the end).\n\n{table}"
    )
    print_and_save(text, f"pages-{time.strftime('%Y%m%d-%H%M%S')}.md")


def print_and_save(text, name):
    """Prints a benchmark's report and writes it to benchmarks/results/``name``."""
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(text + "\n")


if __name__ == "__main__":
    main()
