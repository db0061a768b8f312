from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from predictors import training_service
from predictors.data import DataError
from predictors.evaluation import PROTOCOLS
from predictors.zoo import CLOSED_FORM, DEFAULTS, MODEL_NAMES, SETTINGS, hyperparameters


class Command(BaseCommand):
    help = (
        "Train GMF, MLP, NeuMF, NGCF or EASE on a dataset's interactions, evaluate it with a protocol "
        "(full: 75/25 random split ranked against all items; ncf/d2l: latest interaction held out), "
        "store the artifact and register a model version (named MODEL:VERSION, e.g. ngcf:3). "
        "Options left out take the model's defaults: "
        + "; ".join(
            f"{name}: dim {d['dim']}, layers {d['layers']}, lr {d['lr']}, epochs {d['epochs']}"
            for name, d in DEFAULTS.items()
            if name not in CLOSED_FORM
        )
        + "; ease: fitted in closed form, --l2 (its lambda) "
        + str(DEFAULTS["ease"]["l2"])
        + " and no other option."
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
        parser.add_argument("--loss", choices=["bce", "bpr"], help="Pointwise cross-entropy or pairwise BPR.")
        parser.add_argument("--l2", type=float, help="L2 weight on the batch embeddings (EASE: lambda, default 400).")
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

    def handle(self, *args, model_name, dataset, protocol, seed, activate, force, **options):
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
        if overrides["l2"] is not None and not overrides["l2"] >= 0:
            raise CommandError(f"--l2 must be zero or a positive number; got {overrides['l2']}.")
        if overrides["dropout"] is not None and not 0 <= overrides["dropout"] < 1:
            raise CommandError(f"--dropout must be at least 0 and below 1; got {overrides['dropout']}.")
        try:
            hyperparameters(model_name, protocol, **overrides)
        except ValueError as error:
            raise CommandError(str(error)) from None
        training_service.limit_threads()
        given = {key: value for key, value in overrides.items() if value is not None}
        run = training_service.start_run(model_name, dataset or settings.MOVIELENS_DATASET, protocol, seed, given)
        try:
            # Bars only on a terminal (None); elsewhere the summary line below says how it went.
            trained = training_service.train(run, progress=None if options["verbosity"] > 0 else False)
        except DataError as error:
            raise CommandError(str(error)) from None
        refused = training_service.activate(trained, force=force) if activate else None
        self.stdout.write(trained.summary)
        self.write_quality_table(trained.version)
        if refused:
            raise CommandError(f"{refused}; --force activates it anyway.")

    def write_quality_table(self, version):
        """The new version next to the baselines on the same split."""
        self.stdout.write(f"{'':14} {'NDCG@10':>8} {'Recall@20':>10}")
        for label, ndcg, recall in training_service.comparison_rows(version):
            cells = [f"{value:.4f}" if value is not None else "-" for value in (ndcg, recall)]
            self.stdout.write(f"{label:14} {cells[0]:>8} {cells[1]:>10}")
