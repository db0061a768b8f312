"""On MySQL/MariaDB a click whose write waits out the server's lock timeout
answers 503 with a sentence and Retry-After, like a locked SQLite file, and
the click the page script then resends with the same id is stored once.
The click writes run on the driver's own cursor (events/rows.py), so this
checks that its errors still arrive as Django's."""

import uuid

import pytest
from django.db import connection

from events.models import ClickEvent
from movie.models import Movie
from tests.services import Browser

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'mysql'",
        reason="a MySQL/MariaDB lock wait; run with TEST_DATABASE_URL=mysql://... (./run test does)",
    ),
]


def another_connection():
    """A second client session of the test database, outside Django."""
    import MySQLdb

    config = connection.settings_dict
    return MySQLdb.connect(
        host=config["HOST"] or "127.0.0.1",
        port=int(config["PORT"] or 3306),
        user=config["USER"],
        passwd=config["PASSWORD"] or "",
        db=config["NAME"],
        autocommit=False,
    )


def test_a_click_that_waits_out_a_row_lock_gets_a_sentence_and_is_stored_once_when_resent(catalog):
    movie = Movie.objects.filter(dataset=catalog).order_by("pk").first()
    assert Browser().click(movie.pk).status_code == 202  # the movie's counter row exists now
    browser = Browser()  # a second visitor: their click must update that row
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
    holder = another_connection()
    event = {"type": "click", "movie_id": movie.pk, "event_id": str(uuid.uuid4())}
    try:
        holder.cursor().execute("SELECT * FROM events_popularitycount FOR UPDATE")
        refused = browser.post_events([event])
    finally:
        holder.rollback()
        holder.close()
    assert refused.status_code == 503 and int(refused["Retry-After"]) >= 1
    assert refused.json()["error"].endswith(".")
    assert browser.post_events([event]).status_code == 202
    assert ClickEvent.objects.filter(event_id=event["event_id"]).count() == 1
