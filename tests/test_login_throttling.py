"""Log-in and sign-up are throttled, and every answer carries the security
headers: a Content-Security-Policy without inline script, a Permissions-Policy
and an HttpOnly CSRF cookie."""

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

PASSWORD = "a long and correct password"


@pytest.fixture
def member(db):
    return User.objects.create_user("reader", password=PASSWORD)


pytestmark = pytest.mark.usefixtures("empty_cache")


def log_in(client, password, address="203.0.113.7"):
    return client.post("/accounts/login/", {"username": "reader", "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_lock_the_account_from_that_address(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the form again, with its error
    assert log_in(client, "wrong").status_code == 429  # the limit is reached
    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert "Too many wrong passwords for this account from your address" in refused.content.decode()
    assert int(refused["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "_auth_user_id" not in client.session


def test_the_owner_elsewhere_can_still_log_in(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong", address="203.0.113.7")
    assert log_in(client, PASSWORD, address="198.51.100.2").status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302


def test_sign_ups_per_address_are_limited(client, db, settings):
    settings.SIGNUP_RATE_LIMIT = 2
    for number in range(2):
        answer = client.post(
            "/accounts/signup/",
            {"username": f"new{number}", "password1": "x", "password2": "y"},
            REMOTE_ADDR="203.0.113.9",
        )
        assert answer.status_code == 400  # refused by the form, but counted
    refused = client.post(
        "/accounts/signup/",
        {"username": "new3", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    assert refused.status_code == 429
    assert "Too many sign-ups from your address" in refused.content.decode()
    assert not User.objects.filter(username="new3").exists()


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/admin/login/"])
def test_security_headers_and_no_inline_script(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "camera=()" in response["Permissions-Policy"]
    html = response.content.decode()
    inline = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]
    assert inline == []
    assert not re.search(r"\son[a-z]+=\"", html)  # no inline event handlers either


def test_csrf_cookie_is_http_only(client, db):
    response = client.get("/accounts/login/")
    assert response.cookies["csrftoken"]["httponly"]
