import logging

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from predictors.data import RATINGS_MODES, DataError, fingerprint, from_database
from predictors.defaults import DatasetStats
from predictors.evaluation import PROTOCOLS
from predictors.models import TrainingRun
from predictors.registry import register
from predictors.training import LOSSES, MODEL_NAMES, effort, hyperparameters, protocol_split, train_and_evaluate

log = logging.getLogger(__name__)


def metrics_summary(metrics):
    return "; ".join(
        f"{protocol} " + " ".join(f"{name}={value:.4f}" for name, value in values.items()) for protocol, values in metrics.items()
    )


class Command(BaseCommand):
    help = (
        "Train GMF, MLP, NeuMF, NGCF or EASE on a dataset's interactions, evaluate it with a protocol "
        "(full: 75/25 random split ranked against all items; ncf/d2l: latest interaction held out), "
        "store the artifact and register a model version (named MODEL:VERSION, e.g. ngcf:3). "
        "Options left out take defaults chosen from the dataset's statistics (predictors/defaults.py); "
        "--tune searches them on a validation split instead. EASE is fitted in closed form and takes only --l2 "
        "(its lambda) and --ratings."
    )

    def add_arguments(self, parser):
        parser.add_argument("model_name", choices=MODEL_NAMES, help="Which model to train.")
        parser.add_argument("--epochs", type=int, help="Most epochs (early stopping may end sooner).")
        parser.add_argument("--lr", type=float, help="Adam learning rate.")
        parser.add_argument("--dim", type=int, help="Embedding size (GMF, NGCF) or predictive factors of the MLP tower.")
        parser.add_argument("--layers", type=int, help="MLP tower layers or NGCF propagation layers.")
        parser.add_argument("--negatives", type=int, help="Sampled negatives per positive (pointwise loss).")
        parser.add_argument("--loss", choices=LOSSES,
                            help="softmax or mse over the whole catalog, or sampled: pointwise bce or pairwise bpr.")
        parser.add_argument("--l2", type=float, help="L2 weight on the embeddings (EASE: its lambda).")
        parser.add_argument("--dropout", type=float,
                            help="NGCF's message dropout or the MLP tower's dropout, 0 <= p < 1 (default 0; the NGCF paper uses 0.1).")
        parser.add_argument("--recent-positives", type=int,
                            help="How many of each user's latest interactions an epoch weights more (default 10 for ncf/d2l, 0 for full).")
        parser.add_argument("--recent-weight", type=int, help="How many times an epoch counts each of them (default 3 for ncf/d2l).")
        parser.add_argument("--batch-size", type=int, help="Positives per batch.")
        parser.add_argument("--patience", type=int, help="Epochs without validation gain before stopping.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the split, sampling and initialisation (default 0).")
        parser.add_argument("--dataset", default=None, help="Dataset name (default: settings.MOVIELENS_DATASET).")
        parser.add_argument("--protocol", choices=PROTOCOLS, default="full", help="Evaluation protocol (default full).")
        parser.add_argument("--activate", action="store_true", help="Make the new version the one the site serves.")
        parser.add_argument("--ratings", choices=RATINGS_MODES,
                            help="all: every rating is an interaction (default); weighted: weighed by its stars; "
                                 "threshold: ratings at or below 2 stars are left out of the fitting.")
        parser.add_argument("--tune", action="store_true",
                            help="Search the main hyper-parameters with Optuna on the validation split first.")
        parser.add_argument("--budget-minutes", type=float, default=10.0, help="Time --tune may take (default 10).")

    def handle(self, *args, model_name, dataset, protocol, seed, activate, tune, budget_minutes, **options):
        overrides = {key: options[key] for key in ("epochs", "lr", "dim", "layers", "negatives", "loss", "l2", "dropout",
                                                     "recent_positives", "recent_weight", "batch_size", "patience", "ratings")}
        for key in ("epochs", "dim", "negatives", "batch_size", "patience", "recent_weight"):
            if overrides[key] is not None and overrides[key] < 1:
                raise CommandError(f"--{key.replace('_', '-')} must be at least 1; got {overrides[key]}.")
        if overrides["layers"] is not None and overrides["layers"] < 1:
            raise CommandError(f"--layers must be at least 1; got {overrides['layers']}.")
        if overrides["recent_positives"] is not None and overrides["recent_positives"] < 0:
            raise CommandError(f"--recent-positives must be zero or more; got {overrides['recent_positives']}.")
        if overrides["lr"] is not None and not overrides["lr"] > 0:
            raise CommandError(f"--lr must be a positive number; got {overrides['lr']}.")
        if overrides["l2"] is not None and not overrides["l2"] >= 0:
            raise CommandError(f"--l2 must be zero or a positive number; got {overrides['l2']}.")
        if overrides["dropout"] is not None and not 0 <= overrides["dropout"] < 1:
            raise CommandError(f"--dropout must be at least 0 and below 1; got {overrides['dropout']}.")
        if tune and not budget_minutes > 0:
            raise CommandError(f"--budget-minutes must be a positive number; got {budget_minutes}.")
        try:
            hyperparameters(model_name, protocol, **overrides)  # refuse a bad option before reading the data
        except ValueError as error:
            raise CommandError(str(error)) from None
        dataset = dataset or settings.MOVIELENS_DATASET
        if settings.MODEL_TRAINING_THREADS:
            torch.set_num_threads(settings.MODEL_TRAINING_THREADS)
        try:
            data = from_database(dataset)
        except DataError as error:
            raise CommandError(str(error)) from None
        try:
            params = hyperparameters(model_name, protocol, stats=DatasetStats.from_interactions(data), **overrides)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if tune:
            params = self._tuned(model_name, data, params, protocol, seed, budget_minutes)

        run = TrainingRun.objects.create(model_name=model_name, dataset=dataset, protocol=protocol, hyperparameters=params)
        try:
            result = train_and_evaluate(data, model_name, params, protocol, seed, progress=options["verbosity"] > 0)
            version = register(model_name, result, data, dataset, fingerprint(data), activate=activate)
        except DataError as error:
            self._finish(run, TrainingRun.Status.FAILED, str(error))
            raise CommandError(str(error)) from None
        except BaseException as error:
            self._finish(run, TrainingRun.Status.FAILED, f"{type(error).__name__}: {error}")
            raise
        summary = (
            f"Registered {version.label} ({version.status}) on {dataset}: {metrics_summary(result.metrics)}; "
            f"{effort(result)}."
        )
        run.epochs, run.version = result.curves, version
        self._finish(run, TrainingRun.Status.FINISHED, summary)
        self.stdout.write(summary)

    def _tuned(self, model_name, data, params, protocol, seed, budget_minutes):
        """``params`` with the best trial's values, and the trials under "tuning"."""
        from predictors.tuning import tune

        train, _ = protocol_split(data, protocol, seed)
        self.stdout.write(f"Tuning {model_name} for up to {budget_minutes:g} minutes on the validation split...")
        result = tune(model_name, train, params, budget_minutes * 60, seed=seed,
                      on_trial=lambda trial: self.stdout.write(f"  trial {trial['number']}: {trial['params']} -> {trial['value']}"))
        self.stdout.write(f"Best validation NDCG@10 {result.best_value:.4f} after {len(result.trials)} trials.")
        return {**result.best_params, "tuning": result.as_dict()}

    @staticmethod
    def _finish(run, status, summary):
        run.status, run.summary, run.finished_at = status, summary, timezone.now()
        run.save()
