"""Click throughput: POST /api/events with one event against a bare POST view
through the same middleware (CSRF included), inline and with Kafka, under
gunicorn as the README's production section runs it (2 workers x 4 gthreads,
DEBUG off, SQLite), driven by wrk (-t2 -c32) with a client event id per POST
and cookies of many visitors.

Contenders: bare POST, inline (events written straight to the SQL store),
Kafka (tansu broker and one consume_events process) waiting for each
acknowledgement (KAFKA_WAIT_FOR_ACK=1), and Kafka handing off (the default:
answered once journaled and handed to the producer, events/journal.py): three sites side
by side on one database, each path with visitors of its own. Every round
runs each contender once, briefly, in a balanced order (benchmarks/paired_wrk.py), and
the table gives the median of the per-round ratios: on a shared machine a
single run's baseline moves with other jobs. Each run also counts the CPU time per
request of the processes serving it, which other load barely moves. A
Kafka run lasts until the consumer has stored it (the next run starts
caught up), and its CPU count includes the broker's and the consumer's. Afterwards it counts the database writes per
accepted event on the Kafka path (store rows + outbox inserts + outbox
deletes) and checks every accepted event was stored once. Issue 20 goal 2:
inline >= 0.5x bare, Kafka >= 0.9x inline, at most one write per event.

    python benchmarks/bench_clicks.py [--seconds 4] [--rounds 5] [--visitors 50] [--paths inline]

Needs wrk (apt-get install wrk). Not a test: run it by hand.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from bench_load import gunicorn_command  # noqa: E402
from bench_load import site_env as load_site_env  # noqa: E402
from paired_wrk import cpu_seconds, interleaved_rounds, ratios, summary, wrk  # noqa: E402

from tests.services import TansuBroker, free_port, wait_for_port  # noqa: E402

BIN = Path(sys.executable).parent
ML100K = Path(os.environ.get("MOVIELENS_100K_DIR", REPO_DIR.parent / "shared" / "data" / "ml-100k"))
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')

# Each request: the next visitor's cookie and token, one click with a fresh v4 UUID.
LUA = r"""
local visitors, movies, counter = {}, {}, 0
for line in io.lines(os.getenv("BENCH_VISITORS")) do
  local cookie, token = line:match("([^\t]+)\t([^\t]+)")
  visitors[#visitors + 1] = {cookie = cookie, token = token}
end
for line in io.lines(os.getenv("BENCH_MOVIES")) do movies[#movies + 1] = line end
local threads = 0
function setup(thread) threads = threads + 1; thread:set("seed", threads) end
function init(args) math.randomseed(os.time() * 1000 + seed); counter = seed * 7919 end
local function hex(n) return string.format("%0" .. n .. "x", math.random(0, 16 ^ n - 1)) end
function request()
  counter = counter + 1
  local visitor = visitors[counter % #visitors + 1]
  local id = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" .. string.format("%x", math.random(8, 11)) .. hex(3)
    .. "-" .. hex(6) .. hex(6)
  local body = '{"events":[{"type":"click","movie_id":' .. movies[counter % #movies + 1] .. ',"event_id":"' .. id .. '"}]}'
  return wrk.format("POST", nil, {["Cookie"] = visitor.cookie, ["X-CSRFToken"] = visitor.token,
    ["Content-Type"] = "application/json"}, body)
end
"""


def site_env(work_dir, broker=None):
    kafka = (
        {} if broker is None else {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_MAX_POLL_INTERVAL_MS": "6000"}
    )
    limits = {"EVENTS_RATE_LIMIT": str(10**9), "EVENTS_RATE_LIMIT_PER_ADDRESS": str(10**9)}
    return load_site_env(work_dir, "benchmarks.bare_view_settings", **limits, **kafka)


def manage(env, *args):
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=REPO_DIR, env=env, check=True, capture_output=True)


def start_gunicorn(env, port, workers, threads, preload=True):
    process = subprocess.Popen(
        [*gunicorn_command(port, workers, threads, preload), "--log-level", "warning"],
        cwd=REPO_DIR,
        env=env,
    )
    wait_for_port(port, timeout=60)
    wait_ready(f"http://127.0.0.1:{port}")
    return process


def wait_ready(base, timeout=300):
    """gunicorn listens before its workers have imported the site: wait until
    answers come quickly from all of them (any HTTP status will do)."""
    deadline, quick = time.monotonic() + timeout, 0
    while quick < 16 and time.monotonic() < deadline:
        started = time.monotonic()
        try:
            urllib.request.urlopen(base + "/bench/bare", timeout=120).close()
        except urllib.error.HTTPError:
            pass  # any answer means the worker is up
        except OSError:
            time.sleep(0.5)
            continue
        quick = quick + 1 if time.monotonic() - started < 0.2 else 0


def stop(process):
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_visitors(base, n, path):
    """n anonymous visitors (cookie header, CSRF token) as their first page leaves them."""
    lines = []
    for _ in range(n):
        with urllib.request.urlopen(base + "/", timeout=120) as response:
            html = response.read().decode()
            jar = SimpleCookie()
            for header in response.headers.get_all("Set-Cookie") or []:
                jar.load(header)
        cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())
        lines.append(f"{cookie}\t{CSRF_META.search(html).group(1)}")
    path.write_text("\n".join(lines) + "\n")


def wrk_posts(url, seconds, files, visitors_file):
    """One wrk run of the click script, as ``visitors_file``'s visitors."""
    env = {"BENCH_VISITORS": str(visitors_file), "BENCH_MOVIES": str(files["movies"])}
    return wrk(url, seconds, lua=files["lua"], env=env)


def stored_counts(db_path, visitor_keys):
    """Rows and distinct (visitor, event id) pairs of these visitors, and the outbox's state."""
    marks = ", ".join("?" * len(visitor_keys))
    with sqlite3.connect(db_path, timeout=30) as db:
        stored = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT visitor_key || event_id) FROM movie_clickevent "  # noqa: S608
            f"WHERE visitor_key IN ({marks})",
            list(visitor_keys),
        ).fetchone()
        outbox_now = db.execute("SELECT COUNT(*) FROM movie_outboxevent").fetchone()[0]
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'movie_outboxevent'").fetchone()
    return {"rows": stored[0], "distinct": stored[1], "outbox_now": outbox_now, "outbox_inserted": seq[0] if seq else 0}


def visitor_keys(visitors_file):
    """The store's keys of a visitors file's cookies (the signed value starts with the id)."""
    keys = []
    for line in visitors_file.read_text().splitlines():
        cookie = SimpleCookie(line.split("\t")[0])
        keys.append("session:" + cookie["visitor_id"].value.split(":")[0])
    return keys


ALL_PATHS = ("inline", "kafka", "handoff")


def accepted(result):
    return result["requests"] - result["errors"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="wrk seconds per run")
    parser.add_argument("--warmup-seconds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of bare, inline and Kafka")
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--work-dir", type=Path, default=None, help="a folder with ml-100k imported, to reuse")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="gunicorn without the README's -c config/gunicorn.conf.py --preload",
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=ALL_PATHS,
        default=list(ALL_PATHS),
        help="the click paths to run against the bare POST (inline alone needs no broker)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_clicks.py needs wrk: apt-get install -y wrk")
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-clicks-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    if not (work_dir / "secret").exists():
        (work_dir / "secret").write_text(secrets.token_urlsafe(40))
    env = site_env(work_dir)
    if not (work_dir / "prepared").exists():
        print(f"Preparing {work_dir}: migrate and import ml-100k", flush=True)
        manage(env, "migrate", "--noinput")
        manage(env, "load_movielens", "--dataset", "ml-100k", "--path", str(ML100K), "--no-download")
        (work_dir / "prepared").write_text("ok")
    db_path = work_dir / "db.sqlite3"
    with sqlite3.connect(db_path) as db:
        db.execute("DELETE FROM movie_clickevent")
        db.execute("DELETE FROM movie_outboxevent")
        movie_ids = [row[0] for row in db.execute("SELECT id FROM movie_movie ORDER BY id LIMIT 500")]
    paths = tuple(name for name in ALL_PATHS if name in args.paths or name == "inline")  # inline: the bare's site
    kafka_paths = tuple(name for name in paths if name != "inline")
    files = {"lua": work_dir / "clicks.lua", "movies": work_dir / "movies.txt"}
    files.update({name: work_dir / f"visitors-{name}.tsv" for name in paths})
    files["lua"].write_text(LUA)
    files["movies"].write_text("\n".join(map(str, movie_ids)) + "\n")

    webs, broker, consumer = [], None, None
    try:
        site_envs = {"inline": env}
        if kafka_paths:
            broker = TansuBroker().start()
            kafka_env = site_env(work_dir, broker)
            manage(kafka_env, "shell", "-c", "from events.kafka_io import ensure_topic; ensure_topic()")
            consumer = subprocess.Popen(
                [str(BIN / "python"), "manage.py", "consume_events", "--progress-seconds", "5"],
                cwd=REPO_DIR,
                env=kafka_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Kafka waiting for each acknowledgement (KAFKA_WAIT_FOR_ACK=1), Kafka handing off (the default).
            site_envs.update({"kafka": {**kafka_env, "KAFKA_WAIT_FOR_ACK": "1"}, "handoff": kafka_env})
        # The sites side by side on one database.
        bases, pids = {}, {}
        for name in paths:
            port = free_port()
            webs.append(start_gunicorn(site_envs[name], port, args.workers, args.threads, not args.no_preload))
            bases[name] = f"http://127.0.0.1:{port}"
            pids[name] = [webs[-1].pid]
        # A Kafka path's CPU includes the broker's and the consumer's: they run on the same cores.
        for name in kafka_paths:
            pids[name] += [consumer.pid, broker.process.pid]
        # Visitors of their own per path, so the store's rows say which path wrote them.
        for name in paths:
            make_visitors(bases["inline"], args.visitors, files[name])
        keys = {name: visitor_keys(files[name]) for name in paths}
        sent = dict.fromkeys(paths, 0)
        targets = {"bare": (bases["inline"] + "/bench/bare-post", "inline")}
        targets.update({name: (bases[name] + "/api/events", name) for name in paths})

        def run(name, seconds=args.seconds):
            """One wrk run; a Kafka one lasts until the consumer has stored it, so
            each run starts caught up and its CPU count holds the consumer's work."""
            url, visitors = targets[name]
            cpu_before = cpu_seconds(pids[visitors])
            result = wrk_posts(url, seconds, files, files[visitors])
            if name in sent:
                sent[name] += accepted(result)
            if name in ("kafka", "handoff"):
                wait_stored(db_path, keys[name], sent[name], timeout=120)
            result["cpu_ms"] = (cpu_seconds(pids[visitors]) - cpu_before) * 1000 / max(result["requests"], 1)
            return result

        for name in targets:
            run(name, args.warmup_seconds)

        def show(name, result):
            print(f"  {name}: {result['rate']:.0f} req/s ({result['errors']} errors, {result['timeouts']} timeouts)")

        runs = {name: (lambda name=name: run(name)) for name in targets}
        rows = interleaved_rounds(runs, args.rounds, show)
        counts = {name: stored_counts(db_path, keys[name]) for name in paths}
    finally:
        for process in [*webs, consumer]:
            stop(process)
        if broker is not None:
            broker.stop()

    header = (
        "| path | POST /api/events req/s (median) | baseline req/s (median) | ratio: median of rounds (range) "
        "| CPU ms per request, ours / baseline = baseline / ours | goal | errors/timeouts | met |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    pairs = [("inline", "bare", 0.5), *((name, "bare", None) for name in kafka_paths)]
    pairs += [(name, "inline", 0.9) for name in kafka_paths]
    for label, baseline, goal in pairs:
        ours, base, ratio = summary(rows[label]), summary(rows[baseline]), ratios(rows[label], rows[baseline])
        errors = f"{ours['errors']}/{ours['timeouts']}"
        met = "(info)" if goal is None else "yes" if ratio["median"] >= goal and errors == "0/0" else "NO"
        lines.append(
            f"| {label} / {baseline} | {ours['rate']:.0f} | {base['rate']:.0f} | {ratio['median']:.2f} "
            f"({ratio['min']:.2f}-{ratio['max']:.2f}) | {ours['cpu_ms']:.2f} / {base['cpu_ms']:.2f} = "
            f"{ratio['cpu']:.2f} | {'>= ' + str(goal) if goal else ''} | {errors} | {met} |"
        )
    print()
    print(
        f"gunicorn {args.workers} workers x {args.threads} gthreads"
        f"{', no --preload' if args.no_preload else ', -c config/gunicorn.conf.py --preload'}, DEBUG off, SQLite; wrk -t2 -c32; "
        f"{args.rounds} interleaved rounds of {args.seconds} s runs ({', '.join(targets)}), {args.visitors} "
        f"visitors per path; load average {' '.join(f'{n:.2f}' for n in os.getloadavg())} at the end"
    )
    print("\n".join(lines))
    print()
    for name in paths:
        found = counts[name]
        # wrk drops the requests in flight when a run ends: the site may have accepted
        # them (up to the connections of every run) without wrk counting the answer.
        in_flight = 32 * (args.rounds + 1)
        exact = found["rows"] == found["distinct"] and sent[name] <= found["rows"] <= sent[name] + in_flight
        print(
            f"{name} path: {sent[name]} answered 202, {found['rows']} stored rows ({found['distinct']} distinct; "
            f"at most {in_flight} more than answered were in flight when wrk stopped)"
            + ("" if exact else " -- NOT exactly once")
        )
    if kafka_paths:
        kafka_rows = sum(counts[name]["rows"] for name in kafka_paths)
        outbox_rows = counts[kafka_paths[0]]["outbox_inserted"]  # the table's, both Kafka sites'
        writes = kafka_rows + outbox_rows * 2  # each outbox row: an insert and a delete
        print(
            f"Kafka paths: outbox rows written {outbox_rows}, left {counts[kafka_paths[0]]['outbox_now']}; "
            f"database writes per stored event {writes / max(kafka_rows, 1):.2f} (goal <= 1)"
        )
    print(json.dumps({"work_dir": str(work_dir)}))


def wait_stored(db_path, keys, wanted, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = stored_counts(db_path, keys)
        if counts["rows"] >= wanted and counts["outbox_now"] == 0:
            return
        time.sleep(0.2)


if __name__ == "__main__":
    main()
