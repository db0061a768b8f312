"""Sign-up and login: a reader becomes a user and comes back to the page they were on."""

import pytest
from django.contrib.auth import get_user_model

from tests.accounts import PASSWORD

NCF = "/paper_review/neural-collaborative-filtering/"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing", "empty_cache")]


def test_signup_with_mismatched_passwords_is_refused(client):
    response = client.post("/accounts/signup/", {"username": "dave", "password1": PASSWORD, "password2": "other"})
    assert response.status_code == 400
    assert "The two password fields didn" in response.content.decode()
    assert not get_user_model().objects.filter(username="dave").exists()


def test_signup_ignores_an_off_site_next(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "erin", "password1": PASSWORD, "password2": PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.parametrize("next_url", ["home", "0", "javascript:alert(1)"])
def test_a_next_that_is_no_path_leads_home_after_sign_up(client, next_url):
    form = {"username": "erin", "password1": PASSWORD, "password2": PASSWORD, "next": next_url}
    response = client.post("/accounts/signup/", form)  # "home" and "0" were reversed as URL names: a 500
    assert response.status_code == 302 and response["Location"] == "/"
    assert get_user_model().objects.filter(username="erin").exists()
    response = client.get("/accounts/signup/", {"next": next_url})  # signed up already: on to next
    assert response.status_code == 302 and response["Location"] == "/"


def test_login_page_links_to_signup_and_logs_in(alice, client):
    page = client.get(f"/accounts/login/?next={NCF}").content.decode()
    assert f'href="/accounts/signup/?next={NCF}"' in page
    assert f'name="next" value="{NCF}"' in page
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": NCF})
    assert response.status_code == 302 and response["Location"] == NCF
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_login_with_a_wrong_password_shows_an_error(alice, client):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()


def test_a_weak_password_is_explained_under_the_password_field(client):
    response = client.post("/accounts/signup/", {"username": "dave", "password1": "12345678", "password2": "12345678"})
    assert response.status_code == 400
    form = response.context["form"]
    assert "This password is entirely numeric." in form.errors["password1"]
    assert "password2" not in form.errors
    assert not get_user_model().objects.filter(username="dave").exists()


def test_the_header_sign_up_link_comes_back_to_the_same_search(client):
    page = client.get("/search/", {"q": "star wars", "page": "1"}).content.decode()
    assert 'href="/accounts/signup/?next=/search/%3Fq%3Dstar%2Bwars%26page%3D1"' in page
    other = client.get("/search/", {"q": "alien"}).content.decode()  # the cached header is per query
    assert 'href="/accounts/login/?next=/search/%3Fq%3Dalien"' in other
