"""Every error answer says in a sentence what went wrong: a page for people, JSON under /api/."""

import json
import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils.html import escape

from sitewide.errors import NotFound, get_or_404, json_error

pytestmark = pytest.mark.django_db


def test_writes_are_not_allowed_on_pages(client, catalog):
    for path in ("/", "/search/"):
        response = client.post(path, {"q": "x"})
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"
        assert response["X-Frame-Options"] == "DENY"  # the other middleware's headers stay
        # A page that says why, not the blank "HTTP ERROR 405" of an empty body.
        assert "POST is not accepted at this address; use GET or HEAD." in response.content.decode()
        assert "<title>" in response.content.decode()


def test_an_unknown_address_is_a_page_with_the_general_sentence(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.content.decode()
    assert "<title>" in response.content.decode()


def test_get_or_404_raises_the_sentence_written_for_the_visitor():
    user = User.objects.create_user("ada")
    assert get_or_404(User.objects, "There is no such user.", pk=user.pk) == user
    with pytest.raises(NotFound, match="There is no such user."):
        get_or_404(User.objects, "There is no such user.", pk=user.pk + 1)


def test_json_error_names_its_headers_by_keyword():
    response = json_error(429, "Too many events; wait a minute.", Retry_After="60")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert json.loads(response.content) == {"error": "Too many events; wait a minute."}


@pytest.mark.urls("sitewide.tests.urls")
def test_a_failing_view_is_a_500_page_or_json_without_a_traceback():
    client = Client(raise_request_exception=False)
    page = client.get("/broken/")
    assert page.status_code == 500
    assert "The error was logged; please try again." in page.content.decode()
    assert "Traceback" not in page.content.decode() and "a bug in a view" not in page.content.decode()
    api = client.get("/api/broken")
    assert api.status_code == 500
    assert api.json() == {"error": "The error was logged; please try again."}


FORBIDDEN = "Your account may not do this here; an administrator can grant the permission."


@pytest.mark.urls("sitewide.tests.urls")
def test_a_permission_denied_is_a_403_page_or_json_with_a_sentence(client):
    page = client.get("/forbidden/")  # Django's own answer was a bare "403 Forbidden"
    assert page.status_code == 403
    assert FORBIDDEN in page.content.decode() and "<title>" in page.content.decode()
    api = client.get("/api/forbidden")
    assert api.status_code == 403 and api.json() == {"error": FORBIDDEN}


def test_a_request_for_another_host_is_a_400_page(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "The request could not be understood." in response.content.decode()


@pytest.mark.parametrize(
    ("referer", "back"),
    [
        ("http://testserver/accounts/login/?next=/for-you/", "http://testserver/accounts/login/?next=/for-you/"),
        ("https://evil.example/accounts/login/", "/"),  # another site's page is no way back
        (None, "/"),
    ],
)
def test_a_form_posted_without_a_valid_csrf_token_is_a_site_page_with_a_way_back(referer, back):
    headers = {} if referer is None else {"HTTP_REFERER": referer}
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "ada", "password": "pw"}, **headers
    )
    page = response.content.decode()
    assert response.status_code == 403
    assert "<title>Form expired · PseudoRec Movies</title>" in page  # the site's layout, not Django's bare page
    assert "Your form expired or cookies are blocked; reload the page and try again." in page
    assert f'<a href="{escape(back)}">Back to ' in page


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), ("007", 7), ("²", None), ("١٢", None), ("", None), ("1e3", None), ("9" * 10, None)],
)
def test_whole_number_takes_ascii_digits_only(text, expected):
    from sitewide.numbers import whole_number

    assert whole_number(text) == expected


@pytest.mark.urls("sitewide.tests.urls")
def test_a_locked_database_is_a_503_sentence_with_retry_after(caplog):
    from sitewide import database

    database._last_logged = 0.0
    response = Client(raise_request_exception=False).get("/locked/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(database.RETRY_AFTER_SECONDS)
    assert database.UNAVAILABLE in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "sitewide.database"]
    assert record.levelname == "WARNING" and record.exc_info is not None


@pytest.mark.urls("sitewide.tests.urls")
def test_a_database_locked_after_the_view_is_a_503_too(settings, caplog):
    from sitewide import database

    after_sessions = settings.MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:after_sessions],
        "sitewide.tests.urls.LockedOnTheWayOut",
        *settings.MIDDLEWARE[after_sessions:],
    ]
    database._last_logged = 0.0
    request_log = logging.getLogger("django.request")  # the site's LOGGING does not propagate it
    request_log.addHandler(caplog.handler)
    try:
        responses = [Client(raise_request_exception=False).get("/changes-the-session/") for _ in range(3)]
    finally:
        request_log.removeHandler(caplog.handler)
    for response in responses:
        assert response.status_code == 503 and response["Retry-After"] == str(database.RETRY_AFTER_SECONDS)
        assert database.UNAVAILABLE in response.content.decode()
    # One warning while the lock lasts, not a traceback per request.
    assert [r.levelname for r in caplog.records if r.name == "sitewide.database"] == ["WARNING"]
    assert not [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.urls("sitewide.tests.urls")
def test_a_schema_error_is_a_500_with_its_traceback_logged(caplog):
    import logging

    request_log = logging.getLogger("django.request")  # the site's LOGGING does not propagate it
    request_log.addHandler(caplog.handler)
    try:
        response = Client(raise_request_exception=False).get("/schema-bug/")
    finally:
        request_log.removeHandler(caplog.handler)
    assert response.status_code == 500
    assert "The error was logged; please try again." in response.content.decode()
    assert not [r for r in caplog.records if r.name == "sitewide.database"]
    [record] = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert "no such column" in str(record.exc_info[1])


def test_only_busy_read_only_and_lost_connection_errors_count_as_unavailable():
    from django.db import OperationalError, ProgrammingError

    from sitewide.database import is_unavailable

    assert is_unavailable(OperationalError("database is locked"))
    assert is_unavailable(OperationalError("attempt to write a readonly database"))
    assert is_unavailable(OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"))
    assert is_unavailable(OperationalError(2006, "MySQL server has gone away"))
    assert not is_unavailable(OperationalError(1054, "Unknown column 'x' in 'field list'"))
    assert not is_unavailable(OperationalError("no such table: movie_movie"))
    assert not is_unavailable(ProgrammingError("syntax error"))
    assert not is_unavailable(RuntimeError("database is locked"))
