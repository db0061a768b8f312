"""Experiments end to end without a browser: the registry rules, the
provider's lists, and the dashboard's numbers from events stored through
the real endpoint (SQL store and DynamoDB on moto)."""

import html
import json
import re
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from experiments.interleaving import in_traffic
from experiments.models import Experiment, ExperimentRuleError, Participant
from experiments.provider import signed
from experiments.results import Results, results
from experiments.stats import sign_test_interval
from predictors.models import ModelVersion
from predictors.surfaces import TOP_PICKS
from predictors.tests.test_recommendation_pages import train_version
from tests.dashboard_helpers import admin_client_, admin_user, logged_in, make_version, staff_user, store
from tests.services import Browser, dynamodb_server, dynamodb_store

DETAILS = re.compile(r'data-impression-details="([^"]+)"')


@pytest.fixture
def trained(catalog, store):
    return {name: train_version(name) for name in ("ease", "gmf")}


def liked(n):
    from movie.models import Movie

    return list(Movie.objects.filter(dataset__name="test-catalog").order_by("pk").values_list("pk", flat=True)[:n])


def running(arm_a_model="ease", arm_b_model="gmf", **fields):
    experiment = Experiment.objects.create(
        name="EASE vs GMF", arm_a_model=arm_a_model, arm_b_model=arm_b_model, **fields
    )
    experiment.start()
    return experiment


def visitor_with_history(movie_ids):
    browser = Browser()
    browser.open("/")
    for movie_id in movie_ids:
        assert browser.click(movie_id).status_code == 202
    return browser


def shown_details(browser, path="/for-you/"):
    found = DETAILS.search(browser.open(path).content.decode())
    return None if found is None else json.loads(html.unescape(found.group(1)))


def send_impression(browser, details):
    impression_id = str(uuid.uuid4())
    response = browser.post_events([{"type": "impression", "event_id": impression_id, "details": details}])
    assert response.status_code == 202, response.content
    return impression_id


def click_card(browser, movie_id, impression_id):
    response = browser.post_events([{"type": "click", "movie_id": movie_id, "details": {"impression": impression_id}}])
    assert response.status_code == 202, response.content


# --- one running experiment per surface ---


def test_a_second_experiment_cannot_start_on_the_same_surface(db):
    first = running()
    second = Experiment.objects.create(name="again", arm_a_model="gmf", arm_b_model="ngcf")
    with pytest.raises(ExperimentRuleError, match="already running"):
        second.start()
    second.refresh_from_db()
    assert second.status == Experiment.Status.DRAFT
    # The database refuses it too, whatever code path tries.
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.filter(pk=second.pk).update(status="running", running_flag=True)
    first.stop()
    second.start()
    assert Experiment.objects.running(TOP_PICKS) == second


def post_experiment_form(client, **fields):
    form = {"name": "EASE vs GMF", "surface": TOP_PICKS, "method": "team_draft", "traffic_percent": 100, **fields}
    return client.post(reverse("admin:experiments_experiment_add"), form)


def test_the_admin_form_refuses_a_second_running_experiment(admin_client_):
    running()
    response = post_experiment_form(admin_client_, name="another", arm_a_model="gmf", arm_b_model="ease")
    assert response.status_code == 200
    assert "already running on this surface" in response.content.decode()
    assert Experiment.objects.count() == 1


@pytest.mark.parametrize("arm_a", ["both", "neither"])
def test_the_admin_form_says_in_a_sentence_that_an_arm_is_a_model_or_a_version(admin_client_, store, arm_a):
    version = make_version(store, model_name="ease")
    fields = {"arm_a_model": "ease", "arm_a_version": version.pk} if arm_a == "both" else {}
    response = post_experiment_form(admin_client_, **fields, arm_b_model="gmf")
    page = response.content.decode()
    assert response.status_code == 200 and not Experiment.objects.exists()
    sentence = "Each side of the experiment names either a model or a version of a model, not both and not neither."
    assert page.count(sentence) == 1 and "each_arm_one_model_or_version" not in page


def test_the_registry_dashboard_links_to_the_experiments_for_staff_who_may_see_them(admin_client_):
    changelist = reverse("admin:experiments_experiment_changelist")
    dashboard = admin_client_.get("/admin/dashboard/").content.decode()
    tools = re.search(r'<ul class="object-tools">(.*?)</ul>', dashboard, re.S).group(1)  # beside "All versions"
    assert f'<a href="{changelist}">Experiments</a>' in tools
    assert admin_client_.get(changelist).status_code == 200
    registry_only = logged_in(staff_user("viewer", "view_modelversion"))
    assert changelist not in registry_only.get("/admin/dashboard/").content.decode()


def test_staff_start_an_experiment_from_the_admin_form(admin_client_):
    response = post_experiment_form(admin_client_, arm_a_model="ease", arm_b_model="gmf", traffic_percent=50)
    experiment = Experiment.objects.get()
    assert response.url == reverse("admin:experiments_experiment_dashboard", args=[experiment.pk])
    assert experiment.status == Experiment.Status.RUNNING and experiment.traffic_share == 0.5


def test_an_arm_is_a_model_or_a_version_and_the_arms_differ(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.create(name="no arm", arm_a_model="", arm_b_model="gmf")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="the same"):
        Experiment(name="same", arm_a_model="gmf", arm_b_model="gmf").clean()


# --- the provider's lists ---


def test_a_visitor_in_the_experiment_sees_a_signed_interleaved_list_again_on_reload(trained, catalog):
    experiment = running()
    browser = visitor_with_history(liked(3))
    details = shown_details(browser)
    assert details["experiment"] == experiment.pk and details["surface"] == TOP_PICKS
    assert len(details["shown"]) == len(details["credits"]) > 0
    assert abs(details["credits"].count("a") - details["credits"].count("b")) <= 1
    again = shown_details(browser)  # same visitor, same day, same history: same list, on a page of its own
    assert {**again, "nonce": None, "sig": None} == {**details, "nonce": None, "sig": None}
    assert again["nonce"] != details["nonce"] and signed(again, browser.visitor_key())
    assert signed(details, browser.visitor_key())
    assert not signed({**details, "credits": ["a"] * len(details["credits"])}, browser.visitor_key())
    assert not signed(details, "session:someone-else")
    assert not signed({**details, "nonce": again["nonce"]}, browser.visitor_key())
    assert Participant.objects.filter(experiment=experiment, visitor_key=browser.visitor_key()).count() == 1


def test_visitors_without_history_or_outside_the_share_are_not_in_it(trained, catalog):
    experiment = running(traffic_percent=1)
    assert shown_details(Browser()) is None
    for _ in range(3):
        browser = visitor_with_history(liked(1))
        taking_part = in_traffic(experiment.pk, browser.visitor_key(), 0.01)
        assert (shown_details(browser) is not None) == taking_part


# --- results from the stored events, and the decision ---


def visit_and_click(catalog, clicks_on):
    """A new visitor loads For you, sends the impression, clicks the first card credited to ``clicks_on``."""
    browser = visitor_with_history(liked(3))
    details = shown_details(browser)
    impression_id = send_impression(browser, details)
    if clicks_on:
        movie_id = next(m for m, side in zip(details["shown"], details["credits"], strict=True) if side == clicks_on)
        click_card(browser, movie_id, impression_id)
    return details


def check_counts_from_stored_events(catalog, monkeypatch):
    monkeypatch.setattr("experiments.results.MIN_VISITORS", 4)  # each visitor here is a few requests
    experiment = running()
    for side in ["a"] * 6 + ["b"] + [None]:
        visit_and_click(catalog, side)
    summary = results(experiment)
    assert summary.impressions == 8 and summary.visitors == 8
    assert summary.wins == {"a": 6, "b": 1} and summary.ties == 1
    assert summary.clicks == {"a": 6, "b": 1}
    assert summary.preference == pytest.approx(5 / 7)
    low, high = summary.interval
    assert low <= summary.preference <= high
    assert summary.sign_test == pytest.approx(sign_test_interval(6, 1))
    assert summary.click_through("a") == pytest.approx(6 / 8)


def test_the_dashboard_counts_come_from_the_sql_store(trained, catalog, monkeypatch):
    check_counts_from_stored_events(catalog, monkeypatch)


def test_the_dashboard_counts_come_from_the_dynamodb_store(trained, catalog, dynamodb_store, monkeypatch):
    check_counts_from_stored_events(catalog, monkeypatch)


def test_a_forged_impression_is_not_counted(trained, catalog):
    experiment = running()
    browser = visitor_with_history(liked(1))
    details = shown_details(browser)
    forged = {**details, "credits": ["b"] * len(details["credits"])}
    click_card(browser, forged["shown"][0], send_impression(browser, forged))
    assert results(experiment).impressions == 0


def test_one_pages_impression_re_posted_under_fresh_ids_counts_once(trained, catalog):
    experiment = running()
    browser = visitor_with_history(liked(3))
    details = shown_details(browser)
    on_a = next(m for m, side in zip(details["shown"], details["credits"], strict=True) if side == "a")
    for _ in range(5):
        click_card(browser, on_a, send_impression(browser, details))
    summary = results(experiment)
    assert summary.impressions == 1 and summary.wins == {"a": 1, "b": 0} and summary.clicks == {"a": 1, "b": 0}


def test_a_session_and_the_user_it_was_linked_to_share_one_impression_and_its_clicks(db, store):
    from django.contrib.auth.models import User

    from events.models import VisitorLink
    from events.records import new_event
    from events.stores import get_store
    from experiments.provider import signature

    experiment = Experiment.objects.create(name="EASE vs GMF", arm_a_model="ease", arm_b_model="gmf")
    user = User.objects.create_user("linked")
    session_key, user_key = "session:before-login", f"user:{user.pk}"
    VisitorLink.objects.create(session_visitor_key=session_key, user=user)
    details = {"experiment": experiment.pk, "surface": TOP_PICKS, "shown": [1, 2, 3], "credits": ["a", "b", "a"]}
    details["nonce"] = "page-1"
    details["sig"] = signature(details, session_key)
    shown = new_event(session_key, "impression", None, details=details)
    before = new_event(session_key, "click", 2, details={"impression": shown.event_id})
    after = [new_event(user_key, "click", m, details={"impression": shown.event_id}) for m in (1, 3)]
    get_store().write([shown, before, *after])
    for key in (user_key, session_key):
        Participant.objects.create(experiment=experiment, visitor_key=key)
    summary = results(experiment)  # (test_attribution checks the merge with the reads in either order)
    assert summary.impressions == 1 and summary.clicks == {"a": 2, "b": 1} and summary.wins == {"a": 1, "b": 0}


def decided(winner):
    summary = Results()
    summary.preference, summary.interval = (0.6, (0.2, 0.9)) if winner == "a" else (0.1, (-0.2, 0.4))
    return summary


def test_stop_and_activate_goes_through_the_quality_gate(admin_client_, store, monkeypatch):
    served = make_version(store, "gmf", activate=True)
    weak = make_version(
        store, "gmf", metrics={"full": {"ndcg@10": 0.1}}, baselines={"popularity": {"full": {"ndcg@10": 0.2}}}
    )
    experiment = Experiment.objects.create(name="gmf versions", arm_a_version=weak, arm_b_version=served)
    experiment.start()
    url = reverse("admin:experiments_experiment_stop_and_activate", args=[experiment.pk])

    monkeypatch.setattr("experiments.admin.results", lambda experiment: decided("a"))
    response = admin_client_.post(url)
    assert response.status_code == 200 and "scores lower" in response.content.decode()
    weak.refresh_from_db()
    experiment.refresh_from_db()
    assert weak.status == ModelVersion.Status.CANDIDATE and experiment.status == Experiment.Status.RUNNING

    response = admin_client_.post(url, {"confirmed": "yes"})
    assert response.status_code == 302
    weak.refresh_from_db()
    served.refresh_from_db()
    experiment.refresh_from_db()
    assert weak.status == ModelVersion.Status.ACTIVE and served.status == ModelVersion.Status.RETIRED
    assert experiment.status == Experiment.Status.STOPPED and experiment.winner == "a"


def test_without_a_winner_nothing_is_activated_or_stopped(admin_client_, store, monkeypatch):
    candidate = make_version(store, "gmf")
    experiment = Experiment.objects.create(name="undecided", arm_a_version=candidate, arm_b_model="ease")
    experiment.start()
    monkeypatch.setattr("experiments.admin.results", lambda experiment: decided(None))
    response = admin_client_.post(
        reverse("admin:experiments_experiment_stop_and_activate", args=[experiment.pk]), follow=True
    )
    page = response.content.decode()
    assert "no winner yet" in page
    assert 'disabled aria-describedby="no-winner-reason"' in page  # the button says why it is off
    assert "No winner to activate yet: the 95% interval still includes zero." in page
    candidate.refresh_from_db()
    experiment.refresh_from_db()
    assert candidate.status == ModelVersion.Status.CANDIDATE and experiment.status == Experiment.Status.RUNNING


def test_a_damaged_artifact_is_refused_and_the_experiment_keeps_running(admin_client_, store, monkeypatch):
    candidate = make_version(store, "gmf")
    ModelVersion.objects.filter(pk=candidate.pk).update(artifact_sha256="0" * 64)
    experiment = Experiment.objects.create(name="damaged", arm_a_version=candidate, arm_b_model="ease")
    experiment.start()
    monkeypatch.setattr("experiments.admin.results", lambda experiment: decided("a"))
    response = admin_client_.post(
        reverse("admin:experiments_experiment_stop_and_activate", args=[experiment.pk]), follow=True
    )
    assert "Refused to activate" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING


def test_one_decided_impression_names_no_winner_though_the_bootstrap_is_a_point():
    # Ten visitors, one click: every bootstrap resample gives preference 1.
    summary = Results(visitors=10, wins={"a": 1, "b": 0})
    summary.preference, summary.interval = 1.0, (1.0, 1.0)
    summary.sign_test = sign_test_interval(1, 0)
    assert summary.winner is None
    summary.wins = {"a": 30, "b": 5}
    summary.sign_test = sign_test_interval(30, 5)
    assert summary.winner == "a"
