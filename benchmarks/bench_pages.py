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

The visitor of the model pages has 10 click events; "uncached" cycles through
--uncached-visitors visitors of 10 events each, more than serving's cache
holds, so every request folds a history in. Needs wrk (apt-get install wrk).
"""

import argparse
import json
import os
import random
import shutil
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
# Each wrk thread starts at its own offset in the cookie list and walks it.
CYCLE_LUA = """
local cookies = {}
for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
local threads = 0
function setup(thread) thread:set("offset", threads * 7919); threads = threads + 1 end
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
    uncached API, each with HISTORY_EVENTS clicks in the click log."""
    marker = work_dir / "visitors.json"
    if marker.exists():
        return json.loads(marker.read_text())
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    from events.records import new_event
    from events.stores import get_store
    from events.visitors import KEY_PREFIX, _signer
    from movie.catalog import catalog_movies

    movie_ids = list(catalog_movies().values_list("pk", flat=True)[:1000])
    rng = random.Random(0)
    store, cookies, batch = get_store(), [], []
    for index in range(uncached_visitors + 1):
        visitor_id = f"bench{index:06d}"
        for movie_id in rng.sample(movie_ids, HISTORY_EVENTS):
            batch.append(new_event(KEY_PREFIX + visitor_id, "click", movie_id))
        cookies.append(f"{settings.EVENTS_VISITOR_COOKIE_NAME}={_signer().sign(visitor_id)}")
        if len(batch) >= 5000:
            store.write(batch)
            batch = []
    store.write(batch)
    visitors = {"visitor": cookies[0], "uncached": cookies[1:]}
    marker.write_text(json.dumps(visitors))
    return visitors


def wrk_load(cookie_kind, visitors, cookies_file, lua):
    """wrk keyword arguments for an endpoint's visitor: none, the cached one, or many cycled."""
    if cookie_kind == "visitor":
        return {"headers": [f"Cookie: {visitors['visitor']}"]}
    if cookie_kind == "uncached":
        return {"lua": lua, "env": {"BENCH_COOKIES": str(cookies_file)}}
    return {}


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
    parser.add_argument("--uncached-visitors", type=int, default=4000)
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

    site = Site(env, work_dir, workers=args.workers, threads=args.threads)
    site.start_web()
    base = f"http://127.0.0.1:{site.port}"
    rows = []
    try:
        check_answers(base, visitors)
        for name, path, cookie_kind, goal in ENDPOINTS:
            if args.only and name not in args.only:
                continue
            shape = {"connections": args.connections, "threads": args.wrk_threads, "cpu_of": [site.gunicorn.pid]}
            load = {**shape, **wrk_load(cookie_kind, visitors, cookies_file, lua)}
            # The bare view gets the same cookie header, so both parse the same request.
            bare_load = {**shape, "headers": load.get("headers", ())}
            wrk(base + path, args.warmup_seconds, **load)
            wrk(base + BARE_PATH, args.warmup_seconds, **bare_load)
            results = interleaved_rounds(
                {
                    "bare": lambda bare_load=bare_load: wrk(base + BARE_PATH, args.seconds, **bare_load),
                    "ours": lambda load=load, path=path: wrk(base + path, args.seconds, **load),
                },
                args.rounds,
            )
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
        "goal met",
    ]
    table = "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(row) + " |" for row in rows)]
    )
    text = (
        f"gunicorn {args.workers} workers x {args.threads} gthreads, DEBUG off, SQLite; wrk -t{args.wrk_threads} "
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
