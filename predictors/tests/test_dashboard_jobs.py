"""The job worker: a training job asked for in the admin ends as a registered
candidate with its progress recorded; a re-evaluation stores new metrics."""
import socket
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from predictors import jobs, training
from predictors.models import ModelVersion, TrainingJob, TrainingRun
from tests.dashboard_helpers import store  # noqa: F401

TINY = {"dim": 8, "epochs": 2, "patience": 1, "batch_size": 64}


def queue_training(model_name="gmf", dataset="test-catalog", **overrides):
    return TrainingJob.objects.create(model_name=model_name, dataset=dataset, hyperparameters={**TINY, **overrides})


def test_worker_trains_and_registers_a_candidate(catalog, store, capsys):
    served = None
    job = queue_training()
    call_command("run_training_jobs", "--once", verbosity=0)
    job.refresh_from_db()
    assert job.status == "finished", job.message
    version = job.version
    assert (version.model_name, version.status, version.dataset) == ("gmf", "candidate", "test-catalog")
    assert ModelVersion.objects.active("gmf") is served  # a candidate is not served until activated
    assert version.hyperparameters["dim"] == 8 and version.metrics["full"]["ndcg@10"] >= 0
    # progress was written per epoch; the run keeps the curve the detail page draws
    assert job.stage == "gmf" and 1 <= job.epoch <= job.max_epochs == 2 and job.last_loss > 0
    run = TrainingRun.objects.get(version=version)
    assert job.training_run == run and run.status == "finished" and len(run.epochs) == job.epoch
    assert job.message.startswith("Registered gmf:1 (candidate)")


def test_worker_output_ends_with_a_summary(catalog, store):
    queue_training(dataset="no-such-dataset")
    out = StringIO()
    call_command("run_training_jobs", "--once", verbosity=0, stdout=out)
    assert out.getvalue().strip().endswith("Ran 1 job(s): 0 finished, 1 failed.")
    job = TrainingJob.objects.get()
    assert job.status == "failed" and "no-such-dataset" in job.message and job.finished_at


def test_reevaluation_job_stores_fresh_metrics(catalog, store):
    queue_training()
    [trained] = jobs.run_queued()
    version = trained.version
    version.metrics = {"full": {"ndcg@10": -1.0}}
    version.save(update_fields=["metrics"])
    job = jobs.queue_evaluation(version)
    [done] = jobs.run_queued()
    assert done.pk == job.pk and done.status == "finished", done.message
    version.refresh_from_db()
    assert version.metrics["full"]["ndcg@10"] >= 0 and "gmf:1 on test-catalog" in done.message


def test_a_job_is_claimed_once(catalog):
    queue_training()
    assert jobs.claim_next().status == "running"
    assert jobs.claim_next() is None


@pytest.mark.parametrize("bad", [{"poll_seconds": 0}])
def test_worker_rejects_a_bad_poll_interval(db, bad):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="poll-seconds"):
        call_command("run_training_jobs", "--once", **bad)


def test_a_stopped_worker_marks_its_job_failed(catalog, store, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_and_evaluate", interrupted)
    job = queue_training()
    with pytest.raises(KeyboardInterrupt):
        list(jobs.run_queued())
    job.refresh_from_db()
    assert job.status == "failed" and "stopped" in job.message
    assert job.training_run.status == "failed"


def running_job(worker, heartbeat_age_seconds=0):
    job = queue_training()
    run = TrainingRun.objects.create(model_name="gmf", dataset="test-catalog", protocol="full", hyperparameters={})
    heartbeat = timezone.now() - timedelta(seconds=heartbeat_age_seconds)
    TrainingJob.objects.filter(pk=job.pk).update(status="running", worker=worker, heartbeat_at=heartbeat, training_run=run)
    return job


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_job_whose_worker_was_killed_is_failed_by_the_next_worker(catalog):
    killed = running_job(f"{socket.gethostname()}:{dead_pid()}")
    alive = running_job(jobs.worker_name())  # this test's own process: still running
    call_command("run_training_jobs", "--once", verbosity=0, stdout=StringIO())
    killed.refresh_from_db()
    alive.refresh_from_db()
    assert killed.status == "failed" and "stopped without finishing it; queue it again" in killed.message
    assert killed.finished_at and TrainingRun.objects.get(pk=killed.training_run_id).status == "failed"
    assert alive.status == "running"


def test_a_job_silent_for_too_long_on_another_host_is_failed(db, settings):
    settings.TRAINING_JOB_STALE_SECONDS = 600
    silent = running_job("other-host:123", heartbeat_age_seconds=601)
    recent = running_job("other-host:456", heartbeat_age_seconds=30)
    assert [job.pk for job in jobs.fail_abandoned()] == [silent.pk]
    silent.refresh_from_db()
    recent.refresh_from_db()
    assert silent.status == "failed" and "no progress for 600 s" in silent.message
    assert recent.status == "running"


def test_claiming_records_the_worker_and_a_heartbeat(db):
    queue_training()
    job = jobs.claim_next()
    assert job.worker == jobs.worker_name() and job.heartbeat_at is not None
