"""Journeys through a real browser against a real server: headless chromium
(Playwright) on the site under gunicorn, with the Kafka-compatible broker and
the consume_events process running, on a SQLite file of its own.

Each step leaves a screenshot in screenshots/e2e/<test>/<step>.png, and every
request the page makes must stay on the server's origin.
"""

import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.services import REPO_DIR, TansuBroker, free_port, launch_chromium, run_for_json, wait_for_port

pytestmark = pytest.mark.browser

SCREENSHOTS = REPO_DIR / "screenshots" / "e2e"
PASSWORD = "e2e pass phrase 2026"
MODELS = ("ngcf", "neumf", "gmf")
REVIEW = "/paper_review/neural-collaborative-filtering/"


def build_site_data():
    """Run in the site's environment (see ``site``): schema, a small catalog,
    the three models trained and active, a second GMF version waiting as a
    candidate, a staff user and a reader. Prints the version labels as JSON."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from predictors.tests.test_recommendation_pages import train_version
    from tests.factories import make_catalog

    call_command("migrate", verbosity=0)
    make_catalog("test-catalog", n_movies=40)
    active = {name: train_version(name).label for name in MODELS}
    candidate = train_version("gmf", activate=False, seed=1).label
    User.objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)
    User.objects.create_user("reader", password=PASSWORD)
    print(json.dumps({"active": active, "candidate": candidate}))


class Site:
    def __init__(self, base_url, db_path, versions):
        self.base_url, self.db_path, self.versions = base_url, db_path, versions

    def query(self, sql):
        with sqlite3.connect(self.db_path, timeout=20) as db:
            return db.execute(sql).fetchall()

    def wait_for(self, sql, expected, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(sql)
            if found == expected or time.monotonic() > deadline:
                return found
            time.sleep(0.3)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e-site")
    broker = TansuBroker().start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "KAFKA_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "APP_VAR_DIR": str(work),
            "SQLITE_PATH": str(work / "site.sqlite3"),
            "MODEL_STORE_URI": str(work / "models"),
            "MOVIELENS_DATASET": "test-catalog",
            "MOVIELENS_DOWNLOAD": "0",
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "KAFKA_TOPIC": f"e2e-{uuid.uuid4().hex[:8]}",
            "KAFKA_MAX_POLL_INTERVAL_MS": "5000",
            "EVENTS_OUTBOX_RESEND_SECONDS": "2",
            "OMP_NUM_THREADS": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    build = "from tests.test_e2e_browser import build_site_data; build_site_data()"
    versions, _ = run_for_json(["-c", build], env, timeout=300)
    logs = open(work / "servers.log", "w")
    servers = [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),  # beside the Python running the tests
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "60",
            ],
            cwd=REPO_DIR,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [sys.executable, "manage.py", "consume_events", "--progress-seconds", "1"],
            cwd=REPO_DIR,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        wait_for_port(port, timeout=60)
        yield Site(f"http://127.0.0.1:{port}", work / "site.sqlite3", versions)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        broker.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


class Tab:
    """A fresh browser context (new visitor) that screenshots its steps and
    records every URL it requests."""

    def __init__(self, chromium, site, folder):
        self.site = site
        self.context = chromium.new_context(base_url=site.base_url, viewport={"width": 1280, "height": 900})
        self.requested = []
        self.context.on("request", lambda request: self.requested.append(request.url))
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.folder = folder

    def shot(self, name, full_page=True):
        """A numbered screenshot once every image (lazy posters too) has loaded."""
        self.page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
        # The site's CSP forbids eval, which wait_for_function needs; poll from here instead.
        deadline = time.monotonic() + 20
        while not self.page.evaluate("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)"):
            assert time.monotonic() < deadline, "images did not load"
            time.sleep(0.1)
        self.folder.mkdir(parents=True, exist_ok=True)
        step = len(list(self.folder.glob("*.png"))) + 1  # shared by the tabs of one test
        self.page.screenshot(path=str(self.folder / f"{step:02d}-{name}.png"), full_page=full_page)

    def foreign_requests(self):
        return [
            url for url in self.requested if not (url.startswith(self.site.base_url + "/") or url.startswith("data:"))
        ]

    def log_in(self, username, path):
        self.page.goto(f"/accounts/login/?next={path}")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.locator("main form button[type=submit], main form input[type=submit]").first.click()
        self.page.wait_for_url(f"**{path}")


@pytest.fixture
def tab(chromium, site, request):
    folder = SCREENSHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    opened = Tab(chromium, site, folder)
    yield opened
    opened.context.close()
    assert opened.foreign_requests() == []


def list_ids(page, list_name):
    return [
        int(pk)
        for pk in page.locator(f'[data-list="{list_name}"] li[data-movie-id]').evaluate_all(
            "items => items.map(item => item.dataset.movieId)"
        )
    ]


def history_is_complete(page, movies, ratings):
    """Every movie in "Your history", each rated one with its stars and every
    other one named "clicked" (its click may reach this worker after its view)."""
    texts = page.locator('[data-list="history"] li').all_inner_texts()
    clicked = sum("clicked" in text for text in texts)
    return (
        len(texts) >= movies
        and page.locator('[data-list="history"] li .stars').count() >= ratings
        and (clicked >= movies - ratings)
    )


def test_a_new_visitor_clicks_rates_and_gets_recommendations(tab, site):
    page = tab.page
    page.goto("/")
    tab.shot("home")
    clicked, rated = [], {}
    for index in range(5):
        page.goto("/")
        poster = page.locator("a.poster-link").nth(index)
        clicked.append(int(poster.get_attribute("data-movie-id")))
        # The page sends the click (fetch with keepalive) as it navigates away; the
        # response may land after the next document, so the history below is the proof.
        with page.expect_request(lambda r: r.url.endswith("/api/events") and '"click"' in (r.post_data or "")):
            poster.click()
        page.wait_for_url(f"**/movie/{clicked[-1]}/")
        if index < 2:
            stars = 4.5 if index == 0 else 3
            page.locator(f'.rating-widget [data-rating="{stars:g}"]').click()
            expect(page.locator(".rating-value")).to_have_text(f"{stars:g} / 5")
            rated[clicked[-1]] = stars
        tab.shot(f"detail-{index + 1}")

    for model_name in MODELS:
        page.goto(f"/movie/{model_name}")
        # Two web workers and no shared cache (REDIS_URL): read-your-writes is the
        # worker's own, and an event the other worker took shows once the consumer
        # has stored it (the hand-off lingers up to KAFKA_HANDOFF_LINGER_MS first).
        # Wait for every movie, rating and click, or a late click can still be picked.
        deadline = time.monotonic() + 30
        while not history_is_complete(page, len(clicked), len(rated)) and time.monotonic() < deadline:
            page.wait_for_timeout(300)
            page.goto(f"/movie/{model_name}")
        tab.shot(f"model-{model_name}")
        picks = list_ids(page, "recommendations")
        assert len(picks) == 10 and not set(picks) & set(clicked), model_name
        assert page.locator("[data-fallback]").count() == 0
        assert page.locator(".model-version").inner_text() == site.versions["active"][model_name]
        popular = page.locator('[data-list="popular"] li')
        assert popular.count() == 10
        history = page.locator('[data-list="history"] li')
        assert history.count() == 5
        texts = history.all_inner_texts()
        assert sum("clicked" in text for text in texts) == 3
        assert sorted(re.search(r"★ ([\d.]+)", text).group(1) for text in texts if "★" in text) == ["3", "4.5"]

    # The consumer has moved every event from the broker into the store.
    counts = "SELECT event_type, COUNT(*) FROM movie_clickevent GROUP BY event_type ORDER BY event_type"
    stored = dict(site.wait_for(counts, [("click", 5), ("rating", 2), ("view", 5)]))
    assert stored == {"click": 5, "rating": 2, "view": 5}
    assert site.wait_for("SELECT COUNT(*) FROM movie_outboxevent", [(0,)]) == [(0,)]


def test_staff_activates_another_version_and_the_page_follows_without_restart(chromium, tab, site):
    before, after = site.versions["active"]["gmf"], site.versions["candidate"]
    visitor = Tab(chromium, site, tab.folder)
    try:
        visitor.page.goto("/movie/gmf")
        assert visitor.page.locator(".model-version").inner_text() == before
        visitor.shot("visitor-before")

        page = tab.page
        tab.log_in("operator", "/admin/predictors/modelversion/")
        tab.shot("admin-versions")
        row = page.locator("#result_list tr", has_text=after)
        row.locator("input[name=_selected_action]").check()
        page.select_option("select[name=action]", "activate_selected")
        page.locator("button[name=index]").click()
        page.wait_for_selector(".messagelist, .registry-activate-confirmation")
        if page.locator(".registry-activate-confirmation").count():  # it scores below the active version: confirm
            tab.shot("admin-confirm-activation")
            page.locator("input[type=submit][value='Yes, activate it anyway']").click()
            page.wait_for_selector(".messagelist")
        assert f"Activated {after}" in page.locator(".messagelist").inner_text()
        tab.shot("admin-activated")

        for reload in range(4):  # two gunicorn workers: each must notice
            visitor.page.goto("/movie/gmf")
            assert visitor.page.locator(".model-version").inner_text() == after, reload
        visitor.shot("visitor-after")
        assert visitor.foreign_requests() == []
    finally:
        visitor.context.close()


def test_a_member_comments_on_a_paper_review(tab, site):
    page = tab.page
    page.goto(REVIEW)
    page.locator("#comments").scroll_into_view_if_needed()
    tab.shot("review-anonymous", full_page=False)
    tab.log_in("reader", REVIEW)
    text = f"Clear write-up; <b>not bold</b> {uuid.uuid4().hex[:6]}"
    page.fill("textarea[name=body]", text)
    tab.shot("comment-typed", full_page=False)
    page.locator("form.comment-form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*#comment-\d+$"))
    comment = page.locator(".comment-list .comment").first
    assert text in comment.inner_text() and "reader" in comment.inner_text()
    assert comment.locator("b").count() == 0  # shown as text, not markup
    comment.scroll_into_view_if_needed()
    tab.shot("comment-posted", full_page=False)
