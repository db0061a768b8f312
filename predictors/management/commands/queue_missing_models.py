from django.core.management.base import BaseCommand

from predictors import jobs


class Command(BaseCommand):
    help = (
        "Queue a training run for each served model that has no active version, no version trained on the "
        "dataset and no run queued or running; the training-job worker (run_training_jobs) trains them and "
        "activates each version its quality gate accepts. Safe to repeat: ./run serve calls it on every start."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", default=None, help="Dataset name (default: settings.MOVIELENS_DATASET).")

    def handle(self, *args, dataset, **options):
        runs = jobs.queue_missing_models(dataset)
        if runs:
            names = ", ".join(run.model_name for run in runs)
            them = "them in turn" if len(runs) > 1 else "it"
            self.stdout.write(f"Queued training for {names} on {runs[0].dataset}; the worker trains {them}.")
        else:
            self.stdout.write("Every served model is trained or queued; nothing to queue.")
