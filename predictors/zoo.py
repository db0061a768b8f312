"""The model zoo: each model name with its class, how to build one and its default
hyper-parameters.

The registry builds a model from an artifact through here, without the training
loop; the training loop, the commands and the admin form read the defaults here.
Untrained defaults come from a dataset's statistics (predictors/defaults.py);
DEFAULTS are that rule on a reference size, for callers with no data at hand.
Tuning history behind the defaults is in docs/tuning.md.
"""

from importlib import import_module

from predictors.data import RATINGS_MODES
from predictors.defaults import GRADIENT_STOPPING, DatasetStats, default_hyperparameters
from predictors.names import MODEL_LABELS

MODEL_NAMES = tuple(MODEL_LABELS)
# Module and class per model, imported on first build: the admin, the
# consumer and migrate read the defaults here without loading torch or DGL.
MODEL_CLASSES = {
    "gmf": ("predictors.gmf", "GMF"),
    "mlp": ("predictors.mlp", "MLP"),
    "neumf": ("predictors.neumf", "NeuMF"),
    "ngcf": ("predictors.ngcf", "NGCF"),
    "ease": ("predictors.ease", "EASE"),
}

VALIDATION_FRACTION = 0.1
CATALOG_LOSSES = ("softmax", "mse")
SAMPLED_LOSSES = ("bce", "bpr")
# Weighted least squares over the whole catalog solved in closed form per
# side (predictors.least_squares): only for GMF, whose score is bilinear.
LEAST_SQUARES = ("wls",)
LOSSES = CATALOG_LOSSES + SAMPLED_LOSSES + LEAST_SQUARES
# The static defaults, for callers that have no data at hand (the admin form's
# checks, help texts); training passes the dataset's statistics and gets
# predictors.defaults' rule for that dataset instead.
REFERENCE_STATS = DatasetStats(n_users=943, n_items=1682, n_interactions=100_000)
DEFAULTS = {name: default_hyperparameters(name, REFERENCE_STATS) for name in MODEL_CLASSES}
CLOSED_FORM = {"ease"}
# The hyper-parameters a training run may set (train_model's options, the admin form's fields).
SETTINGS = (
    "epochs",
    "lr",
    "dim",
    "layers",
    "negatives",
    "loss",
    "l2",
    "dropout",
    "recent_positives",
    "recent_weight",
    "batch_size",
    "patience",
    "ratings",
    "confidence",
)

# The latest-interaction protocols (ncf, d2l) ask for each user's next movie,
# and what a user watched last says most about it, so an epoch goes through
# each user's 10 latest training interactions three times. A random hold-out
# (full) has no such order: off.
NEXT_MOVIE = {"recent_positives": 10, "recent_weight": 3}
PROTOCOL_DEFAULTS = {"full": {}, "ncf": NEXT_MOVIE, "d2l": NEXT_MOVIE}


def hyperparameters(model_name, protocol="full", stats=None, **overrides):
    """The defaults for ``model_name`` trained for ``protocol`` on a dataset
    with these ``stats`` (DatasetStats; None: the static DEFAULTS), with the
    given non-None overrides."""
    if model_name not in DEFAULTS:
        raise ValueError(f"Unknown model {model_name!r}; choose one of {', '.join(MODEL_NAMES)}.")
    base = DEFAULTS[model_name] if stats is None else default_hyperparameters(model_name, stats)
    given = {key: value for key, value in overrides.items() if value is not None}
    if given.get("ratings", "all") not in RATINGS_MODES:
        raise ValueError(f"Unknown ratings mode {given['ratings']!r}; choose one of {', '.join(RATINGS_MODES)}.")
    if model_name in CLOSED_FORM:  # no epochs, so no recency weighting either: only its own settings
        unused = sorted(set(given) - set(base))
        if unused:
            raise ValueError(
                f"{model_name.upper()} is fitted in closed form and takes only "
                f"{', '.join(base)}; {', '.join(unused)} does not apply to it."
            )
        return {**base, **given}
    params = {**base, **PROTOCOL_DEFAULTS[protocol], **given}
    if params["loss"] not in LOSSES:
        raise ValueError(f"Unknown loss {params['loss']!r}; choose one of {', '.join(LOSSES)}.")
    if params["loss"] in LEAST_SQUARES and model_name != "gmf":
        raise ValueError(f"The wls loss needs a bilinear score: GMF only, not {model_name.upper()}.")
    if params["loss"] not in LEAST_SQUARES and "early_stopping" not in given:
        # Running every epoch is for a least-squares solve; gradient steps stop on validation.
        params["early_stopping"] = True
        if base["loss"] in LEAST_SQUARES:
            # Switched from the solve: its sweep count is no epoch budget for gradient steps.
            params.update({key: value for key, value in GRADIENT_STOPPING.items() if key not in given})
    if params["loss"] in SAMPLED_LOSSES and "negatives" not in given and base["loss"] != params["loss"]:
        # Switched to a sampled loss: one negative per BPR pair, He et al.'s four for BCE, unless asked.
        params["negatives"] = 1 if params["loss"] == "bpr" else 4
    return params


def build_model(model_name, params, n_users, n_items, users, items, weights=None):
    """An untrained model; ``users``/``items`` are the interactions a graph model
    propagates over and EASE regresses on (None for a serving copy, see
    NGCF.load_serving_state), ``weights`` EASE's entry per interaction."""
    model = _untrained(model_name, params, n_users, n_items, users, items, weights)
    model.training_negatives = params.get("negatives")  # fold-in's likelihood weighs the catalog as training did
    model.training_loss = params.get("loss")  # and takes the catalog's part as that loss does
    model.training_confidence = params.get("confidence")  # a least-squares loss's weight of an interaction
    return model


def _untrained(model_name, params, n_users, n_items, users, items, weights=None):
    if model_name not in MODEL_CLASSES:
        raise ValueError(f"Unknown model {model_name!r}; choose one of {', '.join(MODEL_NAMES)}.")
    module_name, class_name = MODEL_CLASSES[model_name]
    module = import_module(module_name)
    model_class = getattr(module, class_name)
    if model_name == "ngcf":
        graph = None if users is None else module.interaction_graph(users, items, n_users, n_items)
        return model_class(graph, params["dim"], params["layers"], params["dropout"], n_nodes=(n_users, n_items))
    if model_name == "ease":
        return model_class(n_users, n_items, users, items, weights)
    if model_name == "gmf":
        return model_class(n_users, n_items, params["dim"])
    if model_name == "neumf":  # its MLP branch may be narrower than its GMF branch (params["branches"])
        mlp = {"dim": params["dim"], "layers": params["layers"], **(params.get("branches") or {}).get("mlp", {})}
        mlp_class = import_module("predictors.mlp").MLP
        return model_class(
            n_users,
            n_items,
            params["dim"],
            mlp=mlp_class(n_users, n_items, mlp["dim"], mlp["layers"], params["dropout"]),
        )
    return model_class(n_users, n_items, params["dim"], params["layers"], params["dropout"])
