"""One arm's ranking for a visitor: the served model's list, or a pinned
version's when the arm names one that is not the active version."""

import threading

from predictors import serving
from predictors.models import ModelVersion

_pinned = {}
_pinned_lock = threading.Lock()


class PinnedPredictor(serving.Predictor):
    """A Predictor that serves one registered version, active or not; its
    artifact is loaded (checksum verified) on first use, as serving's are."""

    def __init__(self, version_pk, model_name):
        super().__init__(model_name)
        self.version_pk = version_pk

    def _active_version(self):
        return ModelVersion.objects.filter(pk=self.version_pk).values_list("pk", "artifact_sha256").first()


def pinned_predictor(version):
    with _pinned_lock:
        if version.pk not in _pinned:
            _pinned[version.pk] = PinnedPredictor(version.pk, version.model_name)
        return _pinned[version.pk]


def reset_pinned():
    """Forget loaded versions (tests)."""
    with _pinned_lock:
        _pinned.clear()


def ranking(model_name, version, history, k):
    """Movie ids best first, or None when the arm cannot rank for this
    history (untrained, unknown history, a failure): such a visitor is left
    out of the experiment rather than shown the popular list as an arm."""
    if version is None or version.status == ModelVersion.Status.ACTIVE:
        result = serving.recommend(model_name, history, k=k)
        return None if result.is_fallback else result.movie_ids
    predictor = pinned_predictor(version)
    try:
        loaded = predictor.current()
        answer = predictor.recommend(loaded, serving.as_weighted(history), k) if loaded else None
    except Exception:
        serving.log.exception("%s could not rank for the experiment", version.label)
        return None
    return None if answer is None else answer[1]
