"""Memory per gunicorn worker with every model loaded: total PSS (proportional
set size: shared pages split between the processes sharing them) of the
master and its workers, with 1 and with --workers N, with and without
--preload (config/gunicorn.conf.py loads the models in the master before the
fork). Per extra worker = (PSS with N workers - PSS with 1) / (N - 1).

    .venv/bin/python benchmarks/bench_memory.py [--workers 3] [--work-dir DIR]

Uses bench_pages.py's prepared site (ml-100k; GMF, NGCF, EASE) plus NeuMF.
"""

import argparse
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from bench_load import GUNICORN, REPO_DIR, RESULTS_DIR, manage, terminate  # noqa: E402
from bench_pages import MOVIE_ID, make_visitors, prepare_site, print_and_save, site_env  # noqa: E402

from tests.services import free_port, wait_for_port  # noqa: E402

GOAL_MB = 100
MODEL_PAGES = ("/movie/gmf", "/movie/neumf", "/movie/ngcf", f"/movie/{MOVIE_ID}/")  # the detail page asks EASE


def pss_mb(pid):
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid):
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def measure(env, work_dir, workers, preload, cookie):
    """Total PSS (MB) of gunicorn's master and workers once every worker has served every model."""
    port = free_port()
    command = [GUNICORN, "-c", str(REPO_DIR / "config" / "gunicorn.conf.py"), "config.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "gthread"]
    command += ["--threads", "4", "--timeout", "120", *(["--preload"] if preload else [])]
    server = subprocess.Popen(
        command, cwd=REPO_DIR, env=env, stdout=open(work_dir / "memory-gunicorn.log", "a"), stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, timeout=180)

        def visit(path):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie})
            with urllib.request.urlopen(request, timeout=120) as response:
                assert response.status == 200 and b"data-fallback" not in response.read()

        # Concurrent rounds, so that every worker (whichever takes a request) serves every page.
        for _ in range(3):
            threads = [threading.Thread(target=visit, args=(p,)) for p in MODEL_PAGES for _ in range(4 * workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        time.sleep(2)
        pids = [server.pid, *children(server.pid)]
        return sum(pss_mb(pid) for pid in pids)
    finally:
        terminate(server)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=RESULTS_DIR / "pages")
    args = parser.parse_args()
    work_dir = args.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    if not (work_dir / "secret").exists():
        (work_dir / "secret").write_text(__import__("secrets").token_hex(32))
    env = site_env(work_dir)
    prepare_site(work_dir, env, args.epochs)
    if not (work_dir / "neumf-trained").exists():
        manage(env, "train_model", "neumf", "--epochs", str(args.epochs), "--activate", "--force", "-v", "0")
        (work_dir / "neumf-trained").write_text("ok\n")
    cookie = make_visitors(work_dir, env, 100)["visitor"]
    rows = []
    for preload in (False, True):
        one = measure(env, work_dir, 1, preload, cookie)
        many = measure(env, work_dir, args.workers, preload, cookie)
        per_extra = (many - one) / (args.workers - 1)
        met = "met" if per_extra <= GOAL_MB else "NOT met"
        label = "--preload" if preload else "no --preload"
        rows.append(f"| {label} | {one:.0f} | {many:.0f} | {per_extra:.0f} | <= {GOAL_MB} | {met} |")
        print(rows[-1], flush=True)
    header = f"| gunicorn | PSS MB, 1 worker | PSS MB, {args.workers} workers | MB per extra worker | goal | met |"
    table = "\n".join([header, "|---|---|---|---|---|---|", *rows])
    text = f"Master + workers, 4 gthreads each, every model (GMF, NeuMF, NGCF, EASE) served by every worker.\n\n{table}"
    print_and_save(text, "memory.md")


if __name__ == "__main__":
    main()
