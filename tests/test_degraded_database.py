"""The embedded SQLite default degrades instead of failing: with its data
folder read-only the site says so at start in one sentence and its pages
still serve (writes answer 503 with a sentence); with the database
write-locked by another connection, pages still render (they wait at most
SQLITE_WEB_BUSY_TIMEOUT_SECONDS), a click waits the longer
SQLITE_BUSY_TIMEOUT_SECONDS, so a lock released in that time loses no click,
and a click that still fails gets a sentence, to be stored once when the
browser retries it.

The site runs in a process of its own (tests/site_probe.py) on a migrated
SQLite file of the test's, the way a server holds it; the test database is
not involved."""

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from tests.services import REPO_DIR, run_for_json, site_process_env

PYTHON = str(Path(sys.executable).parent / "python")
MOVIE = 1  # the first movie of tests/factories.make_catalog
PAGES = ["/", f"/movie/{MOVIE}/", "/search/?q=Movie", "/movie/ease", "/api/recommendations?model=ease&k=5"]
READ_ONLY_SENTENCE = "is read-only"


def site_env(folder, **overrides):
    return site_process_env(
        folder,
        DJANGO_ALLOWED_HOSTS="testserver",
        MOVIELENS_DATASET="test-catalog",
        MOVIELENS_DOWNLOAD="0",
        **overrides,
    )


@pytest.fixture(scope="module")
def prepared_folder(tmp_path_factory):
    """A data folder with a migrated database holding the small test catalog."""
    folder = tmp_path_factory.mktemp("site-data")
    script = "from tests.factories import make_catalog; make_catalog('test-catalog')"
    for command in (["migrate", "--noinput"], ["shell", "-c", script]):
        subprocess.run(
            [PYTHON, "manage.py", *command], cwd=REPO_DIR, env=site_env(folder), check=True, capture_output=True
        )
    return folder


@pytest.fixture
def data_folder(prepared_folder, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(prepared_folder, folder)
    return folder


def probe(env, requests, prefix=()):
    """The site's answers to ``requests`` (see tests/site_probe.py) and what it logged."""
    return run_for_json(["-m", "tests.site_probe", json.dumps(requests)], env, timeout=180, prefix=prefix)


def without_write_permission():
    """A command prefix under which permission bits hold (root ignores them), or skip."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): root would write the read-only folder")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]


def click(event_id):
    return [{"type": "click", "movie_id": MOVIE, "event_id": event_id}]


def stored_clicks(folder):
    with sqlite3.connect(folder / "db.sqlite3") as db:
        return [uuid.UUID(row[0]) for row in db.execute("SELECT event_id FROM movie_clickevent")]


def test_a_read_only_data_folder_is_reported_once_and_pages_still_serve(data_folder):
    prefix = without_write_permission()
    modes = {path: path.stat().st_mode for path in [data_folder, *data_folder.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        requests = [["GET", page, None] for page in PAGES] + [["POST", "/api/events", click(str(uuid.uuid4()))]]
        answers, log = probe(site_env(data_folder), requests, prefix)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    pages, post = answers[: len(PAGES)], answers[-1]
    assert [status for status, _ in pages] == [200] * len(PAGES), pages
    assert post[0] == 503 and "cannot be recorded right now" in post[1]
    [sentence] = [line for line in log.splitlines() if READ_ONLY_SENTENCE in line]
    assert f"The data folder {data_folder} is read-only" in sentence
    # No 500; one warning for the 503, with its traceback (sitewide/database.py).
    assert "Internal Server Error" not in log and log.count("met an unavailable database") == 1
    assert stored_clicks(data_folder) == []


def test_a_write_locked_database_still_serves_pages_and_a_retried_click_is_stored_once(data_folder):
    env = site_env(data_folder, SQLITE_WEB_BUSY_TIMEOUT_SECONDS="0.5", SQLITE_BUSY_TIMEOUT_SECONDS="1")
    event_id = str(uuid.uuid4())
    # Another connection holds the write lock for the whole first visit.
    holder = sqlite3.connect(data_folder / "db.sqlite3", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("DELETE FROM movie_clickevent")
        requests = [["GET", page, None] for page in PAGES] + [["POST", "/api/events", click(event_id)]]
        locked, log = probe(env, requests)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [status for status, _ in locked[: len(PAGES)]] == [200] * len(PAGES), locked
    assert locked[-1][0] == 503 and "cannot be recorded right now" in locked[-1][1]
    # No 500; one warning for the 503, with its traceback (sitewide/database.py).
    assert "Internal Server Error" not in log and log.count("met an unavailable database") == 1
    # The browser retries the same event (static/js/events.js); sent twice, stored once.
    retried, _ = probe(env, [["POST", "/api/events", click(event_id)]] * 2)
    assert [status for status, _ in retried] == [202, 202]
    assert stored_clicks(data_folder) == [uuid.UUID(event_id)]


def test_a_click_waits_out_a_lock_held_past_the_web_timeout_and_is_stored_once(data_folder):
    """A click is a keepalive POST from a page that is going away: nothing is
    left to retry a 503, so the endpoint waits the long timeout, not the web's."""
    web_timeout = 0.2
    env = site_env(data_folder, SQLITE_WEB_BUSY_TIMEOUT_SECONDS=str(web_timeout), SQLITE_BUSY_TIMEOUT_SECONDS="30")
    event_id = str(uuid.uuid4())
    holder = sqlite3.connect(data_folder / "db.sqlite3", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM movie_clickevent")
    site = subprocess.Popen(
        [PYTHON, "-m", "tests.site_probe", json.dumps([["POST", "/api/events", click(event_id)]])],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    release = None
    try:
        for line in site.stderr:
            if line.startswith("probe: sending POST"):
                # Held several web timeouts after the click was sent: a page's wait would have given up.
                release = threading.Timer(web_timeout * 5, holder.execute, ["ROLLBACK"])
                release.start()
                break
        stdout, stderr = site.communicate(timeout=180)
    finally:
        if release is None:
            holder.execute("ROLLBACK")
        else:
            release.join()
        holder.close()
    assert site.returncode == 0, stderr
    [(status, _)] = json.loads(stdout.strip().splitlines()[-1])
    assert status == 202
    assert stored_clicks(data_folder) == [uuid.UUID(event_id)]


READER = """
import sys
import django
django.setup()
from django.db import close_old_connections
from movie.models import Movie

def title():
    return Movie.objects.get(source_id=1).title

for step in sys.stdin:
    if step.strip() == "end-request":
        close_old_connections()
    print(title(), flush=True)
"""


def test_a_read_only_site_sees_what_another_owner_writes(data_folder):
    """The folder is read-only to the site, not to its owner: a change the
    owner makes shows on the site, whether or not a writer holds the -wal/-shm
    files open (config/env.py, sqlite_read_only_name)."""
    prefix = without_write_permission()
    database = data_folder / "db.sqlite3"
    modes = {path: path.stat().st_mode for path in [data_folder, *data_folder.rglob("*")]}

    def read_only():
        for path in [data_folder, *data_folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def writable():
        for path, mode in modes.items():
            path.chmod(mode)

    def rename(writer, title):
        writer.execute("UPDATE movie_movie SET title = ? WHERE source_id = 1", (title,))
        writer.commit()

    read_only()
    site = subprocess.Popen(
        [*prefix, PYTHON, "-c", READER],
        cwd=REPO_DIR,
        env=site_env(data_folder, DATABASE_CONN_MAX_AGE="60"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def ask(step):
        site.stdin.write(step + "\n")
        site.stdin.flush()
        return site.stdout.readline().strip()

    writer = None
    try:
        # No writer: no -wal/-shm, and the site cannot create them.
        assert ask("read") == "Movie 01"
        ask("end-request")
        writable()
        with sqlite3.connect(database) as owner:
            rename(owner, "Renamed while closed")
        owner.close()  # the last connection: SQLite removes -wal and -shm
        read_only()
        assert ask("end-request") == "Renamed while closed"
        # A writer holds the file open: the site shares its -wal/-shm.
        writable()
        writer = sqlite3.connect(database)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("SELECT 1 FROM movie_movie").fetchall()
        read_only()
        assert ask("end-request") == "Renamed while closed"
        rename(writer, "Renamed while open")
        assert ask("read") == "Renamed while open"  # same connection, no request boundary
    finally:
        if writer is not None:
            writer.close()
        writable()
        _, stderr = site.communicate(timeout=60)
    assert site.returncode == 0, stderr
    assert "opened immutable for one request at a time" in stderr and "opened mode=ro" in stderr
