"""POST /api/events without a broker (inline): validation, CSRF, rate limit,
visitor keys, login, and the rating widget."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.utils import timezone

from events.history import RATINGS_LIMIT, visitor_history, visitor_rating, visitor_ratings
from events.models import ClickEvent, OutboxEvent, VisitorLink
from events.records import new_event
from events.stores import get_store
from movie.models import Movie
from tests.services import Browser


@pytest.fixture
def browser(catalog):
    return Browser()


@pytest.fixture
def movie(catalog):
    return Movie.objects.filter(dataset=catalog).order_by("pk").first()


def test_accepted_events_get_ids_and_reach_the_history(browser, movie):
    response = browser.post_events(
        [
            {"type": "click", "movie_id": movie.pk},
            {"type": "view", "movie_id": movie.pk},
            {"type": "rating", "movie_id": movie.pk, "rating": 3.5},
        ]
    )
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 3 and len(set(body["ids"])) == 3
    history = visitor_history(browser.visitor_key())
    assert [e.event_type for e in history] == ["rating", "view", "click"]
    assert {e.event_id for e in history} == set(body["ids"])
    assert history[0].movie_id == movie.pk and history[0].rating == 3.5 and history[1].rating is None


def test_events_in_the_same_second_are_all_kept(browser, movie):
    for _ in range(20):
        assert browser.click(movie.pk).status_code == 202
    assert ClickEvent.objects.filter(visitor_key=browser.visitor_key()).count() == 20


def test_a_single_event_object_is_accepted(browser, movie):
    response = browser.post_events(json.dumps({"type": "view", "movie_id": movie.pk}))
    assert response.status_code == 202


BAD_BODIES = [
    ("not json", "body must be JSON"),
    (json.dumps([]), "non-empty list"),
    (json.dumps({"events": []}), "non-empty list"),
    (json.dumps({"events": "click"}), "non-empty list"),
    (json.dumps({"events": [42]}), "must be a JSON object"),
    (json.dumps({"events": [{"type": "purchase", "movie_id": 1}]}), "type must be one of"),
    (json.dumps({"events": [{"type": "click", "movie_id": "1"}]}), "movie_id must be a positive whole number"),
    (json.dumps({"events": [{"type": "click", "movie_id": True}]}), "movie_id must be a positive whole number"),
    (json.dumps({"events": [{"type": "click", "movie_id": 1.5}]}), "movie_id must be a positive whole number"),
    (json.dumps({"events": [{"type": "click", "movie_id": 10**30}]}), "movie_id must be a positive whole number"),
    (json.dumps({"events": [{"type": "click", "movie_id": 999999}]}), "unknown movie_id: 999999"),
    (json.dumps({"events": [{"type": "click", "movie_id": 1, "title": "<script>"}]}), "unknown field(s) title"),
    (json.dumps({"events": [{"type": "click", "movie_id": 1, "rating": 4}]}), "carries no rating"),
]
BAD_RATINGS = [None, "4", True, 0, 0.25, 5.5, 3.3, -1, 10]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_bodies_get_a_400_with_the_reason_and_store_nothing(browser, movie, body, message):
    body = body.replace('"movie_id": 1,', f'"movie_id": {movie.pk},').replace(
        '"movie_id": 1}', f'"movie_id": {movie.pk}}}'
    )
    response = browser.post_events(body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert ClickEvent.objects.count() == 0 and OutboxEvent.objects.count() == 0


def test_a_form_posted_as_multipart_is_a_400_not_an_error(browser, movie):
    browser.open()
    response = browser.client.post(
        "/api/events", {"type": "click", "movie_id": movie.pk}, HTTP_X_CSRFTOKEN=browser.token
    )
    assert response.status_code == 400
    assert response.json() == {"error": "body must be JSON, sent as application/json, not a form."}
    assert ClickEvent.objects.count() == 0 and OutboxEvent.objects.count() == 0


@pytest.mark.parametrize("rating", BAD_RATINGS)
def test_out_of_range_or_wrongly_typed_ratings_are_refused(browser, movie, rating):
    response = browser.rate(movie.pk, rating)
    assert response.status_code == 400
    assert "rating must be" in response.json()["error"]
    assert ClickEvent.objects.count() == 0


@pytest.mark.parametrize("rating", [0.5, 1, 2.5, 5])
def test_half_star_ratings_are_accepted(browser, movie, rating):
    assert browser.rate(movie.pk, rating).status_code == 202


def test_a_movie_of_another_dataset_is_unknown(browser, settings, movie):
    settings.MOVIELENS_DATASET = "some-other-dataset"
    assert browser.click(movie.pk).status_code == 400


def test_one_bad_event_refuses_the_whole_batch(browser, movie):
    response = browser.post_events([{"type": "click", "movie_id": movie.pk}, {"type": "click", "movie_id": -3}])
    assert response.status_code == 400 and "event 1:" in response.json()["error"]
    assert ClickEvent.objects.count() == 0


def test_oversized_body_and_batch_are_refused(browser, settings, movie):
    settings.EVENTS_MAX_BATCH = 5
    response = browser.post_events([{"type": "click", "movie_id": movie.pk}] * 6)
    assert response.status_code == 400 and "at most 5 events" in response.json()["error"]
    settings.EVENTS_MAX_BODY_BYTES = 200
    response = browser.post_events(json.dumps({"type": "click", "movie_id": movie.pk, "pad": "x" * 300}))
    assert response.status_code == 413 and "larger than 200 bytes" in response.json()["error"]
    assert ClickEvent.objects.count() == 0


def test_missing_or_wrong_csrf_token_is_a_403_in_json(browser, movie):
    response = browser.post_events([{"type": "click", "movie_id": movie.pk}], token=False)
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    browser.token = "x" * 64
    assert browser.click(movie.pk).status_code == 403
    assert ClickEvent.objects.count() == 0


def test_only_post_is_allowed(browser):
    response = browser.client.get("/api/events")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {"error": "GET is not accepted at this address; use POST."}


def test_unknown_api_address_answers_json(browser):
    response = browser.client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.json() == {"error": "There is nothing at this address."}


def test_rate_limit_per_visitor(browser, settings, movie, catalog):
    settings.EVENTS_RATE_LIMIT = 5
    assert browser.post_events([{"type": "click", "movie_id": movie.pk}] * 5).status_code == 202
    response = browser.click(movie.pk)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "Too many events" in response.json()["error"]
    assert ClickEvent.objects.count() == 5
    # Another visitor has a budget of their own.
    assert Browser().click(movie.pk).status_code == 202


def test_anonymous_visitor_gets_a_session_key(browser, movie):
    browser.click(movie.pk)
    key = browser.visitor_key()
    assert key.startswith("session:") and len(key) > len("session:") + 20
    assert ClickEvent.objects.get().visitor_key == key


def test_a_page_gives_a_new_visitor_an_id_cookie_and_no_session(browser, settings, movie):
    browser.open(movie.get_absolute_url())
    cookie = browser.client.cookies[settings.EVENTS_VISITOR_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert "sessionid" not in browser.client.cookies and Session.objects.count() == 0
    key = browser.visitor_key()
    assert key.startswith("session:")
    browser.open("/")
    assert browser.visitor_key() == key  # kept, not issued again
    settings.SESSION_COOKIE_SECURE = True
    assert Browser().open("/").cookies[settings.EVENTS_VISITOR_COOKIE_NAME]["secure"]


def test_events_a_new_visitor_sends_at_once_share_one_visitor_key(browser, movie):
    """The poster click (keepalive, as the page navigates), the detail page's
    view and a rating leave before any of their answers arrive."""
    browser.open("/")
    in_flight = [browser.sending_at_once() for _ in range(3)]
    assert in_flight[0].click(movie.pk).status_code == 202
    assert in_flight[1].post_events([{"type": "view", "movie_id": movie.pk}]).status_code == 202
    assert in_flight[2].rate(movie.pk, 4.5).status_code == 202
    key = browser.visitor_key()
    assert set(ClickEvent.objects.values_list("visitor_key", flat=True)) == {key}
    assert [e.event_type for e in visitor_history(key)] == ["rating", "view", "click"]
    assert Session.objects.count() == 0


def test_a_forged_visitor_cookie_is_refused_until_a_page_gives_a_real_one(browser, settings, movie):
    browser.open("/")
    browser.client.cookies[settings.EVENTS_VISITOR_COOKIE_NAME] = "someone-else:forged"
    assert browser.visitor_key() is None
    response = browser.click(movie.pk)
    assert response.status_code == 403 and "visitor cookie" in response.json()["error"]
    assert ClickEvent.objects.count() == 0
    browser.open("/")  # the page issues a fresh, signed id
    assert browser.click(movie.pk).status_code == 202
    assert ClickEvent.objects.get().visitor_key == browser.visitor_key()


def test_events_without_the_visitor_cookie_are_refused_so_each_post_is_not_a_new_visitor(browser, settings, movie):
    settings.EVENTS_RATE_LIMIT = 5
    browser.open("/")
    del browser.client.cookies[settings.EVENTS_VISITOR_COOKIE_NAME]
    for _ in range(3):
        response = browser.click(movie.pk)
        assert response.status_code == 403 and "load a page of the site" in response.json()["error"]
        assert settings.EVENTS_VISITOR_COOKIE_NAME not in response.cookies
    assert ClickEvent.objects.count() == 0


def test_one_client_address_is_limited_whatever_its_cookies(settings, catalog, movie):
    settings.EVENTS_RATE_LIMIT, settings.EVENTS_RATE_LIMIT_PER_ADDRESS = 100, 6
    statuses = []
    for _ in range(4):  # a fresh visitor each time, from one address
        fresh = Browser()
        statuses += [fresh.click(movie.pk).status_code for _ in range(2)]
    assert statuses.count(202) == 6 and statuses[6:] == [429, 429]
    assert ClickEvent.objects.count() == 6


def test_an_id_linked_to_an_account_sends_no_more_events(browser, movie):
    browser.click(movie.pk)
    stolen = browser.sending_at_once()  # someone kept a copy of the cookie
    User.objects.create_user("fay", password="pw-for-tests-1")
    log_in(browser, "fay")
    response = stolen.click(movie.pk)
    assert response.status_code == 403 and "belongs to an account" in response.json()["error"]
    assert ClickEvent.objects.count() == 1


def test_logged_in_visitor_key_is_the_user(browser, movie):
    user = User.objects.create_user("ann", password="pw-for-tests-1")
    browser.client.force_login(user)
    browser.click(movie.pk)
    assert ClickEvent.objects.get().visitor_key == f"user:{user.pk}"


def test_an_anonymous_click_answers_without_reading_the_session(browser, movie):
    # The user and session of a request without a session cookie are not loaded
    # (events.visitors.event_post_visitor_key): no Vary: Cookie, the visitor's key as before.
    browser.open("/")
    response = browser.click(movie.pk)
    assert response.status_code == 202 and "Vary" not in response
    key = ClickEvent.objects.get().visitor_key
    assert key.startswith("session:") and key == browser.visitor_key()


def test_an_anonymous_visitor_with_a_session_still_sends_as_the_visitor(browser, movie):
    # A session cookie without a login (a failed login's messages, say): the user is loaded, anonymous.
    browser.open("/")
    session = Session.objects.create(session_key="s" * 32, session_data="", expire_date=timezone.now() + timedelta(1))
    browser.client.cookies["sessionid"] = session.session_key
    assert browser.click(movie.pk).status_code == 202
    assert ClickEvent.objects.get().visitor_key == browser.visitor_key()


def log_in(browser, username):
    """Through the login form, as a person does (the request carries the visitor's cookies)."""
    browser.open("/accounts/login/")
    response = browser.client.post(
        "/accounts/login/", {"username": username, "password": "pw-for-tests-1", "csrfmiddlewaretoken": browser.token}
    )
    assert response.status_code == 302, response.content[:500]


def test_login_attaches_the_session_history_to_the_user(browser, settings, movie):
    browser.click(movie.pk)
    browser.rate(movie.pk, 4.5)
    session_key = browser.visitor_key()
    user = User.objects.create_user("bob", password="pw-for-tests-1")
    log_in(browser, "bob")
    assert VisitorLink.objects.get(user=user).session_visitor_key == session_key
    assert browser.visitor_key() is None  # the anonymous id is retired with the login
    browser.open("/")
    browser.click(movie.pk)
    history = visitor_history(f"user:{user.pk}")
    assert len(history) == 3
    assert visitor_ratings(f"user:{user.pk}") == {movie.pk: 4.5}
    # Another user logging in on another browser does not see it.
    other = User.objects.create_user("eve", password="pw-for-tests-1")
    assert visitor_history(f"user:{other.pk}") == []


def test_after_logout_the_next_visitor_of_the_browser_starts_afresh(browser, movie):
    user = User.objects.create_user("dan", password="pw-for-tests-1")
    browser.open("/")
    log_in(browser, "dan")
    browser.open("/")
    response = browser.client.post("/accounts/logout/", {"csrfmiddlewaretoken": browser.token})
    assert response.status_code == 302
    browser.open("/")
    browser.click(movie.pk)
    assert browser.visitor_key() and ClickEvent.objects.get().visitor_key == browser.visitor_key()
    assert visitor_history(f"user:{user.pk}") == []


def test_rating_widget_shows_and_follows_the_current_rating(browser, movie):
    page = browser.open(movie.get_absolute_url())
    assert b"data-rating-widget" in page.content and b"Not rated yet" in page.content
    browser.rate(movie.pk, 2)
    browser.rate(movie.pk, 3.5)
    page = browser.open(movie.get_absolute_url())
    assert b'data-current="3.5"' in page.content and b"3.5 / 5" in page.content
    assert page.content.count(b'class="rating-star full"') == 3
    assert page.content.count(b'class="rating-star half"') == 1
    assert visitor_rating(browser.visitor_key(), movie.pk) == 3.5


def test_the_rating_widget_finds_a_rating_behind_thousands_of_newer_ones(browser, movie):
    browser.rate(movie.pk, 4.5)
    key, later = browser.visitor_key(), timezone.now()
    get_store().write(
        [new_event(key, "rating", 10**6 + n, 3.0, now=later + timedelta(seconds=n)) for n in range(RATINGS_LIMIT + 100)]
    )
    page = browser.open(movie.get_absolute_url())
    assert b'data-current="4.5"' in page.content


def test_pages_load_the_event_script_with_the_endpoint(browser, movie):
    page = browser.open("/")
    assert b'src="/static/js/events.js" data-endpoint="/api/events"' in page.content


def test_store_outage_in_inline_mode_keeps_events_in_the_outbox(browser, settings, movie, monkeypatch):
    from events.stores import StoreUnavailable
    from events.stores.sql import SqlClickLogStore

    def unavailable(self, events):
        raise StoreUnavailable("down for the test")

    monkeypatch.setattr(SqlClickLogStore, "write", unavailable)
    response = browser.click(movie.pk)
    assert response.status_code == 202
    assert OutboxEvent.objects.count() == 1
    assert [e.event_type for e in visitor_history(browser.visitor_key())] == ["click"]
    monkeypatch.undo()
    from django.core.management import call_command

    call_command("drain_outbox", "--all", stdout=open("/dev/null", "w"))
    assert OutboxEvent.objects.count() == 0 and ClickEvent.objects.count() == 1


def test_no_route_is_csrf_exempt():
    """Every URL, the event endpoint included, goes through the CSRF check."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def callbacks(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from callbacks(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                yield pattern.callback

    views = list(callbacks(get_resolver().url_patterns))
    assert any(view.__name__ == "post_events" for view in views)
    assert [view for view in views if getattr(view, "csrf_exempt", False)] == []


def test_the_visitor_id_expires_on_the_server_too(browser, settings, movie):
    browser.open("/")
    assert browser.click(movie.pk).status_code == 202
    settings.EVENTS_VISITOR_COOKIE_AGE_SECONDS = -1  # as if the browser kept it past its age
    assert browser.visitor_key() is None
    assert browser.click(movie.pk).status_code == 403


def test_a_checked_visitor_id_is_refused_once_the_secret_key_changes(browser, settings, movie):
    browser.open("/")
    assert browser.click(movie.pk).status_code == 202  # its signature checked, and the answer kept
    settings.SECRET_KEY = "another-" + settings.SECRET_KEY
    assert browser.click(movie.pk).status_code == 403
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY.removeprefix("another-")]
    assert browser.click(movie.pk).status_code == 202  # the old key, as a fallback, still verifies it


def test_an_id_signed_the_old_way_is_kept_and_re_signed_with_a_time(browser, settings, movie):
    from django.core import signing

    from events.visitors import COOKIE_SALT

    browser.open("/")
    browser.client.cookies[settings.EVENTS_VISITOR_COOKIE_NAME] = signing.Signer(salt=COOKIE_SALT).sign("old-id")
    response = browser.click(movie.pk)
    assert response.status_code == 202 and ClickEvent.objects.get().visitor_key == "session:old-id"
    assert browser.visitor_key() == "session:old-id"  # the answer re-signed it with its time
    assert browser.client.cookies[settings.EVENTS_VISITOR_COOKIE_NAME].value.count(":") == 2


def signed_days_ago(visitor_id, days):
    import time

    from django.core import signing

    from events.visitors import COOKIE_SALT

    class SignedThen(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time() - days * 24 * 3600))

    return SignedThen(salt=COOKIE_SALT).sign(visitor_id)


def test_an_active_visitors_id_is_re_signed_past_half_its_age_and_kept(browser, settings, movie):
    name = settings.EVENTS_VISITOR_COOKIE_NAME
    settings.EVENTS_VISITOR_COOKIE_AGE_SECONDS = 90 * 24 * 3600
    browser.client.cookies[name] = signed_days_ago("steady-id", 10)
    assert name not in browser.open("/").cookies  # young enough: left alone
    browser.client.cookies[name] = aged = signed_days_ago("steady-id", 50)
    assert name in browser.open("/").cookies
    assert browser.visitor_key() == "session:steady-id" and browser.client.cookies[name].value != aged
    browser.client.cookies[name] = signed_days_ago("steady-id", 50)
    assert browser.click(movie.pk).status_code == 202  # an event POST renews it too
    assert browser.visitor_key() == "session:steady-id"
    assert ClickEvent.objects.get().visitor_key == "session:steady-id"
