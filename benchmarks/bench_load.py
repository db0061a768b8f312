"""Load and fault benchmark: the site under gunicorn, with the broker and the
click-log consumer, driven by many concurrent new visitors.

Each visitor is a fresh cookie jar that opens home, one movie page, sends
five poster clicks and one rating to /api/events, then opens the three model
pages twice (cold: a fold-in for this history; cached: the same history
again), pausing like a person between requests (--think-seconds; 0 makes a
closed loop that measures capacity instead). Two phases run back to back:

1. steady: no faults;
2. faults: the same load while one of the two consumers of the writers' group,
   the broker (tansu's memory storage: a restart also loses what the topic
   held), one gunicorn worker, and then every consumer with the broker are
   killed (SIGKILL) and started again (see ``faults``).

Afterwards every event the site accepted (202 and its event ids) must be in
the store exactly once. Prints a table per phase and writes it, with the raw
numbers, to benchmarks/results/. Not a test: run it by hand, once.

    .venv/bin/python benchmarks/bench_load.py [--visitors 50] [--think-seconds 2] \
        [--steady-seconds 30] [--fault-seconds 130] [--consumers 2]
        [--work-dir DIR]   # reuse a prepared database (skips import and training)

Everything listens on 127.0.0.1 only; every loop is bounded in time and count.
"""

import argparse
import http.client
import json
import os
import random
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from http.cookies import SimpleCookie
from pathlib import Path
from statistics import quantiles

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from tests.services import RedisServer, TansuBroker, free_port, wait_for_port  # noqa: E402

PYTHON = str(Path(sys.executable).parent / "python")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
RESULTS_DIR = REPO_DIR / "benchmarks" / "results"
ML100K = Path(os.environ.get("MOVIELENS_100K_DIR", REPO_DIR.parent / "shared" / "data" / "ml-100k"))
MODELS = ("gmf", "neumf", "ngcf")
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
REQUEST_TIMEOUT = 30
RETRY_SHARE = 0.10
PAGE_SCRIPT_RETRIES = (0.5, 2.0, 5.0)  # static/js/events.js RETRY_DELAYS_MS
RUN_SEED = secrets.token_hex(4)  # fresh event ids in every run
MAX_JOURNEYS_PER_VISITOR = 10_000


# --- The site and its services ------------------------------------------------------


def site_env(work_dir, settings_module="config.settings", **overrides):
    """The environment of a site served from ``work_dir`` (SQLite, ml-100k, no
    download), cleared of the caller's own site settings; ``overrides`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "KAFKA_", "REDIS_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DJANGO_SECRET_KEY": (work_dir / "secret").read_text(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "APP_VAR_DIR": str(work_dir),
            "SQLITE_PATH": str(work_dir / "db.sqlite3"),
            "MOVIELENS_DATASET": "ml-100k",
            "MOVIELENS_DOWNLOAD": "0",
            "LOG_LEVEL": "WARNING",
            # Two workers on two cores: one torch thread each, no oversubscription.
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            **overrides,
        }
    )
    return env


def kafka_site_env(work_dir, broker):
    return site_env(
        work_dir,
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        KAFKA_MAX_POLL_INTERVAL_MS="6000",
        # The other consumer takes a killed one's partitions 2 s after its last heartbeat.
        KAFKA_SESSION_TIMEOUT_MS="2000",
        EVENTS_OUTBOX_RESEND_SECONDS="5",
        # tansu's memory storage loses what it acknowledged when killed:
        # every event waits in the outbox until the store has it.
        KAFKA_OUTBOX_FIRST="1",
        # Every simulated visitor comes from 127.0.0.1; the abuse check below uses its own limit.
        EVENTS_RATE_LIMIT_PER_ADDRESS=str(10**9),
    )


def manage(env, *args, log=None):
    started = time.monotonic()
    subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO_DIR,
        env=env,
        check=True,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        timeout=1800,
    )
    return time.monotonic() - started


def prepare(work_dir, env, epochs):
    """A fresh SQLite database with ml-100k imported and the four models trained and active."""
    marker = work_dir / "prepared.json"
    if marker.exists():
        return json.loads(marker.read_text())
    log = open(work_dir / "prepare.log", "w")
    seconds = {"migrate": manage(env, "migrate", "--noinput", log=log)}
    seconds["load_movielens"] = manage(
        env, "load_movielens", "--dataset", "ml-100k", "--path", str(ML100K), "--no-download", log=log
    )
    for model_name in MODELS:
        seconds[f"train {model_name}"] = manage(
            env,
            "train_model",
            model_name,
            "--epochs",
            str(epochs),
            "--patience",
            "2",
            "--activate",
            "--force",
            "-v",
            "0",
            log=log,
        )
    # As ./run serve does: EASE answers "Viewers also watched" on every movie page.
    seconds["train ease"] = manage(env, "train_model", "ease", "--activate", "-v", "0", log=log)
    marker.write_text(json.dumps(seconds))
    return seconds


def gunicorn_command(port, workers, threads, preload):
    """gunicorn as the README's production section runs it; ``preload``: with
    -c config/gunicorn.conf.py --preload (models loaded and the heap frozen in
    the master before the fork)."""
    return [
        GUNICORN,
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "20",
        *(["-c", "config/gunicorn.conf.py", "--preload"] if preload else []),
    ]


class Site:
    """gunicorn (2 workers) and the consume_events processes (one group), restartable."""

    def __init__(self, env, work_dir, workers=2, threads=4, consumers=2, preload=False):
        self.env, self.work_dir = env, work_dir
        self.preload = preload  # see gunicorn_command
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.gunicorn = None
        self.consumers = [None] * consumers

    def start_web(self):
        self.gunicorn = subprocess.Popen(
            gunicorn_command(self.port, self.workers, self.threads, self.preload),
            cwd=REPO_DIR,
            env=self.env,
            stdout=open(self.work_dir / "gunicorn.log", "a"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout=30)

    def worker_pids(self):
        children = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def start_consumer(self, index):
        self.consumers[index] = subprocess.Popen(
            [PYTHON, "manage.py", "consume_events", "--progress-seconds", "2"],
            cwd=REPO_DIR,
            env=self.env,
            stdout=open(self.work_dir / f"consumer-{index}.log", "a"),
            stderr=subprocess.STDOUT,
        )

    def start_consumers(self):
        for index in range(len(self.consumers)):
            self.start_consumer(index)

    def kill_consumer(self, index):
        self.consumers[index].kill()
        self.consumers[index].wait()

    def stop(self):
        for consumer in self.consumers:
            terminate(consumer)
        self.consumers = [None] * len(self.consumers)
        terminate(self.gunicorn)
        self.gunicorn = None


def terminate(process, timeout=30):
    """SIGTERM (both servers finish what they hold), SIGKILL after ``timeout``."""
    if process is None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- The visitors ------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = defaultdict(list)  # label -> [(seconds, ok)]
        self.fallbacks = defaultdict(int)  # label -> model pages that showed popularity instead
        self.accepted = set()  # event ids the site answered 202 for
        self.retried = 0
        self.page_retries = 0  # event POSTs sent again after a network failure or a 503
        self.error_notes = defaultdict(int)

    def add(self, label, seconds, ok, note=None):
        with self.lock:
            self.samples[label].append((seconds, ok))
            if not ok:
                self.error_notes[f"{label}: {note}"] += 1


class Visitor:
    """One new visitor: its own cookies, one connection per request (the worker
    that answers may be the one the fault kills)."""

    def __init__(self, port, recorder, think_seconds=0.0, rng=None):
        self.port, self.recorder = port, recorder
        self.think_seconds, self.rng = think_seconds, rng or random.Random()
        self.cookies = {}
        self.token = None

    def think(self):
        """A person's pause before the next click: uniform around the mean."""
        if self.think_seconds:
            time.sleep(self.rng.uniform(0.5, 1.5) * self.think_seconds)

    def request(self, label, method, path, body=None, expect=200, retry_delays=()):
        """The answer's text when it has status ``expect``, else None. After a
        network failure or a 503 the request goes again after each of
        ``retry_delays`` seconds (as the page script does for events); only
        the last try is recorded, its time counted from the first."""
        self.think()
        started = time.perf_counter()
        for delay in retry_delays:
            status, content, note = self._send(method, path, body)
            if status is not None and status != 503:
                break
            with self.recorder.lock:
                self.recorder.page_retries += 1
            time.sleep(delay)
        else:
            status, content, note = self._send(method, path, body)
        ok = status == expect
        self.recorder.add(label, time.perf_counter() - started, ok, note)
        return content if ok else None

    def _send(self, method, path, body):
        """(status, text, note), or (None, None, the error's name) when no answer came."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers.update({"Content-Type": "application/json", "X-CSRFToken": self.token or ""})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
            for header in response.msg.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
        except (OSError, http.client.HTTPException) as error:
            return None, None, type(error).__name__
        finally:
            connection.close()
        return response.status, content.decode("utf-8", "replace"), f"HTTP {response.status}"

    def post_events(self, events):
        """As static/js/events.js does: client ids, and a retry with the same
        body. RETRY_SHARE of the POSTs first go out with a client timeout too
        short to see the answer (the server may well store them), then again."""
        events = [{**event, "event_id": str(uuid.UUID(bytes=self.rng.randbytes(16), version=4))} for event in events]
        body = json.dumps({"events": events})
        if self.rng.random() < RETRY_SHARE:
            self.send_and_forget(body)
            with self.recorder.lock:
                self.recorder.retried += 1
        answer = self.request("event POST", "POST", "/api/events", body, expect=202, retry_delays=PAGE_SCRIPT_RETRIES)
        if answer is not None:
            with self.recorder.lock:
                self.recorder.accepted.update(json.loads(answer)["ids"])

    def send_and_forget(self, body):
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "Content-Type": "application/json",
            "X-CSRFToken": self.token or "",
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.005)
        try:
            connection.request("POST", "/api/events", body=body, headers=headers)
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass  # the client gave up waiting; the server may have stored it
        finally:
            connection.close()

    def journey(self, movie_ids, rng):
        home = self.request("home", "GET", "/")
        if home is None:
            return
        found = CSRF_META.search(home)
        self.token = found.group(1) if found else None
        picked = rng.sample(movie_ids, 6)
        self.request("detail", "GET", f"/movie/{picked[0]}/")
        for movie_id in picked[:5]:
            self.post_events([{"type": "click", "movie_id": movie_id}])
        self.post_events([{"type": "rating", "movie_id": picked[5], "rating": rng.choice([3, 3.5, 4, 4.5, 5])}])
        for visit in ("cold", "cached"):
            for model_name in MODELS:
                label = f"/movie/{model_name} {visit}"
                page = self.request(label, "GET", f"/movie/{model_name}")
                if page is not None and "data-fallback=" in page:
                    with self.recorder.lock:
                        self.recorder.fallbacks[label] += 1


def drive(port, movie_ids, visitors, seconds, recorder, seed, think_seconds=0.0):
    """``visitors`` threads, each running new-visitor journeys until ``seconds`` pass.
    A journey begun before the deadline runs to its end (its events belong to
    the phase), so a phase lasts up to one journey longer; rates use the wall
    time this returns."""
    deadline = time.monotonic() + seconds

    def run(index):
        rng = random.Random(f"{RUN_SEED}-{seed}-{index}")
        for _ in range(MAX_JOURNEYS_PER_VISITOR):
            if time.monotonic() >= deadline:
                return
            Visitor(port, recorder, think_seconds, rng).journey(movie_ids, rng)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(visitors)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 4 * REQUEST_TIMEOUT)
    return time.monotonic() - started


def faults(site, broker, started_at, log):
    """SIGKILL, in turn: one consumer (the other member of its group takes its
    partitions over), the broker, one web worker, then every consumer and the
    broker together with the broker down for 60 s; each is started again by
    this script as an orchestrator would (no one repairs anything by hand).
    Logged with times."""

    def at(offset):
        time.sleep(max(0.0, started_at + offset - time.monotonic()))

    def note(text):
        log.append((round(time.monotonic() - started_at, 1), text))

    at(8)
    site.kill_consumer(0)
    note(f"consumer 1 of {len(site.consumers)} killed (SIGKILL)")
    at(14)
    site.start_consumer(0)
    note("consumer 1 started")
    at(24)
    broker.process.kill()
    note("broker killed (SIGKILL; memory storage: topic, offsets and groups are gone)")
    at(32)
    broker.start()
    note("broker started, empty")
    at(42)
    victim = site.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    note(f"gunicorn worker {victim} killed (SIGKILL); the master starts another")
    at(52)
    for index in range(len(site.consumers)):
        site.kill_consumer(index)
    broker.process.kill()
    note("every consumer and the broker killed together (SIGKILL)")
    at(54)
    site.start_consumers()
    note("consumers started while the broker is down")
    at(112)
    broker.start()
    note("broker started after 60 s down, empty")
    log.append(("outage", ((24, 32), (52, 112))))


class IndependentReader(threading.Thread):
    """A second consumer group on the topic (think analytics): which accepted
    event ids it saw, and how often. Rebuilt when it has had no partitions
    for 10 s (the broker lost its groups), reading from the earliest offset."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.seen = defaultdict(int)
        self.stop_requested = threading.Event()

    def run(self):
        from kafka import KafkaConsumer

        group = f"bench-independent-{secrets.token_hex(4)}"
        while not self.stop_requested.is_set():
            try:
                reader = KafkaConsumer(
                    self.topic,
                    bootstrap_servers=self.bootstrap,
                    group_id=group,
                    auto_offset_reset="earliest",
                    enable_auto_commit=True,
                    bootstrap_timeout_ms=3000,
                    session_timeout_ms=6000,
                    heartbeat_interval_ms=2000,
                )
            except Exception:  # noqa: BLE001 - broker down: try again
                self.stop_requested.wait(1)
                continue
            unassigned_since = time.monotonic()
            try:
                while not self.stop_requested.is_set():
                    for batch in reader.poll(timeout_ms=500).values():
                        for message in batch:
                            try:
                                self.seen[json.loads(message.value)["event_id"].replace("-", "")] += 1
                            except (ValueError, KeyError):
                                pass
                    if reader.assignment():
                        unassigned_since = time.monotonic()
                    elif time.monotonic() - unassigned_since > 10:
                        break
            except Exception:  # noqa: BLE001
                self.stop_requested.wait(1)
            finally:
                try:
                    reader.close(autocommit=False, timeout_ms=2000)
                except Exception:  # noqa: BLE001
                    pass


def abuse_checks(port, movie_ids, db_path):
    """One client trying to step around the limits: POSTs without the visitor
    cookie, many events under one cookie, and one movie clicked from one
    cookie as often as the limit allows ("Popular now" must count it once)."""
    results = {}
    visitor = Visitor(port, Recorder(), rng=random.Random(7))
    page = visitor.request("home", "GET", "/")
    visitor.token = CSRF_META.search(page).group(1)
    target = movie_ids[-1]
    cookieless = Visitor(port, Recorder())
    cookieless.token, cookieless.cookies = visitor.token, {"csrftoken": visitor.cookies.get("csrftoken", "")}
    refused = 0
    for _ in range(30):
        recorder = Recorder()
        cookieless.recorder = recorder
        cookieless.request(
            "event POST", "POST", "/api/events", json.dumps([{"type": "click", "movie_id": target}] * 50), expect=403
        )
        refused += sum(ok for _, ok in recorder.samples["event POST"])
    results["cookie-less POSTs refused (of 30)"] = refused
    accepted, started = 0, time.monotonic()
    for _ in range(20):  # 20 x 50 = 1,000 clicks of one movie, as fast as the site answers
        recorder = Recorder()
        visitor.recorder = recorder
        answer = visitor.request(
            "event POST", "POST", "/api/events", json.dumps([{"type": "click", "movie_id": target}] * 50), expect=202
        )
        accepted += 50 if answer else 0
    results["one cookie: clicks accepted of 1,000 (limit 600 per 60 s)"] = (
        f"{accepted} in {time.monotonic() - started:.0f} s"
    )
    time.sleep(5)
    with sqlite3.connect(db_path, timeout=30) as db:
        votes = db.execute(
            "SELECT COALESCE(SUM(visitors), 0) FROM events_popularitycount WHERE movie_id = ?", (target,)
        ).fetchone()[0]
    results["'Popular now' visitors counted for that movie"] = votes
    return results


# --- Results -----------------------------------------------------------------------


LABELS = ["home", "detail", "event POST"] + [f"/movie/{m} {v}" for v in ("cold", "cached") for m in MODELS]


def summarize(recorder, wall_seconds):
    rows = []
    for label in LABELS:
        samples = recorder.samples.get(label, [])
        if not samples:
            continue
        times = sorted(seconds * 1000 for seconds, _ in samples)
        cuts = quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
        rows.append(
            {
                "endpoint": label,
                "requests": len(samples),
                "req_per_s": len(samples) / wall_seconds,
                "p50_ms": cuts[49],
                "p95_ms": cuts[94],
                "p99_ms": cuts[98],
                "errors": sum(1 for _, ok in samples if not ok),
                "fallbacks": recorder.fallbacks.get(label, 0),
            }
        )
    return rows


def table(title, rows, wall_seconds):
    total = sum(row["requests"] for row in rows)
    lines = [
        f"{title}: {total} requests in {wall_seconds:.0f} s = {total / wall_seconds:.1f} req/s",
        f"{'endpoint':<22}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'fallback':>10}",
    ]
    for row in rows:
        lines.append(
            f"{row['endpoint']:<22}{row['requests']:>9}{row['req_per_s']:>8.1f}{row['p50_ms']:>9.0f}"
            f"{row['p95_ms']:>9.0f}{row['p99_ms']:>9.0f}{row['errors']:>8}{row['fallbacks']:>10}"
        )
    return "\n".join(lines)


def stored_event_ids(db_path):
    with sqlite3.connect(db_path, timeout=30) as db:
        rows = db.execute("SELECT event_id FROM movie_clickevent").fetchall()
        outbox = db.execute("SELECT COUNT(*) FROM movie_outboxevent").fetchone()[0]
    return [str(row[0]).replace("-", "") for row in rows], outbox


def wait_for_store(db_path, accepted, timeout):
    """Until every accepted event is stored (the consumer re-sends the outbox), or ``timeout``."""
    wanted = {event_id.replace("-", "") for event_id in accepted}
    started = time.monotonic()
    while True:
        stored, outbox = stored_event_ids(db_path)
        missing = wanted - set(stored)
        if not missing or time.monotonic() - started > timeout:
            return {
                "accepted": len(wanted),
                "stored": len(wanted & set(stored)),
                "missing": len(missing),
                "duplicates": len(stored) - len(set(stored)),
                "outbox_left": outbox,
                "seconds_to_drain": round(time.monotonic() - started, 1),
            }
        time.sleep(1)


def accept_to_stored(db_path, phase_started, outages):
    """p50/p95 seconds from the server's accept time to the store: steady, and
    with faults outside the broker outages (each with 20 s after it) and within them."""
    from datetime import datetime

    def seconds(text):
        return datetime.fromisoformat(text).timestamp()

    with sqlite3.connect(db_path, timeout=30) as db:
        rows = [(seconds(a), seconds(b)) for a, b in db.execute("SELECT timestamp, stored_at FROM movie_clickevent")]
    faults_start = phase_started["faults"]
    windows = [(faults_start + start, faults_start + end + 20) for start, end in outages]

    def in_outage(moment):
        return any(start <= moment < end for start, end in windows)

    groups = {
        "steady": [b - a for a, b in rows if phase_started["steady"] <= a < faults_start],
        "faults, outside the outages": [b - a for a, b in rows if a >= faults_start and not in_outage(a)],
        "accepted during an outage": [b - a for a, b in rows if in_outage(a)],
    }
    result = {}
    for label, values in groups.items():
        if len(values) > 1:
            cuts = quantiles(sorted(values), n=100, method="inclusive")
            result[label] = f"p50 {cuts[49]:.2f} / p95 {cuts[94]:.2f} ({len(values)} events)"
    # Which fault a slow store follows: the slowest event accepted in each 4 s of the phase.
    timeline = defaultdict(float)
    for a, b in rows:
        if a >= faults_start:
            slot = int((a - faults_start) // 4) * 4
            timeline[slot] = max(timeline[slot], round(b - a, 2))
    return result, dict(sorted(timeline.items()))


def clear_events(db_path):
    """A reused work folder starts without the events of an earlier run."""
    with sqlite3.connect(db_path, timeout=30) as db:
        for table in ("movie_clickevent", "movie_outboxevent", "events_popularityvote", "events_popularitycount"):
            db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names


def catalog_movie_ids(db_path):
    with sqlite3.connect(db_path) as db:
        return [
            row[0]
            for row in db.execute(
                "SELECT m.id FROM movie_movie m JOIN movie_dataset d ON d.id = m.dataset_id WHERE d.name = 'ml-100k'"
            )
        ]


def warm_up(port, movie_ids):
    """Load every model in both workers before measuring (a worker loads on its first model page)."""
    recorder = Recorder()
    drive(port, movie_ids, visitors=4, seconds=10, recorder=recorder, seed=999)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--consumers", type=int, default=2, help="consume_events processes in the writers' group")
    parser.add_argument("--steady-seconds", type=float, default=30)
    parser.add_argument("--fault-seconds", type=float, default=130)
    parser.add_argument(
        "--think-seconds",
        type=float,
        default=2.0,
        help="mean pause of a visitor between two requests (0: closed loop, measures capacity)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per model (speed over quality)")
    parser.add_argument("--work-dir", type=Path, default=None, help="a prepared folder to reuse")
    args = parser.parse_args()
    if args.fault_seconds < 120:
        parser.error("--fault-seconds must be at least 120: the faults are spread over the first 112 s.")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work_dir = args.work_dir or RESULTS_DIR / f"load-{stamp}"
    work_dir.mkdir(parents=True, exist_ok=True)
    secret = work_dir / "secret"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(50))
    broker = TansuBroker().start()
    redis = RedisServer().start()  # the shared cache: limits hold across the web workers
    env = {**kafka_site_env(work_dir, broker), "REDIS_URL": redis.url}
    site = Site(env, work_dir, consumers=args.consumers)
    report = {
        "visitors": args.visitors,
        "consumers": args.consumers,
        "think_seconds": args.think_seconds,
        "work_dir": str(work_dir),
    }
    try:
        print(
            f"Preparing {work_dir} (import ml-100k, train {', '.join(MODELS)} with {args.epochs} epochs, and ease)…",
            flush=True,
        )
        report["prepare_seconds"] = prepare(work_dir, env, args.epochs)
        movie_ids = catalog_movie_ids(work_dir / "db.sqlite3")
        clear_events(work_dir / "db.sqlite3")
        site.start_web()
        site.start_consumers()
        reader = IndependentReader(broker.bootstrap, env.get("KAFKA_TOPIC", "movie-events"))
        reader.start()
        warm_up(site.port, movie_ids)

        print(f"Steady load: {args.visitors} visitors for {args.steady_seconds:.0f} s…", flush=True)
        steady = Recorder()
        phase_started = {"steady": time.time()}
        steady_wall = drive(site.port, movie_ids, args.visitors, args.steady_seconds, steady, 1, args.think_seconds)

        print(f"Load with faults: {args.visitors} visitors for {args.fault_seconds:.0f} s…", flush=True)
        faulty = Recorder()
        fault_log = []
        started_at = time.monotonic()
        phase_started["faults"] = time.time()
        injector = threading.Thread(target=faults, args=(site, broker, started_at, fault_log), daemon=True)
        injector.start()
        fault_wall = drive(site.port, movie_ids, args.visitors, args.fault_seconds, faulty, 2, args.think_seconds)
        injector.join(timeout=60)

        accepted = steady.accepted | faulty.accepted
        (RESULTS_DIR / f"load-{stamp}-accepted.txt").write_text("\n".join(sorted(accepted)) + "\n")
        report["events"] = wait_for_store(work_dir / "db.sqlite3", accepted, timeout=180)
        posts = sum(len(recorder.samples["event POST"]) for recorder in (steady, faulty))
        report["client_retries"] = {
            "posts": posts,
            "retried": steady.retried + faulty.retried,
            "page_script_retries": steady.page_retries + faulty.page_retries,
            "duplicates_in_store": report["events"]["duplicates"],
        }
        time.sleep(5)  # the independent reader catches up
        reader.stop_requested.set()
        seen = dict(reader.seen)
        wanted = {event_id.replace("-", "") for event_id in accepted}
        report["independent_group"] = {
            "accepted_never_seen": len(wanted - set(seen)),
            "seen_more_than_once": sum(1 for n in seen.values() if n > 1),
        }
        outage = next((windows for label, windows in fault_log if label == "outage"), ())
        fault_log = [entry for entry in fault_log if entry[0] != "outage"]
        report["accept_to_stored"], report["slowest_store_per_4s_of_faults"] = accept_to_stored(
            work_dir / "db.sqlite3", phase_started, outage
        )
        report["abuse"] = abuse_checks(site.port, movie_ids, work_dir / "db.sqlite3")
        report["faults"] = fault_log
        report["steady"] = summarize(steady, steady_wall)
        report["with_faults"] = summarize(faulty, fault_wall)
        report["error_kinds"] = {**steady.error_notes, **{f"faults/{k}": v for k, v in faulty.error_notes.items()}}
        text = "\n\n".join(
            [
                table(
                    f"Steady, {args.visitors} concurrent new visitors, think {args.think_seconds:g} s",
                    report["steady"],
                    steady_wall,
                ),
                table(
                    f"With faults, {args.visitors} concurrent new visitors, think {args.think_seconds:g} s",
                    report["with_faults"],
                    fault_wall,
                ),
                "Faults (s after the phase started):\n" + "\n".join(f"  {t:>5} s  {what}" for t, what in fault_log),
                "Events: " + ", ".join(f"{k} {v}" for k, v in report["events"].items()),
                "Client retries: {retried} of {posts} event POSTs sent a second time with the same event ids "
                "after a 5 ms client timeout, {page_script_retries} again after a network failure or a 503 "
                "(as the page script does); duplicates in the store: {duplicates_in_store}".format(
                    **report["client_retries"]
                ),
                "Independent consumer group: " + ", ".join(f"{k} {v}" for k, v in report["independent_group"].items()),
                "Accept-to-stored seconds: " + ", ".join(f"{k} {v}" for k, v in report["accept_to_stored"].items()),
                "Abuse: " + "; ".join(f"{k}: {v}" for k, v in report["abuse"].items()),
                "Error kinds: " + (json.dumps(report["error_kinds"]) if report["error_kinds"] else "none"),
                "Setup seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in report["prepare_seconds"].items()),
            ]
        )
        print(text)
        (RESULTS_DIR / f"load-{stamp}.txt").write_text(text + "\n")
        (RESULTS_DIR / f"load-{stamp}.json").write_text(json.dumps(report, indent=2))
        print(f"Written to {RESULTS_DIR}/load-{stamp}.txt and .json")
    finally:
        site.stop()
        broker.stop()
        redis.stop()


if __name__ == "__main__":
    main()
