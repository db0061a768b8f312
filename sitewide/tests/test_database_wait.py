"""How long a request waits for a locked SQLite file: what its view
declares (``waits_for_database``), whatever was asked before it."""

import pytest
from django.db import connection
from django.http import HttpResponse
from django.urls import path

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the busy timeout is SQLite's"),
]


def a_page(request):
    return HttpResponse("ok")


# This module is also a URLconf: the events endpoint's address, served by a page that does not wait.
urlpatterns = [path("api/events", a_page)]


def busy_timeout_ms():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return cursor.fetchone()[0]


def test_each_request_waits_as_long_as_its_own_view_declares(client, settings):
    settings.SQLITE_WEB_BUSY_TIMEOUT_SECONDS = 0.25
    click_wait_ms = int(settings.DATABASES["default"]["OPTIONS"]["timeout"] * 1000)
    assert click_wait_ms != 250
    for path_info, waited_ms in [
        ("/api/events", click_wait_ms),  # a click waits the long timeout
        ("/accounts/login/", 250),  # a page the web's short one
        ("/api/events", click_wait_ms),
    ]:
        client.post(path_info, "[]", content_type="application/json")
        assert busy_timeout_ms() == waited_ms, path_info
    settings.ROOT_URLCONF = __name__  # the same address, now a page that does not wait
    assert client.get("/api/events").content == b"ok"
    assert busy_timeout_ms() == 250
