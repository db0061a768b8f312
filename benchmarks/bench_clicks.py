"""Click throughput: POST /api/events with one event against a bare POST view
through the same middleware (CSRF included), inline and with Kafka, under
gunicorn as the README's production section runs it (2 workers x 4 gthreads,
DEBUG off, SQLite), driven by wrk (-t2 -c32) with a client event id per POST
and cookies of many visitors.

Rows: bare POST, inline (events written straight to the SQL store), Kafka
(tansu broker and one consume_events process). Each of ours is paired with a
bare run in the same round. Afterwards it counts the database writes per
accepted event on the Kafka path (store rows + outbox inserts + outbox
deletes) and checks every accepted event was stored once. Issue 20 goal 2:
inline >= 0.5x bare, Kafka >= 0.9x inline, at most one write per event.

    python benchmarks/bench_clicks.py [--seconds 10] [--rounds 2] [--visitors 50]

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

from bench_load import site_env as load_site_env  # noqa: E402

from tests.services import TansuBroker, free_port, wait_for_port  # noqa: E402

BIN = Path(sys.executable).parent
ML100K = Path(os.environ.get("MOVIELENS_100K_DIR", REPO_DIR.parent / "shared" / "data" / "ml-100k"))
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
WRK_P99 = re.compile(r"99%\s+([\d.]+)(us|ms|s)")

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


def start_gunicorn(env, port, workers, threads):
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread"]
        + ["--threads", str(threads), "--log-level", "warning"],
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
            urllib.request.urlopen(base + "/bench/bare-post", timeout=120).close()
        except urllib.error.HTTPError:
            pass  # 405 for a GET: the worker answered
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


def wrk(url, seconds, files, connections=32, threads=2):
    env = {**os.environ, "BENCH_VISITORS": str(files["visitors"]), "BENCH_MOVIES": str(files["movies"])}
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(files["lua"]), url]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60).stdout
    socket_errors = WRK_SOCKET.search(out)
    connect, read, write, timeouts = (int(n) for n in socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
    non_2xx = WRK_NON_2XX.search(out)
    requests = re.search(r"(\d+) requests in", out)
    return {
        "rate": float(WRK_RATE.search(out).group(1)),
        "requests": int(requests.group(1)) if requests else 0,
        "errors": connect + read + write + (int(non_2xx.group(1)) if non_2xx else 0),
        "timeouts": timeouts,
    }


def db_counts(db_path):
    with sqlite3.connect(db_path, timeout=30) as db:
        stored = db.execute("SELECT COUNT(*), COUNT(DISTINCT visitor_key || event_id) FROM movie_clickevent").fetchone()
        outbox_now = db.execute("SELECT COUNT(*) FROM movie_outboxevent").fetchone()[0]
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'movie_outboxevent'").fetchone()
    return {"rows": stored[0], "distinct": stored[1], "outbox_now": outbox_now, "outbox_inserted": seq[0] if seq else 0}


def run_rounds(base, label, seconds, rounds, files, warmup):
    warm = wrk(base + "/api/events", warmup, files)
    wrk(base + "/bench/bare-post", warmup, files)
    results = []
    for _ in range(rounds):
        bare = wrk(base + "/bench/bare-post", seconds, files)
        ours = wrk(base + "/api/events", seconds, files)
        results.append((bare, ours))
        print(
            f"  {label}: bare {bare['rate']:.0f} req/s, ours {ours['rate']:.0f} req/s ({ours['errors']} errors, {ours['timeouts']} timeouts)",
            flush=True,
        )
    return results, warm["requests"] - warm["errors"]


def mean(values):
    values = list(values)
    return sum(values) / len(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk seconds per run")
    parser.add_argument("--warmup-seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="bare/ours pairs per path")
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--work-dir", type=Path, default=None, help="a folder with ml-100k imported, to reuse")
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
    files = {"lua": work_dir / "clicks.lua", "visitors": work_dir / "visitors.tsv", "movies": work_dir / "movies.txt"}
    files["lua"].write_text(LUA)
    files["movies"].write_text("\n".join(map(str, movie_ids)) + "\n")

    rows, broker, web, consumer = {}, None, None, None
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = start_gunicorn(env, port, args.workers, args.threads)
        make_visitors(base, args.visitors, files["visitors"])
        rows["inline"], _ = run_rounds(base, "inline", args.seconds, args.rounds, files, args.warmup_seconds)
        stop(web)
        inline_counts = db_counts(db_path)

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
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = start_gunicorn(kafka_env, port, args.workers, args.threads)
        with sqlite3.connect(db_path) as db:
            before = db.execute("SELECT COUNT(*) FROM movie_clickevent").fetchone()[0]
        rows["kafka"], warm_accepted = run_rounds(base, "kafka", args.seconds, args.rounds, files, args.warmup_seconds)
        accepted = warm_accepted + sum(ours["requests"] - ours["errors"] for _, ours in rows["kafka"])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the consumer catches up
            counts = db_counts(db_path)
            if counts["rows"] - before >= accepted and counts["outbox_now"] == 0:
                break
            time.sleep(1)
        kafka_counts = db_counts(db_path)
    finally:
        stop(web)
        stop(consumer)
        if broker is not None:
            broker.stop()

    inline_rate = mean(ours["rate"] for _, ours in rows["inline"])
    kafka_rate = mean(ours["rate"] for _, ours in rows["kafka"])
    header = "| path | POST /api/events req/s | bare POST req/s (same rounds) | ratio | goal | errors/timeouts | met |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for label, results in rows.items():
        ours, bare = mean(o["rate"] for _, o in results), mean(b["rate"] for b, _ in results)
        errors = f"{sum(o['errors'] for _, o in results)}/{sum(o['timeouts'] for _, o in results)}"
        met = "yes" if label != "inline" or ours / bare >= 0.5 else "NO"
        lines.append(
            f"| {label} | {ours:.0f} | {bare:.0f} | {ours / bare:.2f} of bare | >= 0.5 of bare "
            f"{'(inline)' if label == 'inline' else '(info)'} | {errors} | {met} |"
        )
    lines.append(
        f"| kafka / inline | {kafka_rate:.0f} | {inline_rate:.0f} (inline) | {kafka_rate / inline_rate:.2f} "
        f"| >= 0.9 | | {'yes' if kafka_rate / inline_rate >= 0.9 else 'NO'} |"
    )
    stored = kafka_counts["rows"] - inline_counts["rows"]
    writes = stored + kafka_counts["outbox_inserted"] * 2  # each outbox row: an insert and a delete
    print()
    print(
        f"gunicorn {args.workers} workers x {args.threads} gthreads, DEBUG off, SQLite; wrk -t2 -c32, "
        f"{args.seconds} s x {args.rounds} rounds, {args.visitors} visitors, 2 cores shared with other work"
    )
    print("\n".join(lines))
    print()
    print(
        f"Kafka path: {accepted} accepted, {stored} stored rows ({kafka_counts['distinct'] - inline_counts['distinct']} "
        f"distinct), outbox rows written {kafka_counts['outbox_inserted']}, left {kafka_counts['outbox_now']}; "
        f"database writes per accepted event {writes / max(accepted, 1):.2f} (goal <= 1)"
    )
    print(json.dumps({"work_dir": str(work_dir)}))


if __name__ == "__main__":
    main()
