"""The life of a model version, the same for every front door: the train_model
command, the admin's training form (through the job worker) and evaluate_model.

Training evaluates on a split and then fits the served model on every
interaction: the split's training part is fitted with early stopping and
scored on its held-out part, next to popularity and implicit ALS on the same
split; the model that is registered and served is fitted again on all
interactions with the same hyper-parameters, for the epoch counts early
stopping kept (the evaluation's own refit on the split's training part, see
training.fit_model, is scored, never served). The version keeps the split's metrics, the baselines' and what
its artifact was fitted on. Activation goes through the registry's rules
(ModelVersion.activate: the quality gate against popularity).
"""

import dataclasses
import logging
import time

import numpy as np
from django.conf import settings
from django.utils import timezone

from events.heartbeat import worker_name
from predictors import training
from predictors.baselines import fit_als, fit_popularity
from predictors.data import DataError, fingerprint, from_database
from predictors.defaults import DatasetStats
from predictors.evaluation import evaluate as score_protocol
from predictors.models import ActivationRefused, ModelVersion, TrainingRun, ndcg_at_10
from predictors.registry import register
from predictors.zoo import CLOSED_FORM, hyperparameters

log = logging.getLogger(__name__)

BASELINES = {"popularity": lambda train, seed: fit_popularity(train), "als": lambda train, seed: fit_als(train, seed)}
BASELINE_LABELS = {"popularity": "popularity", "als": "implicit ALS"}


class EvaluationError(ValueError):
    """A version that cannot be evaluated again; the message is one sentence."""


@dataclasses.dataclass
class Trained:
    version: ModelVersion
    run: TrainingRun
    result: training.TrainingResult  # the evaluation fit and its split
    summary: str


def limit_threads():
    """torch threads as MODEL_TRAINING_THREADS says (0: torch's own choice)."""
    if settings.MODEL_TRAINING_THREADS:
        import torch

        torch.set_num_threads(settings.MODEL_TRAINING_THREADS)


def metrics_summary(metrics):
    """``full ndcg@10=0.4100 recall@20=0.3300; ...`` for a summary line."""
    return "; ".join(
        f"{protocol} " + " ".join(f"{name}={value:.4f}" for name, value in values.items())
        for protocol, values in metrics.items()
    )


def score_baselines(split, protocol, seed):
    """Popularity's and binary implicit ALS's metrics on the evaluation split."""
    train, test = split
    return {
        name: score_protocol(fit(train, seed), protocol, train, test, np.random.default_rng(seed + 2))
        for name, fit in BASELINES.items()
    }


def epochs_kept(curves):
    """Per stage, the epoch whose weights early stopping kept: the first with
    the stage's best validation NDCG@10."""
    kept = {}
    for stage in dict.fromkeys(entry["stage"] for entry in curves):
        entries = [entry for entry in curves if entry["stage"] == stage]
        kept[stage] = entries[int(np.argmax([entry["val_ndcg@10"] for entry in entries]))]["epoch"]
    return kept


def fitted_on(data, model_name, epochs):
    counts = {"interactions": len(data), "users": data.n_users, "items": data.n_items}
    if model_name in CLOSED_FORM:
        return {**counts, "epochs": None}
    stages = {stage: count for stage, count in epochs.items() if stage != model_name}
    return {**counts, "epochs": epochs[model_name], **({"stage_epochs": stages} if stages else {})}


def _failure_message(error):
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        return "The worker was stopped while this run was going; queue it again."
    if isinstance(error, (DataError, ValueError)):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _recorded(run, work):
    """Runs ``work()``; a failure (interrupts too) is written on the run, then raised."""
    try:
        return work()
    except BaseException as error:
        run.finish(TrainingRun.Status.FAILED, _failure_message(error))
        raise


def start_run(model_name, dataset, protocol="full", seed=0, overrides=None):
    """A run for train_model, which trains at once (the admin queues one, see jobs)."""
    return TrainingRun.objects.create(
        model_name=model_name,
        dataset=dataset,
        protocol=protocol,
        seed=seed,
        overrides=overrides or {},
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        worker=worker_name(),
    )


def _served_stage(run):
    """on_epoch for the final fit: progress named so the dashboard tells it from the evaluation."""

    def record(entry, max_epochs):
        run.record_epoch({**entry, "stage": f"{entry['stage']} (all data)"}, max_epochs)

    return record


def tuned_hyperparameters(model_name, data, params, protocol, seed, budget_seconds, on_trial=None):
    """``params`` with the best Optuna trial's values, searched on the
    validation split of the evaluation split's training part (never its test
    part), and every trial kept under "tuning" (they travel with the version's
    hyper-parameters and its artifact)."""
    from predictors.tuning import tune

    train, _ = training.protocol_split(data, protocol, seed)
    result = tune(model_name, train, params, budget_seconds, seed=seed, on_trial=on_trial)
    log.info("%s: best validation NDCG@10 %.4f after %d trials", model_name, result.best_value, len(result.trials))
    return {**result.best_params, "tuning": result.as_dict()}


def train(run, progress=None, tune_seconds=None, on_trial=None):
    """Trains ``run``'s model as described above and registers a candidate;
    the run records progress, the curve and the summary. Raises DataError or
    ValueError with one sentence for data or settings it cannot train on.
    ``progress``: bars on a terminal by default (training.progress_bar).
    Options the run leaves out take defaults from the dataset's statistics
    (predictors.defaults); ``tune_seconds`` first searches them with Optuna
    for that long (``on_trial(trial)`` after each trial)."""

    def work():
        data = from_database(run.dataset)
        stats = DatasetStats.from_interactions(data)
        params = hyperparameters(run.model_name, run.protocol, stats=stats, **run.overrides)
        if tune_seconds:
            params = tuned_hyperparameters(run.model_name, data, params, run.protocol, run.seed, tune_seconds, on_trial)
        run.hyperparameters = params
        run.save(update_fields=["hyperparameters"])
        result = training.train_and_evaluate(
            data, run.model_name, params, run.protocol, run.seed, progress, run.record_epoch
        )
        baselines = score_baselines(result.split, run.protocol, run.seed)
        started = time.perf_counter()
        # The one served fit: all interactions, for the epochs early stopping kept.
        epochs = epochs_kept(result.curves)
        model, fit, _ = training.fit_model(
            run.model_name,
            data,
            result.params,
            np.random.default_rng(run.seed + 3),
            progress,
            _served_stage(run),
            epochs=epochs,
        )
        served = dataclasses.replace(
            result, model=model, fit=fit, seconds=result.seconds + time.perf_counter() - started
        )
        version = register(
            run.model_name,
            served,
            data,
            run.dataset,
            fingerprint(data),
            baselines=baselines,
            fitted_on=fitted_on(fit, run.model_name, epochs),
        )
        summary = training_summary(version, result)
        run.finish(
            TrainingRun.Status.FINISHED, summary, hyperparameters=result.params, epochs=result.curves, version=version
        )
        return Trained(version, run, result, summary)

    return _recorded(run, work)


def activate(trained, force=False):
    """Serves ``trained``'s version when the registry's rules allow it and
    brings the summary up to date (it names the version's status); returns
    the ActivationRefused, or None when the version is now served."""
    refused = None
    try:
        trained.version.activate(force=force)
    except ActivationRefused as error:
        refused = error
    trained.summary = training_summary(trained.version, trained.result)
    trained.run.summary = trained.summary if refused is None else f"{trained.summary} {refused}."
    trained.run.save(update_fields=["summary"])
    return refused


def training_summary(version, result):
    """The one line train_model and the dashboard show for a trained version."""
    baselines = " ".join(
        f"{BASELINE_LABELS[name]} ndcg@10={value:.4f}" for name, value in baseline_ndcg(version).items()
    )
    served = version.fitted_on
    epochs = "" if served.get("epochs") is None else f" for {served['epochs']} epochs"
    served_seconds = max(version.training_seconds - result.seconds, 0)
    return (
        f"Registered {version.label} ({version.status}) on {version.dataset}: {metrics_summary(version.metrics)}; "
        f"same split: {baselines}; {training.effort(result)}; served model fitted on all "
        f"{served['interactions']:,} interactions{epochs} in {served_seconds:.0f} s."
    )


def baseline_ndcg(version):
    return {name: ndcg_at_10(metrics) for name, metrics in (version.baselines or {}).items()}


def comparison_rows(version):
    """(name, NDCG@10, recall@20 or None) for the version and its baselines, the quality table train_model prints."""

    def row(label, metrics):
        return label, ndcg_at_10(metrics), (metrics or {}).get("full", {}).get("recall@20")

    return [
        row(version.label, version.metrics),
        *(row(BASELINE_LABELS.get(name, name), metrics) for name, metrics in (version.baselines or {}).items()),
    ]


def evaluate(version, save=False, run=None, progress=None):
    """Scores ``version``'s recipe on its own split again: its artifact must
    still load, its dataset must be unchanged, and the split's fit is redone
    with its hyper-parameters and seed (the served artifact saw the held-out
    part, so scoring it there would flatter it). Returns (metrics, baselines);
    ``save`` stores them on the version."""
    problem = version.artifact_problem()
    if problem:
        raise EvaluationError(problem)
    data = from_database(version.dataset)
    if fingerprint(data) != version.dataset_fingerprint:
        raise EvaluationError(
            f"Dataset {version.dataset} changed since {version.label} was trained; retrain it instead."
        )
    params = version.hyperparameters
    on_epoch = run.record_epoch if run is not None else None
    result = training.train_and_evaluate(
        data, version.model_name, params, params["protocol"], params["seed"], progress, on_epoch
    )
    baselines = score_baselines(result.split, params["protocol"], params["seed"])
    if save:
        version.metrics, version.baselines = result.metrics, baselines
        version.save(update_fields=["metrics", "baselines"])
    return result.metrics, baselines


def evaluate_run(run, progress=None):
    """A queued re-evaluation: ``evaluate(run.target, save=True)`` recorded on the run."""

    def work():
        if run.target is None:
            raise EvaluationError("The version to re-evaluate no longer exists.")
        metrics, _ = evaluate(run.target, save=True, run=run, progress=progress)
        summary = f"{run.target.label} on {run.target.dataset}: {metrics_summary(metrics)}."
        run.finish(TrainingRun.Status.FINISHED, summary, version=run.target)
        return summary

    return _recorded(run, work)
