from django.core.management.base import BaseCommand, CommandError

from predictors import training_service
from predictors.data import DataError
from predictors.registry import VersionLabelError, find_version


class Command(BaseCommand):
    help = (
        "Recompute a registered model version's metrics on its own dataset and split: its artifact must still load, "
        "and the split's fit is redone with its hyper-parameters and seed (the served artifact was fitted on every "
        "interaction, the held-out part too). VERSION is MODEL:NUMBER (e.g. ngcf:3) or MODEL alone for the active "
        "version."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", help="MODEL:NUMBER, e.g. gmf:2, or MODEL for the active version.")
        parser.add_argument("--save", action="store_true", help="Store the recomputed metrics on the version.")

    def handle(self, *args, version, save, **options):
        training_service.limit_threads()
        try:
            model_version = find_version(version)
            metrics, baselines = training_service.evaluate(model_version, save=save, progress=options["verbosity"] > 1)
        except (VersionLabelError, DataError, training_service.EvaluationError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{model_version.label} on {model_version.dataset}: {training_service.metrics_summary(metrics)}."
        )
