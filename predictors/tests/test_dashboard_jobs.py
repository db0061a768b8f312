"""The job worker: a training job asked for in the admin goes through django-tasks'
database backend and ends as a registered candidate with its progress recorded
on its TrainingRun; a re-evaluation stores new metrics."""

import socket
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from events.heartbeat import worker_name
from predictors import jobs, training
from predictors.models import ModelVersion, TrainingRun
from tests.dashboard_helpers import store  # noqa: F401

TINY = {"dim": 8, "epochs": 2, "patience": 1, "batch_size": 64}

# The worker checks its connection between tasks as a request does, dropping
# one left outside autocommit; a test transaction around it would be dropped
# with it (MariaDB closes it for real), so tests running it commit for real.
runs_the_worker = pytest.mark.django_db(transaction=True)


def queue_training(model_name="gmf", dataset="test-catalog", **overrides):
    return jobs.queue_training(model_name, dataset, overrides={**TINY, **overrides})


def run_worker():
    out = StringIO()
    call_command("run_training_jobs", "--once", verbosity=0, stdout=out)
    return out.getvalue()


@runs_the_worker
def test_worker_trains_and_registers_a_candidate(catalog, store, capsys):
    served = None
    job = queue_training()
    assert DBTaskResult.objects.get(id=job.task_id).status == "READY"  # waiting in django-tasks' queue
    run_worker()
    job.refresh_from_db()
    assert job.status == "finished", job.summary
    version = job.version
    assert (version.model_name, version.status, version.dataset) == ("gmf", "candidate", "test-catalog")
    assert ModelVersion.objects.active("gmf") is served  # a candidate is not served until activated
    assert version.hyperparameters["dim"] == 8 and version.metrics["full"]["ndcg@10"] >= 0
    # progress was written per epoch (the last one by the fit on all data); the run keeps the evaluation curve
    assert job.stage == "gmf (all data)" and 1 <= job.epoch <= job.max_epochs <= 2 and job.last_loss > 0
    assert 1 <= len(job.epochs) <= 2 and {entry["stage"] for entry in job.epochs} == {"gmf"}
    assert job.summary.startswith("Registered gmf:1 (candidate)")
    assert DBTaskResult.objects.get(id=job.task_id).status == "SUCCESSFUL"


@runs_the_worker
def test_worker_output_ends_with_a_summary(catalog, store):
    queue_training(dataset="no-such-dataset")
    assert run_worker().strip().endswith("Ran 1 job(s): 0 finished, 1 failed.")
    job = TrainingRun.objects.get()
    assert job.status == "failed" and "no-such-dataset" in job.summary and job.finished_at


@runs_the_worker
def test_reevaluation_job_stores_fresh_metrics(catalog, store):
    queue_training()
    run_worker()
    version = TrainingRun.objects.get().version
    recorded = version.metrics
    version.metrics = {"full": {"ndcg@10": -1.0}}
    version.save(update_fields=["metrics"])
    job = jobs.queue_evaluation(version)
    run_worker()
    job.refresh_from_db()
    assert job.status == "finished", job.summary
    version.refresh_from_db()
    assert version.metrics["full"]["ndcg@10"] >= 0 and "gmf:1 on test-catalog" in job.summary
    assert version.metrics == recorded  # the same split and seed give the same numbers


def test_a_job_is_claimed_once(catalog):
    job = queue_training()
    assert job.claim(worker_name()) and job.status == "running"
    assert not job.claim(worker_name())


@pytest.mark.parametrize("bad", [{"poll_seconds": 0}])
def test_worker_rejects_a_bad_poll_interval(db, bad):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="poll-seconds"):
        call_command("run_training_jobs", "--once", **bad)


@runs_the_worker
def test_a_stopped_worker_marks_its_job_failed(catalog, store, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_and_evaluate", interrupted)
    job = queue_training()
    run_worker()
    job.refresh_from_db()
    assert job.status == "failed" and "stopped" in job.summary
    assert DBTaskResult.objects.get(id=job.task_id).status == "FAILED"


def running_job(worker, heartbeat_age_seconds=0):
    job = queue_training()
    heartbeat = timezone.now() - timedelta(seconds=heartbeat_age_seconds)
    TrainingRun.objects.filter(pk=job.pk).update(status="running", worker=worker, heartbeat_at=heartbeat)
    DBTaskResult.objects.filter(id=job.task_id).update(status="RUNNING")
    return job


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@runs_the_worker
def test_a_job_whose_worker_was_killed_is_failed_by_the_next_worker(catalog):
    killed = running_job(f"{socket.gethostname()}:{dead_pid()}")
    alive = running_job(worker_name())  # this test's own process: still running
    run_worker()
    killed.refresh_from_db()
    alive.refresh_from_db()
    assert killed.status == "failed" and "stopped without finishing it; queue it again" in killed.summary
    assert killed.finished_at and DBTaskResult.objects.get(id=killed.task_id).status == "FAILED"
    assert alive.status == "running"


def test_a_job_silent_for_too_long_on_another_host_is_failed(db, settings):
    settings.TRAINING_JOB_STALE_SECONDS = 600
    silent = running_job("other-host:123", heartbeat_age_seconds=601)
    recent = running_job("other-host:456", heartbeat_age_seconds=30)
    assert [job.pk for job in jobs.fail_abandoned()] == [silent.pk]
    silent.refresh_from_db()
    recent.refresh_from_db()
    assert silent.status == "failed" and "no progress for 600 s" in silent.summary
    assert recent.status == "running"


def test_claiming_records_the_worker_and_a_heartbeat(db):
    job = queue_training()
    job.claim(worker_name())
    assert job.worker == worker_name() and job.heartbeat_at is not None
