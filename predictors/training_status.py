"""What a model page that shows popular movies in its place says about the
model's training: queued, its epoch, why it failed, or why the version it
trained is not served. A plain reader of TrainingRun, so web processes need
no part of the training code."""

from dataclasses import dataclass

from predictors.models import ModelVersion, TrainingRun
from predictors.names import MODEL_LABELS
from predictors.zoo import CLOSED_FORM

UNFINISHED = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)


@dataclass
class TrainingNotice:
    state: str  # queued, running, failed, below-popularity or not-activated
    sentence: str


def _current_run(model_name):
    """The training run a model page reports: a running one, else the latest."""
    runs = TrainingRun.objects.filter(kind=TrainingRun.Kind.TRAIN, model_name=model_name).select_related("version")
    return runs.filter(status=TrainingRun.Status.RUNNING).first() or runs.first()


def _progress_sentence(label, run):
    if run.model_name in CLOSED_FORM:
        return f"{label} is training: it is fitted in closed form, in one step."
    if not run.epoch:
        return f"{label} is training: starting."
    stage, final, _ = run.stage.partition(" (all data)")
    branch = stage.partition("/")[2]
    what = f" of its {MODEL_LABELS.get(branch, branch)} branch" if branch else ""
    if final:
        return f"{label} is training: epoch {run.epoch} of {run.max_epochs}{what}, the final fit on every rating."
    return (
        f"{label} is training: epoch {run.epoch} of {run.max_epochs}{what} on the evaluation split "
        "(it may stop early), then once more on every rating."
    )


def training_notice(model_name):
    """What a page showing popular movies in place of ``model_name`` says about
    its training, or None when no training run explains it."""
    label = MODEL_LABELS[model_name]
    run = _current_run(model_name)
    if run is None:
        return None
    if run.status == TrainingRun.Status.QUEUED:
        ahead = TrainingRun.objects.filter(status__in=UNFINISHED, created_at__lt=run.created_at).count()
        behind = f", after {ahead} other run{'s' if ahead != 1 else ''}" if ahead else ""
        return TrainingNotice("queued", f"{label} is queued for training{behind}.")
    if run.status == TrainingRun.Status.RUNNING:
        return TrainingNotice("running", _progress_sentence(label, run))
    if run.status == TrainingRun.Status.FAILED:
        return TrainingNotice("failed", f"{label} training failed: {run.summary}")
    version = run.version
    if version is None or version.status != ModelVersion.Status.CANDIDATE:
        return None
    if version.below_popularity():
        return TrainingNotice(
            "below-popularity",
            f"{label} was trained ({version.label}), but its NDCG@10 ({version.ndcg_at_10:.4f}) is below "
            f"popularity's ({version.popularity_ndcg_at_10:.4f}) on the same split, so it is not served.",
        )
    return TrainingNotice(
        "not-activated", f"{label} was trained ({version.label}); it is served once an admin activates it."
    )
