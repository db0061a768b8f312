"""Untuned hyper-parameters from a dataset's own statistics.

``default_hyperparameters(model_name, DatasetStats.from_interactions(data))``
is what ``train_model`` trains with when no option is given. The rule reads
only counts (users, items, interactions and what follows from them), never a
dataset's name, so a MovieLens sample nobody tuned on gets the same reasoning
as the ones we measured. The measurements behind each constant are in
docs/tuning.md ("Training defaults"); they were made on validation splits
carved out of the training part, never on a test split.

This module needs neither Django nor torch.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

# Scoring the whole catalog for every user once per epoch is the most
# informative loss (every unseen movie is a negative), and it is cheap while
# users x items stays below this many cells; above it, sampled negatives.
FULL_CATALOG_CELLS = 50_000_000
# EASE's lambda is added to item co-occurrence counts, so it grows with how
# many users an item has; the square root keeps the penalty from swamping
# the rare items of a long-tailed catalog. Measured on two catalogs whose
# items have 8 and 45 users on average (docs/tuning.md).
EASE_LAMBDA_PER_SQRT_DEGREE = 60.0
# GMF by weighted least squares over the whole catalog (predictors.least_squares):
# every unseen cell weighs 1, an interaction 1 + confidence, l2 the
# unnormalised penalty on each user's and item's factors. One alternating
# sweep is an epoch. The solve runs its 15 sweeps (implicit's default, as the
# ALS peer does) instead of early-stopping: validation is flat within its
# noise after 5 sweeps, so a stop there is picked on noise, and the refit on
# the whole training part then stopped short of its solution (docs/tuning.md).
GMF_LEAST_SQUARES = {"loss": "wls", "dim": 128, "l2": 30.0, "confidence": 3.0, "epochs": 15, "early_stopping": False}
# GMF asked for a gradient loss instead: epochs until validation stops improving.
GRADIENT_STOPPING = {"epochs": 30, "patience": 5}

NGCF_MIN_BATCH = 128


@dataclass(frozen=True)
class DatasetStats:
    n_users: int
    n_items: int
    n_interactions: int

    @classmethod
    def from_interactions(cls, data):
        """The statistics of a predictors.data.Interactions (or anything with
        ``users``, ``items``, ``n_users`` and ``n_items``)."""
        users = np.asarray(data.users)
        items = np.asarray(data.items)
        return cls(
            n_users=int(data.n_users),
            n_items=int(data.n_items),
            n_interactions=int(len(users) if len(users) else len(items)),
        )

    @property
    def density(self):
        return self.n_interactions / max(self.n_users * self.n_items, 1)

    @property
    def mean_items_per_user(self):
        return self.n_interactions / max(self.n_users, 1)

    @property
    def mean_users_per_item(self):
        return self.n_interactions / max(self.n_items, 1)

    @property
    def catalog_cells(self):
        return self.n_users * self.n_items

    def as_dict(self):
        return {
            **asdict(self),
            "density": self.density,
            "mean_items_per_user": self.mean_items_per_user,
            "mean_users_per_item": self.mean_users_per_item,
        }


def _round_sig(value, digits=2):
    """3.1e-3 rather than 0.0031415: defaults people can read and type."""
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def _embedding_defaults(stats):
    """What GMF, MLP, NeuMF and NGCF share: the loss, its batch and its patience."""
    if stats.catalog_cells <= FULL_CATALOG_CELLS:
        # Batches of users, each scored against the whole catalog: an epoch is
        # n_users / batch_size steps, so small user bases want small batches
        # to take enough steps per epoch.
        batch = int(min(256, max(32, 2 ** round(math.log2(max(stats.n_users, 1) / 16)))))
        common = {"loss": "softmax", "negatives": 0, "batch_size": batch}
    else:
        common = {"loss": "bce", "negatives": 16, "batch_size": 1024}
    return {
        **common,
        "patience": 15,
        "refit": True,
        "dropout": 0.0,
        "weight_decay": 0.0,
        "recent_positives": 0,
        "recent_weight": 1,
        "ratings": "all",
    }


def _fine_tuned_from_least_squares(common, stats):
    """What NeuMF and NGCF share: a GMF branch solved as GMF is, the model
    started from it (its start is epoch 0 of the curve, kept unless
    fine-tuning beats it on validation) and fine-tuned on the same weighted
    squares by gradient steps, the L2 the least squares' penalty per
    interaction of a user (the mse loss is a mean)."""
    return {
        **common,
        "loss": "mse" if common["loss"] in ("softmax", "mse") else common["loss"],
        "confidence": GMF_LEAST_SQUARES["confidence"],
        "dim": GMF_LEAST_SQUARES["dim"],
        "l2": _round_sig(GMF_LEAST_SQUARES["l2"] / max(stats.mean_items_per_user, 1.0)),
        "score_start": True,
        "pretrain": True,
        "branches": {"gmf": {key: value for key, value in GMF_LEAST_SQUARES.items() if key != "dim"}},
    }


def default_hyperparameters(model_name, stats):
    """The untuned hyper-parameters of ``model_name`` for a dataset with these ``stats``."""
    if model_name == "ease":
        return {
            "l2": _round_sig(EASE_LAMBDA_PER_SQRT_DEGREE * math.sqrt(max(stats.mean_users_per_item, 1.0))),
            "ratings": "all",
        }
    common = _embedding_defaults(stats)
    if model_name == "gmf":
        return {**common, **GMF_LEAST_SQUARES, "layers": 0, "lr": 1e-2}
    if model_name == "mlp":
        return {**common, "dim": 32, "layers": 2, "lr": 3e-3, "epochs": 200, "l2": 0.01}
    if model_name == "neumf":
        # The GMF branch as GMF is trained; the MLP branch and the fused model
        # on the same weighted squares by gradient steps.
        start = _fine_tuned_from_least_squares(common, stats)
        return {
            **start,
            "layers": 2,
            "lr": 1e-3,
            "epochs": 10,
            "patience": 3,
            "alpha": 0.5,
            "alpha_grid": [1.0, 0.9, 0.8, 0.65, 0.5],
            "branches": {
                **start["branches"],
                # Narrow and shallow: a tower scores every (user, movie) cell of
                # the catalog loss, so its width is the epoch's cost; at
                # dim 128 x 2 layers an epoch of ml-latest-small took minutes.
                "mlp": {"dim": 16, "layers": 1, "epochs": 15, "patience": 3, "lr": 3e-3, "l2": start["l2"]},
            },
        }
    if model_name == "ngcf":
        # Layer 0 starts from GMF's least-squares factors and the graph layers
        # at weight gate (chosen from gate_grid on validation; 0 is GMF's own
        # scores), then the whole model is fine-tuned on the same weighted
        # squares (docs/tuning.md, "NGCF from the factorisation").
        return {
            **_fine_tuned_from_least_squares(common, stats),
            # Every step propagates the whole graph, whatever its batch, so a
            # step costs the graph's size: few large batches per epoch.
            "batch_size": max(common["batch_size"], NGCF_MIN_BATCH),
            "layers": 3,
            "lr": 3e-4,
            "epochs": 6,
            "patience": 2,
            "gate_grid": [0.0, 0.05, 0.1],
        }
    raise ValueError(f"Unknown model {model_name!r}.")
