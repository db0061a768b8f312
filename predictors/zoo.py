"""The model zoo: each model name with its class, how to build one and its default
hyper-parameters.

The registry builds a model from an artifact through here, without the training
loop; the training loop, the commands and the admin form read the defaults here.
Tuning history behind the defaults is in docs/tuning.md.
"""
from predictors.ease import EASE
from predictors.gmf import GMF
from predictors.mlp import MLP
from predictors.names import MODEL_LABELS
from predictors.neumf import NeuMF
from predictors.ngcf import NGCF, interaction_graph

MODEL_NAMES = tuple(MODEL_LABELS)
MODEL_CLASSES = {"gmf": GMF, "mlp": MLP, "neumf": NeuMF, "ngcf": NGCF, "ease": EASE}

COMMON = {"negatives": 4, "loss": "bce", "batch_size": 256, "patience": 4, "dropout": 0.0, "l2": 0.0,
          "weight_decay": 0.0, "recent_positives": 0, "recent_weight": 1}
DEFAULTS = {
    "gmf": {**COMMON, "dim": 64, "layers": 0, "lr": 2e-3, "epochs": 30, "l2": 1e-2},
    "mlp": {**COMMON, "dim": 32, "layers": 2, "lr": 1e-3, "epochs": 30, "l2": 1e-4},
    # NeuMF pre-trains a GMF and an MLP with their defaults (and its dim/layers), then fine-tunes.
    "neumf": {**COMMON, "dim": 64, "layers": 2, "lr": 2e-4, "epochs": 20, "l2": 1e-4, "alpha": 0.5, "pretrain": True,
              "patience": 3},
    # Message dropout stays available (--dropout; the paper's .1) but is off: it
    # scored lower on a tuning split. The 45-epoch cap, not patience, ends a run:
    # the one-item validation stays flat within its noise after the peak.
    "ngcf": {**COMMON, "dim": 64, "layers": 3, "lr": 3e-3, "epochs": 45, "loss": "bpr", "negatives": 8,
             "batch_size": 4096, "dropout": 0.0, "l2": 1e-5, "patience": 10},
    # Fitted in closed form: no epochs, sampling or learning rate, only lambda.
    # lambda adds to co-occurrence counts, so a much larger dataset wants a larger one.
    "ease": {"l2": 400.0},
}
CLOSED_FORM = {"ease"}
# The hyper-parameters a training run may set (train_model's options, the admin form's fields).
SETTINGS = ("epochs", "lr", "dim", "layers", "negatives", "loss", "l2", "dropout", "recent_positives", "recent_weight",
            "batch_size", "patience")

# The latest-interaction protocols (ncf, d2l) ask for each user's next movie,
# and what a user watched last says most about it, so an epoch goes through
# each user's 10 latest training interactions three times. A random hold-out
# (full) has no such order: off.
NEXT_MOVIE = {"recent_positives": 10, "recent_weight": 3}
PROTOCOL_DEFAULTS = {"full": {}, "ncf": NEXT_MOVIE, "d2l": NEXT_MOVIE}


def hyperparameters(model_name, protocol="full", **overrides):
    """The defaults for ``model_name`` trained for ``protocol``, with the given non-None overrides."""
    if model_name not in DEFAULTS:
        raise ValueError(f"Unknown model {model_name!r}; choose one of {', '.join(MODEL_NAMES)}.")
    given = {key: value for key, value in overrides.items() if value is not None}
    if model_name in CLOSED_FORM:  # no epochs, so no recency weighting either: only its own settings
        unused = sorted(set(given) - set(DEFAULTS[model_name]))
        if unused:
            raise ValueError(f"{model_name.upper()} is fitted in closed form and takes only "
                             f"{', '.join(DEFAULTS[model_name])}; {', '.join(unused)} does not apply to it.")
        return {**DEFAULTS[model_name], **given}
    params = {**DEFAULTS[model_name], **PROTOCOL_DEFAULTS[protocol], **given}
    if params["loss"] == "bpr" and "negatives" not in given and DEFAULTS[model_name]["loss"] != "bpr":
        params["negatives"] = 1  # a pointwise model switched to BPR: one negative per pair unless asked for more
    return params


def build_model(model_name, params, n_users, n_items, users, items):
    """An untrained model; ``users``/``items`` are the interactions a graph model
    propagates over (None for a serving copy, see NGCF.load_serving_state)."""
    model = _untrained(model_name, params, n_users, n_items, users, items)
    model.training_negatives = params.get("negatives")  # fold-in's likelihood weighs the catalog as training did
    return model


def _untrained(model_name, params, n_users, n_items, users, items):
    if model_name not in MODEL_CLASSES:
        raise ValueError(f"Unknown model {model_name!r}; choose one of {', '.join(MODEL_NAMES)}.")
    model_class = MODEL_CLASSES[model_name]
    if model_class is NGCF:
        graph = None if users is None else interaction_graph(users, items, n_users, n_items)
        return NGCF(graph, params["dim"], params["layers"], params["dropout"], n_nodes=(n_users, n_items))
    if model_class is EASE:
        return EASE(n_users, n_items, users, items)
    if model_class is GMF:
        return GMF(n_users, n_items, params["dim"])
    return model_class(n_users, n_items, params["dim"], params["layers"], params["dropout"])
