"""The site as an attacker would try it: forged writes, script injection,
SQL-shaped input, oversize bodies, the admin without staff rights, secrets in
the code, and the production settings."""

import json
import os
import re
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from events.models import ClickEvent, OutboxEvent
from movie.models import Genre, Movie
from paper_review.models import COMMENT_MAX_LENGTH, Comment
from predictors.models import ModelVersion
from tests.services import REPO_DIR, Browser
from tests.test_settings import settings_in_subprocess

SOURCE_DIRS = ["config", "sitewide", "movie", "events", "predictors", "paper_review", "templates", "static"]
REVIEW = "neural-collaborative-filtering"
SCRIPT = '<script>alert("owned")</script>'
ESCAPED_SCRIPT = "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;"
# A value for each path converter: CSRF is checked before any view runs, so
# the objects need not exist.
CONVERTER_SAMPLES = {"int": "1", "slug": "x", "str": "x", "path": "1", "uuid": "00000000-0000-0000-0000-000000000000"}


def source_files(*suffixes):
    """The site's own files; the apps' tests/ folders (test passwords and all) are not the site."""
    for folder in SOURCE_DIRS + ["manage.py"]:
        root = REPO_DIR / folder
        candidates = [root] if root.is_file() else root.rglob("*")
        for path in candidates:
            if (
                path.is_file()
                and path.suffix in suffixes
                and not {"__pycache__", "tests"} & set(path.relative_to(REPO_DIR).parts)
            ):
                yield path


def concrete_routes(patterns=None, prefix=""):
    """Every path() of the site with sample values in place of its converters.
    re_path() patterns (the admin's app index and catch-all) are left out."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue
        route = prefix + re.sub(
            r"<(?:(\w+):)?\w+>", lambda m: CONVERTER_SAMPLES[m.group(1) or "str"], str(entry.pattern)
        )
        if isinstance(entry, URLResolver):
            yield from concrete_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield "/" + route


@pytest.fixture
def member(db):
    return User.objects.create_user("reader", password="a long pass phrase 42")


@pytest.fixture
def staff(db):
    return User.objects.create_user("operator", password="a long pass phrase 42", is_staff=True, is_superuser=True)


@pytest.fixture
def evil_movie(catalog):
    """A catalog title that is a script, made the most popular movie so every list shows it."""
    movie = Movie.objects.create(
        dataset=catalog, source_id=999, title=f"{SCRIPT} Evil", year=1999, rating_count=10_000, rating_mean=5
    )
    movie.genres.add(Genre.objects.get(name="Action"))
    return movie


# --- CSRF ------------------------------------------------------------------------------


def test_every_route_refuses_a_post_without_csrf_token(db):
    client = Browser().client
    routes = sorted(set(concrete_routes()))
    assert {
        "/api/events",
        "/paper_review/x/comments/",
        "/paper_review/x/comments/1/delete/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/logout/",
        "/admin/login/",
        "/admin/predictors/modelversion/",
        "/admin/predictors/modelversion/1/change/",
    } <= set(routes)
    accepted = {route: client.post(route, {"field": "value"}).status_code for route in routes}
    assert {route: status for route, status in accepted.items() if status != 403} == {}


def test_logged_in_writes_still_need_the_token(member, staff, catalog):
    forged = Browser()
    forged.client.force_login(member)
    assert forged.client.post(f"/paper_review/{REVIEW}/comments/", {"body": "forged"}).status_code == 403
    assert forged.client.post("/accounts/logout/").status_code == 403
    admin = Browser()
    admin.client.force_login(staff)
    assert admin.client.post("/admin/auth/user/add/", {"username": "intruder"}).status_code == 403
    assert not Comment.objects.exists() and not User.objects.filter(username="intruder").exists()


def test_writes_with_the_pages_token_go_through(member, catalog):
    browser = Browser()
    browser.client.force_login(member)
    browser.open(f"/paper_review/{REVIEW}/")
    response = browser.client.post(
        f"/paper_review/{REVIEW}/comments/", {"body": "hello"}, HTTP_X_CSRFTOKEN=browser.token
    )
    assert response.status_code == 302 and Comment.objects.get().body == "hello"
    assert browser.click(Movie.objects.first().pk).status_code == 202


def test_csrf_exempt_is_used_nowhere():
    offenders = [
        str(path.relative_to(REPO_DIR)) for path in source_files(".py", ".html") if "csrf_exempt" in path.read_text()
    ]
    assert offenders == []


def test_a_missing_token_on_the_api_gets_a_json_explanation(catalog):
    response = Browser().post_events([{"type": "click", "movie_id": Movie.objects.first().pk}], token=False)
    assert response.status_code == 403 and "X-CSRFToken" in response.json()["error"]
    assert not ClickEvent.objects.exists() and not OutboxEvent.objects.exists()


# --- Script injection ---------------------------------------------------------------------


def test_search_query_is_escaped(catalog):
    response = Browser().open("/search/?q=" + SCRIPT)
    html = response.content.decode()
    assert response.status_code == 200
    assert SCRIPT not in html and ESCAPED_SCRIPT in html


def test_comment_is_escaped(member, catalog):
    browser = Browser()
    browser.client.force_login(member)
    browser.open(f"/paper_review/{REVIEW}/")
    body = SCRIPT + '<img src=x onerror="alert(1)">'
    browser.client.post(f"/paper_review/{REVIEW}/comments/", {"body": body}, HTTP_X_CSRFTOKEN=browser.token)
    html = browser.open(f"/paper_review/{REVIEW}/").content.decode()
    assert SCRIPT not in html and "<img src=x" not in html
    assert ESCAPED_SCRIPT in html


@pytest.mark.parametrize(
    "event",
    [
        {"type": SCRIPT},
        {"type": "click", "movie_id": SCRIPT},
        {"type": "rating", "rating": SCRIPT},
        {"type": "click", "title": SCRIPT},  # the old site stored a client-sent title
    ],
)
def test_event_payload_with_script_is_refused_as_json(catalog, event):
    response = Browser().post_events([{"movie_id": Movie.objects.first().pk, **event}])
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json" and response["X-Content-Type-Options"] == "nosniff"
    assert not ClickEvent.objects.exists() and not OutboxEvent.objects.exists()


def test_a_script_title_is_escaped_on_every_page_that_shows_titles(evil_movie):
    browser = Browser()
    browser.open("/")
    browser.click(evil_movie.pk)
    pages = [
        "/",
        f"/movie/{evil_movie.pk}/",
        "/search/?q=Evil",
        "/genres/action/",
        "/movie/gmf",
        "/movie/neumf",
        "/movie/ngcf",
    ]
    for path in pages:
        response = browser.open(path)
        html = response.content.decode()
        assert response.status_code == 200, path
        assert SCRIPT not in html, path
        assert html.count(ESCAPED_SCRIPT) >= 1, path
    history = browser.open("/movie/ngcf").content.decode().split('data-list="history"', 1)[1]
    assert ESCAPED_SCRIPT in history  # the clicked movie, in the visitor's history
    poster = browser.client.get(f"/movie/{evil_movie.pk}/poster.svg").content.decode()
    assert "<script" not in poster and "&lt;script&gt;" in poster


# --- SQL-shaped input -----------------------------------------------------------------------


@pytest.mark.parametrize("query", ["' OR 1=1 --", '" OR ""="', "%", "_", "1; DROP TABLE movie_movie; --", "\x00"])
def test_search_with_sql_shaped_input_matches_nothing_and_changes_nothing(catalog, query):
    before = Movie.objects.count()
    response = Browser().client.get("/search/", {"q": query})
    assert response.status_code == 200
    assert 'class="movie-card"' not in response.content.decode()
    assert Movie.objects.count() == before


@pytest.mark.parametrize("page", ["1 OR 1=1", "-1", "0", "99999999999999999999999", "1;--", "abc", "²"])
def test_junk_page_numbers_are_a_404_with_a_sentence(catalog, client, page):
    for path, query in (("/", {}), ("/search/", {"q": "Movie"}), ("/genres/action/", {})):
        response = client.get(path, {**query, "page": page})
        assert response.status_code == 404, path
        assert "of this list; it has page" in response.content.decode()
        assert client.get(path, {**query, "page": "1"}).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"model": "gmf' OR '1'='1"},
        {"model": "gmf", "k": "10; DROP TABLE movie_movie"},
        {"model": "gmf", "k": "1 OR 1=1"},
        {"model": "ease", "k": "²"},
        {"model": "gmf", "k": "9" * 5000},
    ],
)
def test_api_parameters_with_sql_are_refused(catalog, client, query):
    response = client.get("/api/recommendations", query)
    assert response.status_code == 400 and "error" in response.json()
    assert Movie.objects.count() == 30


@pytest.mark.parametrize("movie_id", ["1 OR 1=1", "1); DELETE FROM movie_movie; --", [1, 2], {"$gt": 0}, 10**30])
def test_event_movie_id_with_sql_is_refused(catalog, movie_id):
    response = Browser().post_events([{"type": "click", "movie_id": movie_id}])
    assert response.status_code == 400
    assert Movie.objects.count() == 30 and not ClickEvent.objects.exists()


# --- Oversize bodies ------------------------------------------------------------------------


def test_oversize_event_body_is_refused(catalog, settings):
    movie_id = Movie.objects.first().pk
    padding = " " * (settings.EVENTS_MAX_BODY_BYTES + 1)
    response = Browser().post_events(json.dumps({"events": [{"type": "click", "movie_id": movie_id}]}) + padding)
    assert response.status_code == 413 and "larger than" in response.json()["error"]
    huge = Browser().post_events(b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    assert huge.status_code == 413
    assert not ClickEvent.objects.exists() and not OutboxEvent.objects.exists()


def test_overlong_comment_is_refused_with_a_message(member, catalog):
    browser = Browser()
    browser.client.force_login(member)
    browser.open(f"/paper_review/{REVIEW}/")
    response = browser.client.post(
        f"/paper_review/{REVIEW}/comments/", {"body": "x" * (COMMENT_MAX_LENGTH + 1)}, HTTP_X_CSRFTOKEN=browser.token
    )
    assert response.status_code == 400 and "limited to" in response.content.decode()
    assert not Comment.objects.exists()


def test_comment_body_over_the_request_limit_is_a_400_page(member, catalog, settings):
    browser = Browser()
    browser.client.force_login(member)
    browser.open(f"/paper_review/{REVIEW}/")
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = browser.client.post(f"/paper_review/{REVIEW}/comments/", {"body": body}, HTTP_X_CSRFTOKEN=browser.token)
    assert response.status_code in (400, 413)
    assert "Traceback" not in response.content.decode()
    assert not Comment.objects.exists()


# --- Staff only -------------------------------------------------------------------------------


ADMIN_PAGES = [
    "/admin/",
    "/admin/predictors/modelversion/",
    "/admin/predictors/trainingrun/",
    "/admin/paper_review/comment/",
    "/admin/auth/user/",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_needs_staff(client, member, staff, path):
    assert client.get(path).status_code == 302 and "/admin/login/" in client.get(path)["Location"]
    client.force_login(member)
    assert client.get(path).status_code == 302
    client.force_login(staff)
    assert client.get(path).status_code == 200


def test_activating_a_version_needs_staff(member, db):
    version = ModelVersion.objects.create(
        model_name="gmf", version=1, dataset="d", artifact_uri="x", artifact_sha256="0" * 64
    )
    browser = Browser()
    browser.client.force_login(member)
    browser.open("/")
    response = browser.client.post(
        "/admin/predictors/modelversion/",
        {"action": "activate_selected", "_selected_action": [version.pk]},
        HTTP_X_CSRFTOKEN=browser.token,
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    version.refresh_from_db()
    assert version.status == "candidate"


# --- Secrets and production settings ---------------------------------------------------------


def test_no_secret_literal_in_the_source():
    assignment = re.compile(r"""(SECRET_KEY|PASSWORD|AWS_SECRET_ACCESS_KEY|API_KEY)\s*=\s*["'][^"']+["']""")
    aws_key_id = re.compile(r"AKIA[0-9A-Z]{16}")
    offenders = [
        str(path.relative_to(REPO_DIR))
        for path in source_files(".py", ".html", ".js")
        if assignment.search(path.read_text()) or aws_key_id.search(path.read_text())
    ]
    assert offenders == []
    assert 'env_str("DJANGO_SECRET_KEY")' in (REPO_DIR / "config" / "settings.py").read_text()


def production_env(tmp_path):
    return {
        "APP_VAR_DIR": str(tmp_path),
        "DJANGO_HTTPS": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60)[:60],
        "DJANGO_ALLOWED_HOSTS": "movies.example",
    }


def test_production_cookies_are_secure(tmp_path):
    env = production_env(tmp_path)
    flags = (
        "(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.DEBUG, s.SECURE_HSTS_SECONDS > 0)"
    )
    assert settings_in_subprocess(env, flags) == "(True, True, True, False, True)"
    assert settings_in_subprocess(env, "s.SECRET_KEY") == repr(env["DJANGO_SECRET_KEY"])
    assert not (tmp_path / "secret_key").exists()  # the environment's key, no generated one


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_DIR,
        env={**clean, **production_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
