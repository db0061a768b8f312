"""This site's measured numbers for a paper's models, read from the model registry.

The registry (predictors.models.ModelVersion) is optional here: before it
exists, before its table is migrated, or while no version is active, a model's
row says "no active version" instead of breaking the review page.
"""

import logging
from dataclasses import dataclass, field

from django.apps import apps
from django.db import DatabaseError, transaction
from django.urls import reverse

from predictors.names import MODEL_LABELS, SERVED_MODELS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Protocol:
    key: str  # the key of ModelVersion.metrics
    label: str
    description: str
    metrics: tuple  # (metric key, column label) pairs


PROTOCOLS = (
    Protocol("ncf", "NCF protocol", "leave-one-out: the held-out item ranked against 99 sampled negatives",
             (("hr@10", "HR@10"), ("ndcg@10", "NDCG@10"))),
    Protocol("full", "Full ranking", "75/25 split per user, every unseen movie ranked",
             (("recall@20", "Recall@20"), ("ndcg@20", "NDCG@20"))),
    Protocol("d2l", "d2l protocol", "each user's latest item held out, every unseen movie ranked",
             (("hit@50", "Hit@50"), ("auc", "AUC"))),
)  # fmt: skip

METRIC_COUNT = sum(len(protocol.metrics) for protocol in PROTOCOLS)


@dataclass
class LiveRow:
    model_name: str
    label: str
    page_url: str | None  # the model's recommendation page, when the site has one
    version: int | None = None  # None: no active version (none trained, or none activated)
    dataset: str = ""
    activated_at: object = None
    # One float or None per PROTOCOLS metric, in order (all None until trained).
    values: list = field(default_factory=lambda: [None] * METRIC_COUNT)

    @property
    def trained(self):
        return self.version is not None


def model_page_url(model_name):
    return reverse("model_page", args=[model_name]) if model_name in SERVED_MODELS else None


def registry_model():
    """ModelVersion, or None while the registry app does not define it yet."""
    try:
        return apps.get_model("predictors", "ModelVersion")
    except LookupError:
        return None


def active_version(model_name):
    registry = registry_model()
    if registry is None:
        return None
    try:
        # A savepoint, so a missing table does not poison the surrounding transaction.
        with transaction.atomic():
            return registry.objects.active(model_name)
    except DatabaseError as error:
        logger.warning("Model registry not readable (%s); showing %s as not trained.", error, model_name)
        return None


def metric_values(metrics):
    metrics = metrics if isinstance(metrics, dict) else {}
    values = []
    for protocol in PROTOCOLS:
        measured = metrics.get(protocol.key)
        measured = measured if isinstance(measured, dict) else {}
        for key, _label in protocol.metrics:
            value = measured.get(key)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            values.append(float(value) if is_number else None)
    return values


def live_rows(model_names):
    """One LiveRow per model name, with the active version's metrics when there is one."""
    rows = []
    for name in model_names:
        row = LiveRow(model_name=name, label=MODEL_LABELS.get(name, name), page_url=model_page_url(name))
        version = active_version(name)
        if version is not None:
            row.version = version.version
            row.dataset = getattr(version, "dataset", "")
            row.activated_at = getattr(version, "activated_at", None)
            row.values = metric_values(version.metrics)
        rows.append(row)
    return rows
