from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from predictors import training_service
from predictors.data import RATINGS_MODES, DataError
from predictors.evaluation import PROTOCOLS
from predictors.zoo import LOSSES, MODEL_NAMES, SETTINGS, hyperparameters


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
        parser.add_argument(
            "--dim", type=int, help="Embedding size (GMF, NGCF) or predictive factors of the MLP tower."
        )
        parser.add_argument("--layers", type=int, help="MLP tower layers or NGCF propagation layers.")
        parser.add_argument("--negatives", type=int, help="Sampled negatives per positive (pointwise loss).")
        parser.add_argument(
            "--loss",
            choices=LOSSES,
            help="softmax or mse over the whole catalog, sampled: pointwise bce or pairwise bpr; "
            "wls (GMF's default): weighted least squares solved per side.",
        )
        parser.add_argument(
            "--confidence",
            type=float,
            help="mse and wls losses: an interaction's cell weighs 1 + this, an unseen one 1 (GMF default 3).",
        )
        parser.add_argument("--l2", type=float, help="L2 weight on the embeddings (EASE: its lambda).")
        parser.add_argument(
            "--dropout",
            type=float,
            help="NGCF's message dropout or the MLP tower's dropout, 0 <= p < 1 (default 0; the NGCF paper uses 0.1).",
        )
        parser.add_argument(
            "--recent-positives",
            type=int,
            help="How many of each user's latest interactions an epoch weights more "
            "(default 10 for ncf/d2l, 0 for full).",
        )
        parser.add_argument(
            "--recent-weight", type=int, help="How many times an epoch counts each of them (default 3 for ncf/d2l)."
        )
        parser.add_argument("--batch-size", type=int, help="Positives per batch.")
        parser.add_argument("--patience", type=int, help="Epochs without validation gain before stopping.")
        parser.add_argument(
            "--seed", type=int, default=0, help="Seed of the split, sampling and initialisation (default 0)."
        )
        parser.add_argument("--dataset", default=None, help="Dataset name (default: settings.MOVIELENS_DATASET).")
        parser.add_argument("--protocol", choices=PROTOCOLS, default="full", help="Evaluation protocol (default full).")
        parser.add_argument(
            "--activate",
            action="store_true",
            help="Make the new version the one the site serves, unless its NDCG@10 is below popularity's.",
        )
        parser.add_argument("--force", action="store_true", help="With --activate: activate it even below popularity.")
        parser.add_argument(
            "--ratings",
            choices=RATINGS_MODES,
            help="all: every rating is an interaction (default); weighted: weighed by its stars; "
            "threshold: ratings at or below 2 stars are left out of the fitting.",
        )
        parser.add_argument(
            "--tune",
            action="store_true",
            help="Search the main hyper-parameters with Optuna on the validation split first.",
        )
        parser.add_argument("--budget-minutes", type=float, default=10.0, help="Time --tune may take (default 10).")

    def handle(self, *args, model_name, dataset, protocol, seed, activate, force, tune, budget_minutes, **options):
        overrides = {key: options[key] for key in SETTINGS}
        for key in ("epochs", "dim", "negatives", "batch_size", "patience", "recent_weight"):
            if overrides[key] is not None and overrides[key] < 1:
                raise CommandError(f"--{key.replace('_', '-')} must be at least 1; got {overrides[key]}.")
        if overrides["layers"] is not None and overrides["layers"] < 1:
            raise CommandError(f"--layers must be at least 1; got {overrides['layers']}.")
        if overrides["recent_positives"] is not None and overrides["recent_positives"] < 0:
            raise CommandError(f"--recent-positives must be zero or more; got {overrides['recent_positives']}.")
        if overrides["lr"] is not None and not overrides["lr"] > 0:
            raise CommandError(f"--lr must be a positive number; got {overrides['lr']}.")
        if overrides["confidence"] is not None and not overrides["confidence"] >= 0:
            raise CommandError(f"--confidence must be zero or a positive number; got {overrides['confidence']}.")
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
        training_service.limit_threads()
        given = {key: value for key, value in overrides.items() if value is not None}
        run = training_service.start_run(model_name, dataset or settings.MOVIELENS_DATASET, protocol, seed, given)
        try:
            # Bars only on a terminal (None); elsewhere the summary line below says how it went.
            trained = training_service.train(
                run,
                progress=None if options["verbosity"] > 0 else False,
                tune_seconds=budget_minutes * 60 if tune else None,
                on_trial=self.write_trial,
            )
        except DataError as error:
            raise CommandError(str(error)) from None
        refused = training_service.activate(trained, force=force) if activate else None
        tuning = trained.result.params.get("tuning")
        if tuning:
            self.stdout.write(
                f"Tuned: best validation NDCG@10 {tuning['best_value']:.4f} after {len(tuning['trials'])} trials "
                f"in {tuning['seconds']:.0f} s; the trials are kept with the version's hyper-parameters."
            )
        self.stdout.write(trained.summary)
        self.write_quality_table(trained.version)
        if refused:
            raise CommandError(f"{refused}; --force activates it anyway.")

    def write_trial(self, trial):
        if trial["number"] == 0:
            self.stdout.write("Tuning on the validation split; trial 0 is the defaults.")
        value = "-" if trial["value"] is None else f"{trial['value']:.4f}"
        self.stdout.write(f"  trial {trial['number']}: {trial['params']} -> validation NDCG@10 {value}")

    def write_quality_table(self, version):
        """The new version next to the baselines on the same split."""
        self.stdout.write(f"{'':14} {'NDCG@10':>8} {'Recall@20':>10}")
        for label, ndcg, recall in training_service.comparison_rows(version):
            cells = [f"{value:.4f}" if value is not None else "-" for value in (ndcg, recall)]
            self.stdout.write(f"{label:14} {cells[0]:>8} {cells[1]:>10}")
