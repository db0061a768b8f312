import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from predictors.artifacts import ArtifactError
from predictors.data import DataError, fingerprint, from_database
from predictors.management.commands.train_model import metrics_summary
from predictors.registry import VersionLabelError, find_version, load_version
from predictors.training import protocol_split, score_held_out


class Command(BaseCommand):
    help = (
        "Recompute a registered model version's metrics on its own dataset and split. "
        "VERSION is MODEL:NUMBER (e.g. ngcf:3) or MODEL alone for the active version."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", help="MODEL:NUMBER, e.g. gmf:2, or MODEL for the active version.")
        parser.add_argument("--save", action="store_true", help="Store the recomputed metrics on the version.")

    def handle(self, *args, version, save, **options):
        if settings.MODEL_TRAINING_THREADS:
            torch.set_num_threads(settings.MODEL_TRAINING_THREADS)
        try:
            model_version = find_version(version)
            data = from_database(model_version.dataset)
            if fingerprint(data) != model_version.dataset_fingerprint:
                raise CommandError(
                    f"Dataset {model_version.dataset} changed since {model_version.label} was trained; retrain it instead."
                )
            loaded = load_version(model_version)
            params = model_version.hyperparameters
            train, test = protocol_split(data, params["protocol"], params["seed"])
        except (VersionLabelError, DataError, ArtifactError) as error:
            raise CommandError(str(error)) from None
        metrics = score_held_out(loaded.model, params["protocol"], train, test, params["seed"])
        if save:
            model_version.metrics = metrics
            model_version.save(update_fields=["metrics"])
        self.stdout.write(f"{model_version.label} on {model_version.dataset}: {metrics_summary(metrics)}.")
