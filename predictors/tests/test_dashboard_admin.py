"""The model versions in the admin: actions, read-only versions, the detail
page, and who may reach any of it."""

import re

import pytest
from django.contrib.auth.models import User

from predictors.models import ModelVersion, TrainingRun
from tests.dashboard_helpers import admin_client_, admin_user, logged_in, make_version, staff_user, store  # noqa: F401

CHANGELIST = "/admin/predictors/modelversion/"
TRAIN_FORM = "/admin/predictors/trainingrun/add/"
DASHBOARD = "/admin/dashboard/"


def run_action(client, action, *versions):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [v.pk for v in versions]}, follow=True)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def reload(*versions):
    return [ModelVersion.objects.get(pk=v.pk) for v in versions]


def test_activate_switches_the_served_version(admin_client_, store):
    old = make_version(store, activate=True)
    new = make_version(store)
    response = run_action(admin_client_, "activate_selected", new)
    old, new = reload(old, new)
    assert (old.status, new.status) == ("retired", "active")
    assert ModelVersion.objects.active("gmf") == new
    assert any("Activated gmf:2" in m for m in messages_of(response))


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_activation_of_a_bad_artifact_is_refused_with_a_message(admin_client_, store, damage):
    served = make_version(store, activate=True)
    broken = make_version(store)
    path = store.root / "gmf" / f"{broken.artifact_sha256}.pt"
    if damage == "corrupt":
        path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    else:
        path.unlink()
    response = run_action(admin_client_, "activate_selected", broken)
    served, broken = reload(served, broken)
    assert (served.status, broken.status) == ("active", "candidate")
    [message] = messages_of(response)
    assert message.startswith("Refused to activate gmf:2")
    assert ("corrupted" if damage == "corrupt" else "does not exist") in message


def test_two_versions_of_one_model_cannot_be_activated_together(admin_client_, store):
    first, second = make_version(store), make_version(store)
    response = run_action(admin_client_, "activate_selected", first, second)
    assert ModelVersion.objects.active("gmf") is None
    assert "not several" in messages_of(response)[0]


def test_versions_of_different_models_activate_together(admin_client_, store):
    gmf, ngcf = make_version(store, "gmf"), make_version(store, "ngcf")
    run_action(admin_client_, "activate_selected", gmf, ngcf)
    assert ModelVersion.objects.active("gmf") == gmf and ModelVersion.objects.active("ngcf") == ngcf


def test_rollback_returns_to_the_previously_active_version(admin_client_, store):
    first = make_version(store, activate=True)
    make_version(store)  # a candidate that was never served is not a rollback target
    third = make_version(store)
    third.activate()
    response = run_action(admin_client_, "rollback_selected", third)
    assert ModelVersion.objects.active("gmf") == first
    assert reload(third)[0].status == "retired"
    assert "Rolled gmf back from gmf:3 to gmf:1" in messages_of(response)[0]


def test_rollback_without_an_earlier_version_says_so(admin_client_, store):
    only = make_version(store, activate=True)
    response = run_action(admin_client_, "rollback_selected", only)
    assert ModelVersion.objects.active("gmf") == only
    assert "no earlier active version" in messages_of(response)[0]


def test_rollback_to_a_damaged_version_is_refused(admin_client_, store):
    first = make_version(store, activate=True)
    second = make_version(store, activate=True)
    (store.root / "gmf" / f"{first.artifact_sha256}.pt").unlink()
    response = run_action(admin_client_, "rollback_selected", second)
    assert ModelVersion.objects.active("gmf") == second
    assert messages_of(response)[0].startswith("Refused to activate gmf:1")


def test_retire_takes_a_version_out_of_service(admin_client_, store):
    served, candidate = make_version(store, activate=True), make_version(store)
    response = run_action(admin_client_, "retire_selected", served, candidate)
    assert [v.status for v in reload(served, candidate)] == ["retired", "retired"]
    assert ModelVersion.objects.active("gmf") is None
    text = " ".join(messages_of(response))
    assert "no active version now" in text and "Retired gmf:1, gmf:2" in text


def test_reevaluate_queues_a_job(admin_client_, admin_user, store):
    version = make_version(store)
    response = run_action(admin_client_, "reevaluate_selected", version)
    job = TrainingRun.objects.get()
    assert (job.kind, job.target, job.status, job.requested_by) == ("evaluate", version, "queued", admin_user)
    assert "Queued re-evaluation of gmf:1" in messages_of(response)[0]


def test_versions_cannot_be_added_or_edited_in_the_admin(admin_client_, store):
    version = make_version(store)
    assert admin_client_.get("/admin/predictors/modelversion/add/").status_code == 403
    page = admin_client_.get(CHANGELIST).content.decode()
    assert "/admin/predictors/modelversion/add/" not in page
    detail = f"/admin/predictors/modelversion/{version.pk}/change/"
    admin_client_.post(detail, {"model_name": "ngcf", "status": "active", "training_seconds": 1})
    assert reload(version)[0].model_name == "gmf" and reload(version)[0].status == "candidate"


def test_the_list_shows_metrics_artifact_and_status(admin_client_, store):
    make_version(store, activate=True)
    make_version(store, "ngcf", metrics={})
    html = admin_client_.get(CHANGELIST).content.decode()
    for heading in ("HR@10 (ncf)", "NDCG@10 (ncf)", "NDCG@10 (full)", "Recall@20 (full)", "training time", "artifact"):
        assert heading.lower() in html.lower()
    assert "0.6100" in html and "0.3500" in html and "0.4000" in html and "0.3300" in html
    version = ModelVersion.objects.get(model_name="gmf")
    assert version.artifact_sha256[:8] in html
    assert 'class="registry-status registry-active"' in html


def test_filters_and_search(admin_client_, store):
    make_version(store, "gmf")
    make_version(store, "gmf", activate=True)
    make_version(store, "ngcf")
    rows = lambda response: re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())  # noqa: E731
    assert len(rows(admin_client_.get(CHANGELIST, {"model_name": "gmf"}))) == 2
    assert len(rows(admin_client_.get(CHANGELIST, {"status": "active"}))) == 1
    found = rows(admin_client_.get(CHANGELIST, {"q": "gmf:2"}))
    assert found == [str(ModelVersion.objects.get(model_name="gmf", version=2).pk)]
    assert len(rows(admin_client_.get(CHANGELIST, {"q": "ngcf"}))) == 1


def test_detail_shows_parameters_curves_and_the_active_version(admin_client_, store):
    active = make_version(store, activate=True)
    version = make_version(store, metrics={"full": {"ndcg@10": 0.5, "recall@20": 0.3}})
    TrainingRun.objects.create(
        model_name="gmf",
        dataset="test-catalog",
        protocol="full",
        status="finished",
        version=version,
        epochs=[
            {"stage": "<script>alert(1)</script>", "epoch": 1, "loss": 0.69, "val_ndcg@10": 0.10, "seconds": 1.0},
            {"stage": "<script>alert(1)</script>", "epoch": 2, "loss": 0.41, "val_ndcg@10": 0.18, "seconds": 1.0},
        ],
    )
    html = admin_client_.get(f"/admin/predictors/modelversion/{version.pk}/change/").content.decode()
    assert "<svg" in html and "<polyline" in html and "Validation NDCG@10" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Hyper-parameters" in html and "<th>lr</th>" in html and "Dataset fingerprint" in html and "ab" * 32 in html
    assert f"next to the active version {active.label}" in html
    comparison = html.split("registry-comparison", 1)[1]
    assert "0.5000" in comparison and "0.4000" in comparison and "0.1000" in comparison  # full ndcg@10 and difference
    assert "0.6100" in comparison  # the active version's HR@10, which this one lacks


def test_detail_without_a_training_log_says_so(admin_client_, store):
    version = make_version(store)
    html = admin_client_.get(f"/admin/predictors/modelversion/{version.pk}/change/").content.decode()
    assert "No per-epoch log was recorded" in html and "no version of gmf is active" in html


# --- who may reach it ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CHANGELIST, DASHBOARD, TRAIN_FORM])
def test_visitors_and_non_staff_are_sent_to_the_login(db, client, path):
    assert client.get(path).url.startswith("/admin/login/")
    user = User.objects.create_user("visitor", password="pw-not-used")
    response = logged_in(user).get(path)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_non_staff_cannot_run_actions_or_start_training(db, store):
    version = make_version(store)
    client = logged_in(User.objects.create_user("visitor", password="pw-not-used"))
    client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [version.pk]})
    client.post(TRAIN_FORM, {"model_name": "gmf", "dataset": "test-catalog", "protocol": "full", "seed": 0})
    assert reload(version)[0].status == "candidate" and not TrainingRun.objects.exists()


def test_staff_without_registry_permissions_is_refused(db, store):
    version = make_version(store)
    client = logged_in(staff_user("helper"))
    refused = client.get(DASHBOARD)
    assert refused.status_code == 403 and "an administrator can grant the permission" in refused.content.decode()
    assert client.get(TRAIN_FORM).status_code == 403
    client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [version.pk]})
    assert reload(version)[0].status == "candidate"


def test_staff_who_may_only_view_sees_no_actions(db, store):
    version = make_version(store)
    client = logged_in(staff_user("viewer", "view_modelversion"))
    assert client.get(DASHBOARD).status_code == 200
    page = client.get(CHANGELIST).content.decode()
    assert "activate_selected" not in page and "Train a new version" not in page
    client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [version.pk]})
    assert reload(version)[0].status == "candidate"


def test_the_admin_index_links_to_the_dashboard(admin_client_):
    assert 'href="/admin/dashboard/"' in admin_client_.get("/admin/").content.decode()


# --- the training form -----------------------------------------------------------------------------


def training_form(**fields):
    return {"model_name": "gmf", "dataset": "test-catalog", "protocol": "full", "seed": "0", **fields}


def test_training_form_queues_a_job_with_the_chosen_hyperparameters(catalog, admin_user):
    client = logged_in(admin_user, enforce_csrf_checks=True)
    page = client.get(TRAIN_FORM)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = client.post(
        TRAIN_FORM, {**training_form(epochs="3", lr="0.01", loss="bpr"), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and response.url == DASHBOARD
    job = TrainingRun.objects.get()
    assert (job.kind, job.model_name, job.dataset, job.status) == ("train", "gmf", "test-catalog", "queued")
    assert job.overrides == {"epochs": 3, "lr": 0.01, "loss": "bpr"}
    assert job.requested_by == admin_user
    assert "waiting for the worker" in client.get(DASHBOARD).content.decode()


def test_training_form_takes_epochs_and_a_run_shows_its_epoch_log_read_only(catalog, admin_client_):
    form = admin_client_.get(TRAIN_FORM).content.decode()
    assert re.search(r'<input type="number" name="epochs"[^>]*min="1"[^>]*max="500"', form)
    assert admin_client_.post(TRAIN_FORM, training_form(epochs="3")).status_code == 302
    run = TrainingRun.objects.get()
    assert run.overrides == {"epochs": 3} and run.epochs == []  # the number asked for, not the epoch log
    run.epochs = [{"stage": "gmf", "loss": 0.5}]
    run.save()
    page = admin_client_.get(f"/admin/predictors/trainingrun/{run.pk}/change/").content.decode()
    assert 'name="epochs"' not in page and "&quot;loss&quot;: 0.5" in page


def test_training_form_requires_the_csrf_token(catalog, admin_user):
    client = logged_in(admin_user, enforce_csrf_checks=True)
    assert client.post(TRAIN_FORM, training_form()).status_code == 403
    assert not TrainingRun.objects.exists()


def test_actions_require_the_csrf_token(admin_user, store):
    version = make_version(store)
    client = logged_in(admin_user, enforce_csrf_checks=True)
    response = client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [version.pk]})
    assert response.status_code == 403 and reload(version)[0].status == "candidate"


@pytest.mark.parametrize(
    "fields, error_field",
    [
        ({"epochs": "0"}, "epochs"),
        ({"lr": "-1"}, "lr"),
        ({"dataset": "nope"}, "dataset"),
        ({"model_name": "svd"}, "model_name"),
        ({"model_name": "ease", "epochs": "5"}, "__all__"),
    ],  # EASE is fitted in closed form: lambda only
)
def test_training_form_rejects_bad_values(catalog, admin_client_, fields, error_field):
    response = admin_client_.post(TRAIN_FORM, training_form(**fields))
    assert response.status_code == 200 and error_field in response.context["adminform"].form.errors
    assert not TrainingRun.objects.exists()


def test_training_form_queues_ease_with_its_lambda(catalog, admin_client_):
    response = admin_client_.post(TRAIN_FORM, training_form(model_name="ease", l2="250"))
    assert response.status_code == 302
    assert TrainingRun.objects.get().overrides == {"l2": 250.0}


def test_curves_of_a_pretrained_neumf_have_one_line_per_stage():
    from predictors.charts import training_curves_svg

    stages = ["neumf/gmf", "neumf/gmf", "neumf/mlp", "neumf"]
    svg = training_curves_svg(
        [{"stage": stage, "epoch": i, "loss": 1.0 / i, "val_ndcg@10": 0.1 * i} for i, stage in enumerate(stages, 1)]
    )
    assert svg.count("<polyline") == 6  # three stages in two panels
    assert all(f">{stage}</text>" in svg for stage in ("neumf/gmf", "neumf/mlp", "neumf"))
    assert training_curves_svg([]) == ""
    assert "not recorded" in training_curves_svg([{"stage": "gmf", "epoch": 1, "loss": 0.5}])


# --- activating a version that scores lower asks first ---------------------------------------------


def ndcg(value, popularity=None):
    baselines = {} if popularity is None else {"baselines": {"popularity": {"full": {"ndcg@10": popularity}}}}
    return {"metrics": {"full": {"ndcg@10": value}}, **baselines}


def test_activating_a_version_worse_than_the_active_one_asks_with_both_numbers(admin_client_, store):
    served = make_version(store, activate=True, **ndcg(0.40))
    worse = make_version(store, **ndcg(0.35))
    page = run_action(admin_client_, "activate_selected", worse)
    html = page.content.decode()
    assert page.status_code == 200 and "Yes, activate it anyway" in html
    assert "0.3500" in html and "0.4000" in html and "active version gmf:1" in html
    assert [v.status for v in reload(served, worse)] == ["active", "candidate"]  # nothing changed yet

    confirmed = admin_client_.post(
        CHANGELIST, {"action": "activate_selected", "_selected_action": [worse.pk], "post": "yes"}, follow=True
    )
    assert [v.status for v in reload(served, worse)] == ["retired", "active"]
    assert any("Activated gmf:2" in m for m in messages_of(confirmed))


def test_activating_a_version_below_popularity_asks_too(admin_client_, store):
    weak = make_version(store, **ndcg(0.18, popularity=0.20))
    html = run_action(admin_client_, "activate_selected", weak).content.decode()
    assert "popularity on the same split" in html and "0.1800" in html and "0.2000" in html
    assert reload(weak)[0].status == "candidate"


def test_a_better_version_activates_without_a_question(admin_client_, store):
    make_version(store, activate=True, **ndcg(0.40))
    better = make_version(store, **ndcg(0.45, popularity=0.20))
    response = run_action(admin_client_, "activate_selected", better)
    assert reload(better)[0].status == "active" and any("Activated gmf:2" in m for m in messages_of(response))


def test_the_detail_page_shows_the_baselines_and_what_was_served(admin_client_, store):
    version = make_version(
        store, **ndcg(0.45, popularity=0.20), fitted_on={"interactions": 163, "users": 12, "items": 30, "epochs": 7}
    )
    html = admin_client_.get(f"/admin/predictors/modelversion/{version.pk}/change/").content.decode()
    assert "Served artifact fitted on" in html and "<th>interactions</th><td><code>163</code>" in html
    assert "Baselines on the same split" in html and "popularity" in html and "0.2000" in html


@pytest.mark.parametrize("selected", ["abc", str(2**63)])
def test_an_action_on_a_selection_that_is_no_id_is_a_400_and_changes_nothing(admin_client_, store, selected):
    version = make_version(store)
    form = {"action": "activate_selected", "index": "0", "_selected_action": [version.pk, selected]}
    response = admin_client_.post(CHANGELIST, form)  # ValueError, or OverflowError on SQLite: a 500
    assert response.status_code == 400
    assert "The selection holds something that is no id of model versions; nothing was changed." in (
        response.content.decode()
    )
    assert reload(version)[0].status == "candidate"
