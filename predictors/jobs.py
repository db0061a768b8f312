"""Training and re-evaluation jobs asked for in the admin and run by
``manage.py run_training_jobs``, outside any web request.

A job row is the whole interface: the admin inserts it (status queued), a
worker claims it with a conditional update (so two workers never run the same
job), writes the epoch, stage and last loss as training goes, and ends with the
registered candidate or the reason it failed.

A worker that dies without a chance to say so (kill -9, a lost machine)
leaves its job "running"; ``fail_abandoned`` ends such jobs: at once when the
worker was on this host and its process is gone, otherwise once the job has
reported no progress for TRAINING_JOB_STALE_SECONDS.
"""
import io
import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from predictors import training, zoo
from predictors.data import DataError, fingerprint, from_database
from predictors.management.commands.train_model import metrics_summary
from predictors.metrics_log import worker_name
from predictors.models import TrainingJob, TrainingRun
from predictors.registry import register

log = logging.getLogger(__name__)


def queue_evaluation(version, user=None):
    """A job that recomputes ``version``'s metrics and stores them on it."""
    return TrainingJob.objects.create(
        kind=TrainingJob.Kind.EVALUATE,
        model_name=version.model_name,
        dataset=version.dataset,
        target=version,
        requested_by=user,
    )


def claim_next():
    """The oldest queued job, now marked running by this worker; None when idle."""
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED).order_by("created_at", "pk")[:5]:
        now = timezone.now()
        claimed = TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker_name()
        )
        if claimed:
            job.refresh_from_db()
            return job
    return None


def _process_is_gone(worker):
    """True when ``worker`` (host:pid) ran on this host and that process no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def fail_abandoned():
    """Marks failed the running jobs whose worker is gone; returns them."""
    stale_before = timezone.now() - timedelta(seconds=settings.TRAINING_JOB_STALE_SECONDS)
    abandoned = []
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING):
        if _process_is_gone(job.worker):
            reason = f"Its worker ({job.worker}) stopped without finishing it; queue it again."
        elif job.heartbeat_at is None or job.heartbeat_at < stale_before:
            reason = (f"Its worker ({job.worker or 'unknown'}) reported no progress for "
                      f"{settings.TRAINING_JOB_STALE_SECONDS} s and is taken to be gone; queue it again.")
        else:
            continue
        # Conditional, like claiming: a worker finishing it meanwhile wins.
        if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(
            status=TrainingJob.Status.FAILED, message=reason, finished_at=timezone.now()
        ):
            TrainingRun.objects.filter(pk=job.training_run_id, status=TrainingRun.Status.RUNNING).update(
                status=TrainingRun.Status.FAILED, summary=reason, finished_at=timezone.now()
            )
            log.warning("job %s: %s", job.pk, reason)
            abandoned.append(job)
    return abandoned


def epoch_recorder(job):
    """A training on_epoch callback that writes each finished epoch onto the job row."""

    def record(entry, max_epochs):
        TrainingJob.objects.filter(pk=job.pk).update(
            stage=entry["stage"][:32],
            epoch=entry["epoch"],
            max_epochs=max_epochs,
            last_loss=entry["loss"],
            last_validation=entry["val_ndcg@10"],
            heartbeat_at=timezone.now(),
        )

    return record


def _finish(job, status, message, **fields):
    for name, value in {"status": status, "message": message, "finished_at": timezone.now(), **fields}.items():
        setattr(job, name, value)
    job.save()
    return job


def train(job, progress=False):
    """Trains the job's model and registers a candidate version."""
    params = zoo.hyperparameters(job.model_name, job.protocol, **job.hyperparameters)
    data = from_database(job.dataset)
    run = TrainingRun.objects.create(
        model_name=job.model_name, dataset=job.dataset, protocol=job.protocol, hyperparameters=params
    )
    TrainingJob.objects.filter(pk=job.pk).update(training_run=run)
    job.training_run = run
    try:
        result = training.train_and_evaluate(data, job.model_name, params, job.protocol, job.seed, progress, epoch_recorder(job))
        version = register(job.model_name, result, data, job.dataset, fingerprint(data))
    except BaseException as error:
        run.status, run.summary, run.finished_at = TrainingRun.Status.FAILED, f"{type(error).__name__}: {error}", timezone.now()
        run.save()
        raise
    summary = (
        f"Registered {version.label} (candidate) on {job.dataset}: {metrics_summary(result.metrics)}; "
        f"{training.effort(result)}."
    )
    run.status, run.summary, run.finished_at, run.epochs, run.version = (
        TrainingRun.Status.FINISHED, summary, timezone.now(), result.curves, version
    )
    run.save()
    job.refresh_from_db()
    return _finish(job, TrainingJob.Status.FINISHED, summary, version=version)


def evaluate(job):
    """Recomputes and stores the target version's metrics (evaluate_model --save)."""
    output = io.StringIO()
    call_command("evaluate_model", job.target.label, "--save", stdout=output)
    return _finish(job, TrainingJob.Status.FINISHED, output.getvalue().strip(), version=job.target)


def run(job, progress=False):
    """Runs a claimed job to its end; a failure is recorded on the job, not raised
    (except an interrupt, which is recorded and re-raised so the worker stops)."""
    try:
        if job.kind == TrainingJob.Kind.EVALUATE:
            if job.target is None:
                return _finish(job, TrainingJob.Status.FAILED, "The version to re-evaluate no longer exists.")
            return evaluate(job)
        return train(job, progress)
    except (CommandError, DataError, ValueError) as error:
        return _finish(job, TrainingJob.Status.FAILED, str(error))
    except KeyboardInterrupt:
        _finish(job, TrainingJob.Status.FAILED, "The worker was stopped while this job ran.")
        raise
    except Exception as error:
        log.exception("job %s failed", job.pk)
        return _finish(job, TrainingJob.Status.FAILED, f"{type(error).__name__}: {error}")


def run_queued(progress=False):
    """Runs queued jobs one after another until none is left, yielding each when it ends."""
    fail_abandoned()
    while (job := claim_next()) is not None:
        log.info("running job %s: %s", job.pk, job)
        yield run(job, progress)
