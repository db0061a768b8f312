"""The first start: ./run serve queues the models that were never trained,
the worker beside the web server trains and activates them, and each model
page says how its training is going until its version is served."""

import io
import os
import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from movie.models import Movie
from predictors import jobs
from predictors.models import ModelVersion, TrainingRun
from predictors.training import progress_bars_wanted
from tests.dashboard_helpers import make_version, store  # noqa: F401
from tests.services import Browser

# A 4-wide GMF trained two epochs on the test catalog stays below popularity there.
BELOW_POPULARITY = {"dim": 4, "epochs": 2, "loss": "softmax"}  # two softmax epochs stay below popularity


pytestmark = pytest.mark.usefixtures("fresh_predictors")

# The worker checks its connection between tasks as a request does, dropping
# one left outside autocommit; a test transaction around it would be dropped
# with it (MariaDB closes it for real), so tests running it commit for real.
runs_the_worker = pytest.mark.django_db(transaction=True)


@pytest.fixture
def visitor(catalog):
    browser = Browser()
    browser.click(Movie.objects.order_by("pk").first().pk)
    return browser


def page(visitor, model_name):
    response = visitor.client.get(f"/movie/{model_name}")
    assert response.status_code == 200
    return response.content.decode()


def run_worker():
    out = StringIO()
    call_command("run_training_jobs", "--once", verbosity=0, stdout=out)
    return out.getvalue()


def queued_models():
    return list(
        TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED).order_by("pk").values_list("model_name", flat=True)
    )


# --- The model page while its model trains ---------------------------------------


def test_a_running_model_page_shows_its_epoch(visitor):
    TrainingRun.objects.create(
        model_name="gmf", dataset="test-catalog", status="running", stage="gmf", epoch=12, max_epochs=45
    )
    html = page(visitor, "gmf")
    assert 'data-training="running"' in html
    assert "GMF is training: epoch 12 of 45 on the evaluation split" in html
    assert 'data-list="recommendations"' in html and "Popular movies" in html  # popularity stands in meanwhile


def test_the_final_fit_and_a_branch_are_named(visitor):
    TrainingRun.objects.create(
        model_name="gmf", dataset="test-catalog", status="running", stage="gmf (all data)", epoch=3, max_epochs=9
    )
    TrainingRun.objects.create(
        model_name="neumf", dataset="test-catalog", status="running", stage="neumf/mlp", epoch=2, max_epochs=20
    )
    assert "GMF is training: epoch 3 of 9, the final fit on every rating." in page(visitor, "gmf")
    assert "NeuMF is training: epoch 2 of 20 of its MLP branch" in page(visitor, "neumf")


def test_a_queued_model_page_says_queued_and_what_is_ahead(visitor):
    jobs.queue_training("ease", "test-catalog")
    jobs.queue_training("gmf", "test-catalog")
    html = page(visitor, "gmf")
    assert 'data-training="queued"' in html and "GMF is queued for training, after 1 other run." in html
    assert "EASE is queued for training." in page(visitor, "ease")


def test_a_failed_run_is_shown_with_its_summary_escaped(visitor):
    TrainingRun.objects.create(
        model_name="ngcf", dataset="test-catalog", status="failed", summary="Dataset <b>x</b> has no interactions."
    )
    html = page(visitor, "ngcf")
    assert 'data-training="failed"' in html
    assert "NGCF training failed: Dataset &lt;b&gt;x&lt;/b&gt; has no interactions." in html


def test_a_model_never_queued_keeps_the_train_model_hint(visitor):
    html = page(visitor, "neumf")
    assert "not trained yet" in html and "data-training" not in html


# --- The worker trains, activates, and the page serves it without a restart ---------


@runs_the_worker
def test_the_page_serves_the_model_once_the_worker_activated_it(visitor, store):
    jobs.queue_training("ease", "test-catalog", overrides={"l2": 50.0}, activate=True)
    assert "EASE is queued for training." in page(visitor, "ease")
    output = run_worker()
    version = ModelVersion.objects.active("ease")
    assert version is not None and version.label == "ease:1"
    html = page(visitor, "ease")
    assert 'data-fallback="not-trained"' not in html and "ease:1" in html
    # one summary line for the job and one for the worker
    lines = output.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Job ") and "Registered ease:1 (active)" in lines[0]


@runs_the_worker
def test_a_version_below_popularity_is_not_served_and_the_page_says_why(visitor, store):
    jobs.queue_training("gmf", "test-catalog", overrides=BELOW_POPULARITY, activate=True)
    output = run_worker()
    version = ModelVersion.objects.get(model_name="gmf")
    assert version.status == "candidate" and ModelVersion.objects.active("gmf") is None
    assert "Refused to activate gmf:1" in output
    html = page(visitor, "gmf")
    assert 'data-training="below-popularity"' in html
    assert "GMF was trained (gmf:1), but its NDCG@10" in html and "so it is not served" in html


@runs_the_worker
def test_a_run_queued_without_activation_stays_a_candidate(visitor, store):
    jobs.queue_training("ease", "test-catalog", overrides={"l2": 50.0})
    run_worker()
    assert ModelVersion.objects.get(model_name="ease").status == "candidate"
    assert "it is served once an admin activates it" in page(visitor, "ease")


# --- Queueing what is missing --------------------------------------------------------


def test_queue_missing_models_queues_every_untrained_model_once(catalog):
    runs = jobs.queue_missing_models()
    assert [run.model_name for run in runs] == ["ease", "gmf", "neumf", "ngcf"]  # closed form first: done soonest
    assert all(run.dataset == "test-catalog" for run in runs)
    tasks = DBTaskResult.objects.filter(id__in=[run.task_id for run in runs])
    assert [task.args_kwargs["kwargs"] for task in tasks] == [{"activate": True}] * 4
    assert jobs.queue_missing_models() == []
    assert queued_models() == ["ease", "gmf", "neumf", "ngcf"]


def test_queue_missing_models_skips_served_trained_and_running_models(catalog, store):
    make_version(store, "gmf", activate=True)
    make_version(store, "ease", metrics={"full": {"ndcg@10": 0.01}})  # kept from service by the quality gate
    TrainingRun.objects.create(
        model_name="ngcf", dataset="test-catalog", status="running", worker="elsewhere:1", heartbeat_at=timezone.now()
    )
    assert [run.model_name for run in jobs.queue_missing_models()] == ["neumf"]


def test_a_failed_run_or_a_dead_workers_run_is_queued_again(catalog):
    TrainingRun.objects.create(model_name="gmf", dataset="test-catalog", status="failed", summary="stopped")
    dead = TrainingRun.objects.create(
        model_name="ngcf", dataset="test-catalog", status="running", worker=f"{socket.gethostname()}:999999999"
    )
    queued = [run.model_name for run in jobs.queue_missing_models()]
    assert queued == ["ease", "gmf", "neumf", "ngcf"]
    dead.refresh_from_db()
    assert dead.status == "failed" and "stopped without finishing it" in dead.summary


def test_the_command_says_what_it_queued(catalog):
    out = StringIO()
    call_command("queue_missing_models", stdout=out)
    assert out.getvalue().strip() == (
        "Queued training for ease, gmf, neumf, ngcf on test-catalog; the worker trains them in turn."
    )
    out = StringIO()
    call_command("queue_missing_models", stdout=out)
    assert out.getvalue().strip() == "Every served model is trained or queued; nothing to queue."


# --- Progress bars only on a terminal ------------------------------------------------


def test_progress_bars_only_on_a_terminal():
    assert not progress_bars_wanted(io.StringIO())
    primary, secondary = os.openpty()
    try:
        with open(secondary, "w", closefd=False) as terminal:
            assert progress_bars_wanted(terminal)
    finally:
        os.close(primary)
        os.close(secondary)
    closed = io.StringIO()
    closed.close()
    assert not progress_bars_wanted(closed)


def test_train_model_off_a_terminal_writes_no_bar(catalog, store, capsys):
    call_command("train_model", "gmf", "--epochs", "2", "--dim", "4", "--force", "--verbosity", "1")
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "it/s" not in captured.err
    assert captured.out.splitlines()[0].startswith("Registered gmf:1 (candidate)")
