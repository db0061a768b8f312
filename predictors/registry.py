"""From a training result to a registered version, and back to a model.

The serving code loads the active version with
``load_version(ModelVersion.objects.active("gmf"), serving=True)``: a
read-only copy that skips what only training and evaluation need (NGCF's
graph and trained users, the fitted interactions).
"""

from dataclasses import dataclass

import numpy as np
import torch

from predictors import artifacts, foldin
from predictors.models import ModelVersion
from predictors.zoo import build_model
from sitewide.numbers import whole_number


class VersionLabelError(ValueError):
    """A version label that names no registered version."""


@dataclass
class LoadedModel:
    version: ModelVersion | None
    model: torch.nn.Module  # in eval mode
    user_ids: np.ndarray  # (n_users,) dataset user id of each row
    item_ids: np.ndarray  # (n_items,) Movie.pk of each item index
    fit_users: np.ndarray | None  # (n,) the interactions the model was fitted on; None in a serving copy
    fit_items: np.ndarray | None

    def item_index(self):
        """Movie.pk -> item index."""
        return {int(pk): index for index, pk in enumerate(self.item_ids)}


def artifact_payload(model_name, result, data):
    model = result.model.eval()
    return {
        "model_name": model_name,
        "hyperparameters": result.params,
        "state_dict": model.state_dict(),
        "serving": model.serving_state(),
        "user_ids": torch.from_numpy(data.user_ids),
        "item_ids": torch.from_numpy(data.item_ids),
        "fit_users": torch.from_numpy(result.fit.users),
        "fit_items": torch.from_numpy(result.fit.items),
        # What fold-in reads of the training data (foldin.prior_weight), so a serving copy need not load it.
        "fold_in": {"interactions_per_user": foldin.interactions_per_user(result.fit.users)},
        "metrics": result.metrics,
        "curves": result.curves,
    }


def model_from_payload(payload, serving=False):
    """The model in eval mode. ``serving``: without the graph when the artifact
    carries the propagated layers (artifacts written before them rebuild it)."""
    n_users, n_items = len(payload["user_ids"]), len(payload["item_ids"])
    serving_state = payload.get("serving") if serving else None
    fit = (None, None) if serving_state else (payload["fit_users"], payload["fit_items"])
    model = build_model(payload["model_name"], payload["hyperparameters"], n_users, n_items, *fit)
    model.load_state_dict(payload["state_dict"])
    if serving_state:
        model.load_serving_state(serving_state)
    fold_in = payload.get("fold_in") or {"interactions_per_user": foldin.interactions_per_user(payload["fit_users"])}
    model.fold_in_interactions_per_user = fold_in["interactions_per_user"]
    return model.eval()


def loaded_model(payload, version=None, serving=False):
    """An artifact's payload -> LoadedModel. Arrays are copied out of the
    payload, so that nothing keeps the artifact file's memory map alive."""
    fit = (None, None) if serving else (payload["fit_users"].numpy().copy(), payload["fit_items"].numpy().copy())
    return LoadedModel(
        version,
        model_from_payload(payload, serving),
        payload["user_ids"].numpy().copy(),
        payload["item_ids"].numpy().copy(),
        *fit,
    )


def register(
    model_name, result, data, dataset_name, fingerprint, store=None, activate=False, baselines=None, fitted_on=None
):
    """Writes the artifact and records a candidate (or active) version;
    ``baselines`` and ``fitted_on``: see ModelVersion."""
    store = store or artifacts.default_store()
    uri, size, sha256 = artifacts.save(store, model_name, artifact_payload(model_name, result, data))
    version = ModelVersion.objects.register(
        model_name=model_name,
        dataset=dataset_name,
        dataset_fingerprint=fingerprint,
        hyperparameters=result.params,
        metrics=result.metrics,
        training_seconds=result.seconds,
        artifact_uri=uri,
        artifact_size=size,
        artifact_sha256=sha256,
        baselines=baselines or {},
        fitted_on=fitted_on or {},
    )
    if activate:
        version.activate()
    return version


def load_version(version, store=None, serving=False):
    payload = artifacts.load(version.artifact_uri, version.artifact_sha256, store)
    return loaded_model(payload, version, serving)


def find_version(label):
    """``ngcf:3`` -> that version; ``ngcf`` -> the active NGCF version."""
    model_name, _, number = label.partition(":")
    if not number:
        version = ModelVersion.objects.active(model_name)
        if version is None:
            raise VersionLabelError(f"No version of {model_name!r} is active; name one as {model_name}:N.")
        return version
    if whole_number(number) is None:
        raise VersionLabelError(f"{label!r} is not a version label; write it as MODEL:NUMBER, e.g. ngcf:3.")
    try:
        return ModelVersion.objects.get(model_name=model_name, version=int(number))
    except ModelVersion.DoesNotExist:
        raise VersionLabelError(f"There is no model version {label}.") from None
