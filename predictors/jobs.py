"""Training and re-evaluation jobs asked for in the admin, run outside any web
request by django-tasks' database backend (``manage.py run_training_jobs``,
or django-tasks' own ``db_worker``).

Queueing writes a TrainingRun (status queued) and enqueues ``run_job`` with its
id in one transaction; the worker claims the run, and the training service
writes its progress and result there.

django-tasks-db leaves a task "running" for good when its worker dies without
a chance to say so (kill -9, a lost machine), so ``fail_abandoned`` ends such
runs: at once when the worker was on this host and its process is gone,
otherwise once the run has reported no progress for TRAINING_JOB_STALE_SECONDS.

``queue_missing_models`` is the first start's part (``./run serve``): it
queues the served models never trained here, to be activated when done
(training_status tells their pages how that is going).
"""

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from events.heartbeat import worker_name
from predictors.models import ModelVersion, TrainingRun
from predictors.names import SERVED_MODELS
from predictors.training_status import UNFINISHED
from predictors.zoo import CLOSED_FORM

log = logging.getLogger(__name__)


@task()
def run_job(run_id, activate=False):
    """The task the worker runs: one queued TrainingRun, trained or re-evaluated;
    ``activate``: serve the trained version if the quality gate lets it."""
    run = TrainingRun.objects.select_related("target").get(pk=run_id)
    if not run.claim(worker_name()):
        log.info("run %s is %s, not queued; skipped", run_id, run.status)
        return run.status
    # Imported here: the admin queues jobs through this module and must not load torch.
    from predictors import training_service

    training_service.limit_threads()
    if run.kind == TrainingRun.Kind.EVALUATE:
        return training_service.evaluate_run(run)
    trained = training_service.train(run)
    if activate:
        training_service.activate(trained)
    return trained.run.summary


def queue(run, activate=False):
    """Saves the unsaved ``run`` as queued and enqueues its task, in one transaction."""
    with transaction.atomic():
        run.status = TrainingRun.Status.QUEUED
        run.save()
        run.task_id = str(run_job.enqueue(run.pk, activate=activate).id)
        run.save(update_fields=["task_id"])
    return run


def queue_training(model_name, dataset, protocol="full", seed=0, overrides=None, user=None, activate=False):
    """A run that trains ``model_name`` with the given overrides of its defaults
    (``activate``: see run_job)."""
    return queue(
        TrainingRun(
            model_name=model_name,
            dataset=dataset,
            protocol=protocol,
            seed=seed,
            overrides=overrides or {},
            requested_by=user,
        ),
        activate=activate,
    )


def queue_evaluation(version, user=None):
    """A run that recomputes ``version``'s metrics and stores them on it."""
    return queue(
        TrainingRun(
            kind=TrainingRun.Kind.EVALUATE,
            model_name=version.model_name,
            dataset=version.dataset,
            target=version,
            requested_by=user,
        )
    )


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
    """Marks failed the running runs (and their queued tasks) whose process is gone; returns the runs."""
    stale_before = timezone.now() - timedelta(seconds=settings.TRAINING_JOB_STALE_SECONDS)
    abandoned = []
    for run in TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING):
        if _process_is_gone(run.worker):
            reason = f"Its worker ({run.worker}) stopped without finishing it; queue it again."
        elif run.heartbeat_at is None or run.heartbeat_at < stale_before:
            reason = (
                f"Its worker ({run.worker or 'unknown'}) reported no progress for "
                f"{settings.TRAINING_JOB_STALE_SECONDS} s and is taken to be gone; queue it again."
            )
        else:
            continue
        now = timezone.now()
        # Conditional, like claiming: a worker finishing it meanwhile wins.
        if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED, summary=reason, finished_at=now
        ):
            if run.task_id:
                DBTaskResult.objects.filter(id=run.task_id, status=TaskResultStatus.RUNNING).update(
                    status=TaskResultStatus.FAILED,
                    finished_at=now,
                    exception_class_path="predictors.jobs.WorkerGone",
                    traceback=reason,
                )
            run.status, run.summary, run.finished_at = TrainingRun.Status.FAILED, reason, now
            log.warning("run %s: %s", run.pk, reason)
            abandoned.append(run)
    return abandoned


def untrained_models(dataset):
    """The served models with no active version, no version trained on
    ``dataset`` and no training run queued or running, closed-form models
    first (they are done in seconds). A version the quality gate kept from
    being served counts as trained: training it again would give the same."""
    busy = set(
        TrainingRun.objects.filter(kind=TrainingRun.Kind.TRAIN, status__in=UNFINISHED).values_list(
            "model_name", flat=True
        )
    )
    served = set(ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("model_name", flat=True))
    trained = set(ModelVersion.objects.filter(dataset=dataset).values_list("model_name", flat=True))
    names = [name for name in SERVED_MODELS if name not in busy | served | trained]
    return sorted(names, key=lambda name: name not in CLOSED_FORM)


def queue_missing_models(dataset=None):
    """Queues a training run, activated when done, for each untrained model
    (untrained_models) of ``dataset`` (default: the site's); returns the runs.
    Safe to repeat: a model whose run is queued or running is not queued again,
    and runs whose worker died are failed first so that they are."""
    dataset = dataset or settings.MOVIELENS_DATASET
    fail_abandoned()
    return [queue_training(name, dataset, activate=True) for name in untrained_models(dataset)]
