"""Property-based fuzzing (Hypothesis) of every endpoint and form: whatever
a client sends, the answer is never a 5xx, and a refused write stores nothing."""

import json

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import ClickEvent, OutboxEvent
from tests.services import Browser

FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# JSON the way an attacker writes it: deep, long numbers, odd types and keys.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["click", "view", "rating", "like", "not_interested", "rating_cleared", "impression"])
        | st.text(max_size=12),
        "movie_id": st.integers(min_value=-5, max_value=10**25) | json_values,
        "rating": st.floats(allow_nan=False) | json_values,
        "event_id": st.uuids().map(str) | st.text(max_size=40),
        "details": json_values,
    },
)
bodies = (
    st.lists(event_like, max_size=4).map(lambda events: json.dumps({"events": events}))
    | json_values.map(json.dumps)
    | st.sampled_from(["[" * 16000, '{"a":' * 2000, "9" * 5000, '{"events": [{"movie_id": ' + "9" * 5000 + "}]}"])
    | st.text(max_size=200)
    | st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
)
query_text = st.text(max_size=30) | st.sampled_from(["%C2%B2", "²", "٣", "9" * 5000, "-1", "0", "1e9"])


@pytest.fixture
def browser(catalog):
    browser = Browser()
    browser.open("/")
    return browser


@FUZZ
@given(body=bodies)
def test_the_event_endpoint_never_fails_and_stores_nothing_it_refuses(browser, body):
    before = ClickEvent.objects.count() + OutboxEvent.objects.count()
    response = browser.post_events(body)
    assert response.status_code < 500, body[:200]
    if response.status_code != 202:
        assert ClickEvent.objects.count() + OutboxEvent.objects.count() == before


@FUZZ
@given(model=query_text, k=query_text, q=query_text, page=query_text)
def test_get_endpoints_never_fail(browser, model, k, q, page):
    client = browser.client
    for path, params in [
        ("/api/recommendations", {"model": model, "k": k}),
        ("/search/", {"q": q, "page": page}),
        ("/api/search", {"q": q}),
        ("/genres/", {"sort": q, "page": page}),
        ("/", {"page": page}),
        ("/for-you/", {"page": page}),
    ]:
        response = client.get(path, params)
        assert response.status_code < 500, (path, params)


@FUZZ
@given(username=st.text(max_size=200), password=st.text(max_size=200), other=st.text(max_size=200))
def test_forms_never_fail_and_a_refused_sign_up_stores_nothing(browser, username, password, other):
    client, token = browser.client, browser.token
    users = User.objects.count()
    response = client.post(
        "/accounts/signup/",
        {"username": username, "password1": password, "password2": other, "csrfmiddlewaretoken": token},
    )
    assert response.status_code < 500
    if response.status_code != 302:
        assert User.objects.count() == users
    response = client.post(
        "/accounts/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token}
    )
    assert response.status_code < 500
