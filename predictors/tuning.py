"""Hyper-parameter search with Optuna on the training part's validation split.

``tune(model_name, train, base_params, budget_seconds)`` searches a model's
main hyper-parameters (embedding size, learning rate, L2, loss or negatives,
NGCF's layers, NeuMF's branch mix; EASE's lambda) and returns the best
parameters with every trial as plain data, to be stored with the version.
Each trial trains on the same fit part and is scored on the same validation
interactions as train_and_evaluate's early stopping (training.validation_split
with the same seed), so no test interaction is ever looked at. The epoch
count is not searched: each trial early-stops on validation (a least-squares
solve runs all its sweeps); a trial is scored by the epoch it kept, which is
recorded with it.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import optuna
import torch

from predictors import training

log = logging.getLogger(__name__)


# name -> ("categorical", choices) or ("float"/"int", low, high): log-uniform ranges.
EMBEDDING_SPACE = {
    "dim": ("categorical", [16, 32, 64, 128, 256]),
    "lr": ("float", 1e-3, 3e-2),
    "l2": ("float", 1e-3, 0.3),
}

# GMF by weighted least squares: l2 is the unnormalised penalty, confidence
# the extra weight of an interaction's cell.
LEAST_SQUARES_SPACE = {
    "dim": ("categorical", [16, 32, 64, 128, 256]),
    "l2": ("float", 1.0, 300.0),
    "confidence": ("float", 0.3, 30.0),
}


def search_space(model_name, base_params):
    """The hyper-parameters tuned for ``model_name`` and their ranges."""
    if model_name == "ease":
        return {"l2": ("float", 10.0, 5000.0)}
    if base_params["loss"] in training.LEAST_SQUARES:  # GMF solved per side: no learning rate
        return dict(LEAST_SQUARES_SPACE)
    space = dict(EMBEDDING_SPACE)
    if base_params["loss"] in training.CATALOG_LOSSES:
        space["loss"] = ("categorical", list(training.CATALOG_LOSSES))
    else:
        space["negatives"] = ("int", 1, 64)
    if model_name == "ngcf":
        space["layers"] = ("int", 1, 3)
    if model_name == "neumf":
        space["alpha"] = ("float", 0.2, 0.8)
    return space


def suggest(trial, space):
    params = {}
    for name, (kind, *bounds) in space.items():
        if kind == "categorical":
            params[name] = trial.suggest_categorical(name, bounds[0])
        elif kind == "int":
            params[name] = trial.suggest_int(name, *bounds, log=True)
        else:
            params[name] = trial.suggest_float(name, *bounds, log=True)
    return params


def _within(value, kind, *bounds):
    return value in bounds[0] if kind == "categorical" else bounds[0] <= value <= bounds[1]


@dataclass
class TuningResult:
    best_params: dict  # base_params with the best trial's values
    best_value: float  # its validation NDCG@10
    trials: list = field(default_factory=list)  # [{number, params, value, duration, state, kept_epoch}]
    seconds: float = 0.0

    def as_dict(self):
        """What is stored with the version (JSON-serialisable)."""
        return {"best_value": self.best_value, "seconds": self.seconds, "trials": self.trials}


def validation_score(model_name, train, params, seed):
    """(validation NDCG@10, kept epoch) of ``params`` trained on the fit part of ``train``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + 1)
    fit, validation = training.validation_split(train, rng)
    if model_name in training.CLOSED_FORM:
        model = training.closed_form_model(model_name, fit, params)
        return training.validation_scores(model, fit, validation)["val_ndcg@10"], None
    used = training.rated_view(fit, params.get("ratings", "all"))
    _, curves, _ = training.fit_stages(model_name, used, validation, params, rng, False, None, fit)
    # Scored as served: by the epoch the model keeps (a least-squares solve keeps its last sweep, not its best).
    kept = training.kept_entry([entry for entry in curves if entry["stage"] == model_name], params)
    return kept["val_ndcg@10"], kept["epoch"]


def tune(model_name, train, base_params, budget_seconds, seed=0, n_trials=None, on_trial=None):
    """Searches ``model_name``'s space for ``budget_seconds`` (or ``n_trials``),
    starting with ``base_params`` themselves as trial 0, so the result is never
    worse on validation than the defaults. ``on_trial(trial_dict)`` is called
    after each trial."""
    space = search_space(model_name, base_params)
    records = []
    started = time.perf_counter()

    def objective(trial):
        params = {**base_params, **suggest(trial, space)}
        value, kept = validation_score(model_name, train, params, seed)
        trial.set_user_attr("kept_epoch", kept)
        return value

    def record(study, trial):
        entry = {
            "number": trial.number,
            "params": dict(trial.params),
            "value": trial.value,
            "duration": trial.duration.total_seconds() if trial.duration else None,
            "state": trial.state.name,
            "kept_epoch": trial.user_attrs.get("kept_epoch"),
        }
        records.append(entry)
        log.info("trial %d: %s -> %s (%.0f s)", trial.number, entry["params"], entry["value"], entry["duration"] or 0)
        if on_trial is not None:
            on_trial(entry)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(
        {
            name: base_params[name]
            for name, bounds in space.items()
            if name in base_params and _within(base_params[name], *bounds)
        }
    )
    study.optimize(objective, n_trials=n_trials, timeout=budget_seconds, callbacks=[record], catch=(RuntimeError,))
    completed = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        return TuningResult(dict(base_params), float("nan"), records, time.perf_counter() - started)
    best = study.best_trial
    return TuningResult({**base_params, **best.params}, best.value, records, time.perf_counter() - started)
