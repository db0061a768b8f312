"""/activity/: a visitor's own events, newest first, and deleting one or all
of them: never anyone else's, only by a CSRF-checked POST."""

import re

import pytest
from django.contrib.auth.models import User

from events.models import ClickEvent, VisitorLink
from tests.services import Browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def movies(catalog):
    from movie.models import Movie

    return list(Movie.objects.order_by("pk")[:3])


def delete(browser, path, data):
    browser.open("/activity/")
    return browser.client.post(path, {**data, "csrfmiddlewaretoken": browser.token})


def own_ids(browser):
    return list(ClickEvent.objects.filter(visitor_key=browser.visitor_key()).values_list("event_id", flat=True))


def test_the_page_lists_the_visitors_events_newest_first_with_titles(movies):
    visitor = Browser()
    visitor.click(movies[0].pk)
    visitor.rate(movies[1].pk, 4.5)
    Browser().click(movies[2].pk)  # someone else
    html = visitor.open("/activity/").content.decode()
    listed = html.split('data-list="activity"', 1)[1]
    assert listed.index(movies[1].title) < listed.index(movies[0].title)  # newest first
    assert "★ 4.5" in listed and "Rated" in listed and "Opened from a list" in listed
    # Each with its moment as the whole site writes one (sitewide/templatetags/dates.py): "3 Dec 2026, 14:05".
    moments = re.findall(r'<time class="when" datetime="[^"]+">([^<]*)</time>', listed)
    assert len(moments) == 2 and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", m) for m in moments)
    assert movies[2].title not in listed


def test_a_visitor_deletes_one_of_their_events(movies):
    visitor = Browser()
    visitor.click(movies[0].pk)
    visitor.click(movies[1].pk)
    doomed = ClickEvent.objects.get(movie_id=movies[0].pk).event_id
    response = delete(visitor, "/activity/delete", {"event_id": str(doomed)})
    assert response.status_code == 302
    assert list(ClickEvent.objects.values_list("movie_id", flat=True)) == [movies[1].pk]
    page = visitor.open("/activity/").content.decode()
    assert "Deleted the event" in page and movies[0].title not in page.split('data-list="activity"', 1)[1]


def test_nobody_deletes_anyone_elses_events(movies):
    owner, intruder = Browser(), Browser()
    owner.click(movies[0].pk)
    intruder.click(movies[1].pk)
    theirs = ClickEvent.objects.get(movie_id=movies[0].pk).event_id
    assert delete(intruder, "/activity/delete", {"event_id": str(theirs)}).status_code == 404
    assert delete(intruder, "/activity/delete-all", {"confirm": "all"}).status_code == 302
    assert list(ClickEvent.objects.values_list("movie_id", flat=True)) == [movies[0].pk]
    # A visitor without any id yet deletes nothing either.
    assert Browser().client.post("/activity/delete-all", {"confirm": "all"}).status_code == 403  # no CSRF token
    assert ClickEvent.objects.count() == 1


def test_delete_all_asks_first_and_needs_a_post_with_the_csrf_token(movies):
    visitor = Browser()
    visitor.click(movies[0].pk)
    visitor.rate(movies[1].pk, 3)
    form = visitor.open("/activity/").content.decode().split('action="/activity/delete-all"', 1)[1].split("</form>")[0]
    # The page asks: a box to tick (required, so no script is needed), not a confirmation sent for the visitor.
    checkbox = r'<input type="checkbox" name="confirm" value="all" required[^>]*> Yes, delete all my activity'
    assert re.search(checkbox, form)
    assert 'type="hidden" name="confirm"' not in form
    for unticked in ({}, {"confirm": "yes"}):
        refused = delete(visitor, "/activity/delete-all", unticked)
        assert refused.status_code == 400
        assert "Nothing was deleted: tick &quot;Yes, delete all my activity&quot;" in refused.content.decode()
    assert visitor.client.post("/activity/delete-all", {"confirm": "all"}).status_code == 403  # no token
    assert visitor.client.get("/activity/delete-all").status_code == 405
    assert ClickEvent.objects.count() == 2
    assert delete(visitor, "/activity/delete-all", {"confirm": "all"}).status_code == 302
    assert ClickEvent.objects.count() == 0


def test_an_event_id_that_is_no_uuid_is_a_clear_400(movies):
    visitor = Browser()
    visitor.click(movies[0].pk)
    response = delete(visitor, "/activity/delete", {"event_id": "'; DROP TABLE"})
    assert response.status_code == 400 and b"event_id must be" in response.content
    assert ClickEvent.objects.count() == 1


def test_a_user_deletes_their_history_from_before_they_logged_in_too(movies, fast_password_hashing):
    visitor = Browser()
    visitor.click(movies[0].pk)
    session_key = visitor.visitor_key()
    user = User.objects.create_user("ann", password="pw-for-tests-1")
    VisitorLink.objects.create(session_visitor_key=session_key, user=user)
    visitor.client.force_login(user)
    visitor.click(movies[1].pk)
    Browser().click(movies[2].pk)  # someone else
    page = visitor.open("/activity/").content.decode()
    assert movies[0].title in page and movies[1].title in page
    assert delete(visitor, "/activity/delete-all", {"confirm": "all"}).status_code == 302
    assert list(ClickEvent.objects.values_list("movie_id", flat=True)) == [movies[2].pk]


def acknowledged(browser, movie_id):
    """An event the broker acknowledged and the consumer has not stored yet:
    the page shows it from the recent-events cache (events/recent.py)."""
    from events import recent
    from events.records import new_event

    event = new_event(browser.visitor_key(), "click", movie_id)
    recent.remember([event])
    return event


def test_a_deleted_event_not_stored_yet_does_not_come_back_from_the_cache(movies):
    visitor = Browser()
    visitor.open("/")
    doomed = acknowledged(visitor, movies[0].pk)
    acknowledged(visitor, movies[1].pk)
    assert movies[0].title in visitor.open("/activity/").content.decode()
    assert delete(visitor, "/activity/delete", {"event_id": doomed.event_id}).status_code == 302
    listed = visitor.open("/activity/").content.decode().split('data-list="activity"', 1)[1]
    assert movies[0].title not in listed and movies[1].title in listed
    assert delete(visitor, "/activity/delete-all", {"confirm": "all"}).status_code == 302
    assert b"data-empty-activity" in visitor.open("/activity/").content


def test_an_id_linked_to_an_account_neither_sees_nor_deletes_its_activity(movies, fast_password_hashing):
    visitor = Browser()
    visitor.click(movies[0].pk)
    stolen = visitor.sending_at_once()  # someone kept a copy of the cookie
    User.objects.create_user("cy", password="pw-for-tests-1")
    visitor.open("/accounts/login/")
    login = {"username": "cy", "password": "pw-for-tests-1", "csrfmiddlewaretoken": visitor.token}
    assert visitor.client.post("/accounts/login/", login).status_code == 302
    response = stolen.open("/activity/")
    assert response.status_code == 403 and b"log in to see your activity" in response.content
    assert movies[0].title.encode() not in response.content
    refused = stolen.client.post("/activity/delete-all", {"confirm": "all", "csrfmiddlewaretoken": stolen.token})
    assert refused.status_code == 403 and b"log in to delete your activity" in refused.content
    assert ClickEvent.objects.count() == 1


def not_interested(browser, movie_id):
    return browser.post_events([{"type": "not_interested", "movie_id": movie_id}])


def test_the_undo_is_listed_as_what_the_visitor_did(movies):
    visitor = Browser()
    assert not_interested(visitor, movies[0].pk).status_code == 202
    assert visitor.post_events([{"type": "unhidden", "movie_id": movies[0].pk}]).status_code == 202
    listed = visitor.open("/activity/").content.decode().split('data-list="activity"', 1)[1]
    assert listed.index("Took back \u201cnot interested\u201d in") < listed.index("Not interested in")


def test_the_undo_form_needs_the_csrf_token_and_goes_back_to_the_movie(movies):
    visitor = Browser()
    target = movies[0].pk
    assert not_interested(visitor, target).status_code == 202
    assert visitor.client.post("/activity/not-interested/undo", {"movie_id": str(target)}).status_code == 403
    assert ClickEvent.objects.filter(event_type="not_interested").count() == 1
    assert visitor.client.get("/activity/not-interested/undo").status_code == 405
    assert delete(visitor, "/activity/not-interested/undo", {"movie_id": "x"}).status_code == 400
    response = delete(visitor, "/activity/not-interested/undo", {"movie_id": str(target)})
    assert response.status_code == 302 and response["Location"] == f"/movie/{target}/"
    assert ClickEvent.objects.filter(event_type="unhidden", movie_id=target).count() == 1
    # A movie that is not in the catalog is refused with a sentence, and nothing is recorded.
    missing = delete(visitor, "/activity/not-interested/undo", {"movie_id": "999999999"})
    assert missing.status_code == 400 and "catalog" in missing.content.decode()
    assert ClickEvent.objects.filter(event_type="unhidden").count() == 1
