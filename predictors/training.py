"""Training loop shared by the train_model command, the benchmark and tests.

Two kinds of loss. The catalog losses ("softmax", "mse") score a batch of
users against every item: softmax is the cross-entropy of each positive
against the whole catalog, mse a weighted least squares over the whole row
(every unseen item a zero, as implicit ALS). The sampled losses ("bce" with K
negatives per positive, as He et al. 2017; "bpr", Rendle et al.) see K
random unseen items per positive and serve catalogs too large to score whole.

Validation is a random VALIDATION_FRACTION of every user's training
interactions, held back from the fitting; training stops when its NDCG@10
has not improved for ``patience`` epochs and keeps the best epoch's weights.
With ``refit`` the model is then trained again from scratch on all of the
training part for the best epoch count, so the validation interactions are
not lost to the model that is scored and served.

Every rating counts as an interaction by default (``ratings="all"``, the
published protocols' reading); ``weighted`` weighs each by its rating and
``threshold`` drops ratings at or below DISLIKE_RATING from the fitting.
"""

import copy
import logging
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from predictors import least_squares
from predictors.data import DataError, latest_per_user, rated_view, split_random
from predictors.evaluation import evaluate, full_ranking, model_scorer, split_for_protocol
from predictors.neumf import NeuMF
from predictors.sampling import sample_negatives
from predictors.zoo import (
    CATALOG_LOSSES,
    CLOSED_FORM,
    LEAST_SQUARES,
    VALIDATION_FRACTION,
    build_model,
    hyperparameters,
)

log = logging.getLogger(__name__)


def progress_bars_wanted(stream=None):
    """True when ``stream`` (tqdm's, stderr by default) is a terminal: a bar
    redraws one line there, but in a log file or a pipe every redraw becomes a
    line of its own."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_bar(progress, **options):
    """A tqdm bar, drawn when ``progress`` is True, or with None only on a terminal."""
    wanted = progress_bars_wanted() if progress is None else progress
    return tqdm(disable=not wanted, leave=False, **options)


def batch_loss(model, users, items, params, weights=None):
    """users (B,), items (B, 1+K) with the positive first -> scalar loss;
    ``weights`` (B,) weighs each positive's terms (rating-weighted training)."""
    logits, l2 = model.training_logits(users, items)  # (B, 1+K)
    if params["loss"] == "bpr":
        per_row = -F.logsigmoid(logits[:, :1] - logits[:, 1:]).mean(dim=1)
    else:
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        per_row = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(dim=1)
    loss = per_row.mean() if weights is None else (per_row * weights).sum() / weights.sum()
    return loss + params["l2"] * l2 / 2


def catalog_loss(model, users, targets, params, n_users):
    """users (B,), targets (B, n_items) >= 0 (an interaction's weight, 0 if
    none) -> scalar loss over the whole catalog. The L2 term covers the batch's
    users and, in proportion to the batch's share of the users, every item."""
    logits, user_l2, item_l2 = model.catalog_logits(users)
    if params["loss"] == "softmax":
        loss = -(torch.log_softmax(logits, dim=1) * targets).sum() / targets.sum()
    else:  # mse: every interaction weighs 1 + confidence x its weight, every unseen item 1
        confidence = params.get("confidence", 1.0)
        loss = ((targets > 0).float() - logits).pow(2).mul(1.0 + confidence * targets).sum() / targets.sum()
    return loss + params["l2"] * (user_l2 + len(users) / n_users * item_l2) / len(users)


def epoch_rows(fit, params):
    """The interactions (rows of ``fit``) one epoch trains on: every one once,
    but each user's ``recent_positives`` latest ``recent_weight`` times."""
    # A user who has seen every item has no negatives to contrast with.
    usable = fit.counts_per_user()[fit.users] < fit.n_items
    rows = np.flatnonzero(usable)
    if params["recent_positives"] and params["recent_weight"] > 1:
        recent = np.flatnonzero(usable & latest_per_user(fit, params["recent_positives"]))
        rows = np.concatenate([rows, np.repeat(recent, params["recent_weight"] - 1)])
    return rows


def interaction_weights(fit, params):
    """(n,) float32 weight of each interaction of ``fit``: its rating's
    weight, times ``recent_weight`` for a user's latest interactions."""
    weights = fit.rating_weights(params.get("ratings", "all"))
    if params["recent_positives"] and params["recent_weight"] > 1:
        weights = np.where(latest_per_user(fit, params["recent_positives"]), weights * params["recent_weight"], weights)
    return weights.astype(np.float32)


def sampled_epoch(model, optimizer, fit, params, rng):
    """One epoch of a sampled loss; returns the mean loss."""
    rows = epoch_rows(fit, params)
    order = rng.permutation(rows)
    users = fit.users[order]
    items = np.concatenate(
        [fit.items[order, None], sample_negatives(users, fit.n_items, fit.keys(), rng, params["negatives"])], axis=1
    )
    users, items = torch.from_numpy(users), torch.from_numpy(items)
    weighted = params.get("ratings", "all") == "weighted"
    rated = torch.from_numpy(fit.rating_weights("weighted")[order].astype(np.float32)) if weighted else None
    total = 0.0
    for start in range(0, len(users), params["batch_size"]):
        batch = slice(start, start + params["batch_size"])
        loss = batch_loss(model, users[batch], items[batch], params, None if rated is None else rated[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(users[batch])
    return total / len(users)


def catalog_epoch(model, optimizer, fit, params, rng, targets):
    """One epoch of a catalog loss over batches of users; returns the mean loss."""
    users = rng.permutation(np.flatnonzero((targets > 0).any(dim=1).numpy()))
    total, steps = 0.0, 0
    for start in range(0, len(users), params["batch_size"]):
        batch = torch.from_numpy(users[start : start + params["batch_size"]])
        loss = catalog_loss(model, batch, targets[batch], params, fit.n_users)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, steps = total + loss.item(), steps + 1
    return total / max(steps, 1)


def least_squares_problem(model, fit, params):
    """What a "wls" epoch needs, built once per fit: the model's factor tables
    (updated in place) and the interactions with their cells' confidences."""
    user_factors, item_factors = model.least_squares_factors()
    confidence = 1.0 + params.get("confidence", 0.0) * torch.from_numpy(interaction_weights(fit, params))
    return user_factors, item_factors, torch.from_numpy(fit.users), torch.from_numpy(fit.items), confidence


def least_squares_epoch(problem, params):
    """One alternating sweep over users and items; returns the objective per interaction."""
    user_factors, item_factors, users, items, confidence = problem
    least_squares.sweep(users, items, user_factors, item_factors, confidence, params["l2"])
    return least_squares.objective(users, items, user_factors, item_factors, confidence, params["l2"])


def catalog_targets(fit, params):
    """(n_users, n_items) float32 weight of each interaction, 0 elsewhere."""
    targets = torch.zeros(fit.n_users, fit.n_items)
    targets.index_put_(
        (torch.from_numpy(fit.users), torch.from_numpy(fit.items)),
        torch.from_numpy(interaction_weights(fit, params)),
        accumulate=False,
    )
    return targets


def validation_scores(model, seen, validation):
    """NDCG@10 and recall@20 of the validation interactions, all unseen items ranked."""
    metrics = full_ranking(model_scorer(model), seen, validation)
    return {"val_ndcg@10": metrics["ndcg@10"], "val_recall@20": metrics["recall@20"]}


def train_epochs(model, fit, validation, params, rng, stage, progress=None, on_epoch=None, seen=None, epochs=None):
    """Trains in place; returns the per-epoch curve. With ``validation``: early
    stopping on its NDCG@10, the best epoch's weights restored. Without:
    exactly ``epochs`` epochs (a refit), and an empty curve. ``seen``: the
    interactions validation ranks against (default ``fit``). With
    ``params["early_stopping"]`` False every epoch runs and the last one is
    kept; validation is still scored, for the curve.
    ``on_epoch(entry, max_epochs)`` is called with each epoch's curve entry;
    ``progress``: see progress_bar."""
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    if not len(epoch_rows(fit, params)):
        raise DataError("Every user has interacted with every item, so there is nothing to rank.")
    catalog = params["loss"] in CATALOG_LOSSES
    targets = catalog_targets(fit, params) if catalog else None
    problem = least_squares_problem(model, fit, params) if params["loss"] in LEAST_SQUARES else None
    max_epochs = params["epochs"] if epochs is None else epochs
    curve, best, best_state, waited = [], -1.0, None, 0
    if validation is not None and params.get("score_start"):
        # A model that starts from trained parts (NeuMF) may be best as it starts.
        model.eval()
        start = validation_scores(model, fit if seen is None else seen, validation)
        curve.append({"stage": stage, "epoch": 0, "loss": None, **start, "seconds": 0.0})
        best, best_state = start["val_ndcg@10"], copy.deepcopy(model.state_dict())
    bar = progress_bar(progress, iterable=range(1, max_epochs + 1), desc=stage)
    for epoch in bar:
        model.train()
        started = time.perf_counter()
        if problem is not None:
            loss = least_squares_epoch(problem, params)
        elif catalog:
            loss = catalog_epoch(model, optimizer, fit, params, rng, targets)
        else:
            loss = sampled_epoch(model, optimizer, fit, params, rng)
        if validation is None:
            bar.set_postfix(loss=f"{loss:.4f}")
            if on_epoch is not None:  # a refit's progress, though it keeps no curve
                on_epoch(
                    {
                        "stage": stage,
                        "epoch": epoch,
                        "loss": loss,
                        "val_ndcg@10": None,
                        "seconds": time.perf_counter() - started,
                    },
                    max_epochs,
                )
            continue
        model.eval()
        scores = validation_scores(model, fit if seen is None else seen, validation)
        curve.append({"stage": stage, "epoch": epoch, "loss": loss, **scores, "seconds": time.perf_counter() - started})
        bar.set_postfix(loss=f"{loss:.4f}", val_ndcg=f"{scores['val_ndcg@10']:.4f}")
        if on_epoch is not None:
            on_epoch(curve[-1], max_epochs)
        if not params.get("early_stopping", True):
            best_state = None
        elif scores["val_ndcg@10"] > best:
            best, best_state, waited = scores["val_ndcg@10"], copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= params["patience"]:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if validation is not None:
        # DEBUG: the run's summary line already says how training went.
        kept = kept_entry(curve, params)
        log.debug(
            "%s: kept epoch %d of %d, validation NDCG@10 %.4f", stage, kept["epoch"], len(curve), kept["val_ndcg@10"]
        )
    return curve


def kept_entry(curve, params):
    """The curve entry of the epoch whose weights train_epochs kept: the
    first best one, or with ``params["early_stopping"]`` False the last
    (every epoch runs)."""
    if not params.get("early_stopping", True):
        return curve[-1]
    return max(curve, key=lambda entry: (entry["val_ndcg@10"], -entry["epoch"]))


def kept_epoch(curve, params):
    return kept_entry(curve, params)["epoch"]


def branch_hyperparameters(params, branch):
    """How NeuMF pre-trains its ``branch``: that model's defaults at NeuMF's
    size and loss, weighting interactions as NeuMF does, with what
    ``params["branches"][branch]`` says on top (e.g. GMF's own loss)."""
    shared = {
        key: params[key]
        for key in (
            "loss",
            "negatives",
            "batch_size",
            "patience",
            "ratings",
            "recent_positives",
            "recent_weight",
            "confidence",
        )
        if key in params
    }
    own = (params.get("branches") or {}).get(branch, {})
    return hyperparameters(branch, **{"dim": params["dim"], "layers": params["layers"] or None, **shared, **own})


def validation_split(train, rng):
    """(fit, validation): VALIDATION_FRACTION of every user's ``train``
    interactions held out (each user keeps at least one)."""
    return split_random(train, VALIDATION_FRACTION, rng)


def fit_closed_form(model_name, train, fit, validation, params, progress=None, on_epoch=None):
    """EASE: fitted once without the validation interactions, to report the
    same validation metrics as the other models' curves, then once on all of
    ``train`` (nothing is selected on validation, so nothing is held back)."""
    bar = progress_bar(progress, total=2, desc=model_name)
    started = time.perf_counter()
    held_back = closed_form_model(model_name, fit, params)
    scores = validation_scores(held_back, fit, validation)
    del held_back
    bar.update()
    model = closed_form_model(model_name, train, params)
    bar.update()
    bar.close()
    entry = {
        "stage": model_name,
        "epoch": 1,
        "loss": model.reconstruction_error,
        **scores,
        "seconds": time.perf_counter() - started,
    }
    if on_epoch is not None:
        on_epoch(entry, 1)
    log.debug("%s: validation NDCG@10 %.4f, fitted in closed form", model_name, scores["val_ndcg@10"])
    return model, train, [entry]


def closed_form_model(model_name, data, params):
    """EASE fitted on ``data`` with its ratings mode."""
    used = rated_view(data, params.get("ratings", "all"))
    weights = used.rating_weights(params.get("ratings", "all"))
    return (
        build_model(model_name, params, used.n_users, used.n_items, used.users, used.items, weights)
        .fit(params["l2"])
        .eval()
    )


def fit_stages(model_name, fit, validation, params, rng, progress, on_epoch, seen, epochs=None):
    """Trains ``model_name`` on ``fit``: early-stopped on ``validation``, or for
    ``epochs[stage]`` epochs per stage when validation is None (the refit).
    NeuMF first trains GMF and MLP branches and starts from them, as He et
    al. do. Returns (model, curves, {stage: kept epoch})."""

    def stage(model, stage_params, name):
        curve = train_epochs(
            model,
            fit,
            validation,
            stage_params,
            rng,
            name,
            progress,
            on_epoch,
            seen,
            None if epochs is None else epochs[name],
        )
        if not curve:
            chosen[name] = epochs[name]
        else:
            chosen[name] = kept_epoch(curve, stage_params)
        curves.extend(curve)

    curves, chosen = [], {}
    if model_name == "neumf" and params.get("pretrain", True):
        branches = {}
        for branch in ("gmf", "mlp"):
            branch_params = branch_hyperparameters(params, branch)
            branches[branch] = build_model(branch, branch_params, fit.n_users, fit.n_items, fit.users, fit.items)
            stage(branches[branch], branch_params, f"neumf/{branch}")
        if validation is not None and params.get("alpha_grid"):
            params["alpha"] = fusion_weight(branches, params["alpha_grid"], seen or fit, validation)
        model = NeuMF.from_pretrained(branches["gmf"], branches["mlp"], params["alpha"])
    elif model_name == "ngcf" and params.get("pretrain"):
        gmf_params = branch_hyperparameters(params, "gmf")
        gmf = build_model("gmf", gmf_params, fit.n_users, fit.n_items, fit.users, fit.items)
        stage(gmf, gmf_params, "ngcf/gmf")
        model = build_model(model_name, params, fit.n_users, fit.n_items, fit.users, fit.items)
        if validation is not None and params.get("gate_grid"):
            params["gate"] = graph_gate(model, gmf, params["gate_grid"], seen or fit, validation)
        model.start_from_factors(*gmf.least_squares_factors(), params.get("gate", 0.0))
        del gmf
    else:
        model = build_model(model_name, params, fit.n_users, fit.n_items, fit.users, fit.items)
    stage(model, params, model_name)
    return model, curves, chosen


def fusion_weight(branches, grid, seen, validation):
    """NeuMF's alpha (the GMF branch's share of the output unit) from ``grid``
    with the best validation NDCG@10 of the fused, not yet fine-tuned model."""
    scores = {
        alpha: validation_scores(NeuMF.from_pretrained(branches["gmf"], branches["mlp"], alpha), seen, validation)[
            "val_ndcg@10"
        ]
        for alpha in grid
    }
    log.debug("NeuMF fusion: validation NDCG@10 per alpha %s", scores)
    return max(scores, key=lambda alpha: (scores[alpha], alpha))


def graph_gate(model, gmf, grid, seen, validation):
    """NGCF's starting layer weight g from ``grid``: the best validation
    NDCG@10 of the factorisation ``gmf`` plus g times its smoothed layers."""
    factors = gmf.least_squares_factors()
    scores = {
        gate: validation_scores(model.start_from_factors(*factors, gate).eval(), seen, validation)["val_ndcg@10"]
        for gate in grid
    }
    log.debug("NGCF from factorisation: validation NDCG@10 per layer weight %s", scores)
    return max(scores, key=lambda gate: (scores[gate], -gate))


def fit_model(model_name, train, params, rng, progress=None, on_epoch=None, epochs=None):
    """A trained model, the interactions it was fitted on, and its curves.
    ``train`` keeps every interaction the model may learn from; validation
    is carved out of it. With ``refit``, the returned model is trained again
    on all of ``train`` for the chosen epoch counts, which are recorded in
    ``params["refit_epochs"]``. ``epochs`` ({stage: count}, e.g. the counts
    early stopping kept) instead fits once on all of ``train`` for exactly
    that many epochs per stage, holding nothing back (the served model)."""
    mode = params.get("ratings", "all")
    if epochs is not None:
        if model_name in CLOSED_FORM:
            return closed_form_model(model_name, train, params), rated_view(train, mode), []
        used = rated_view(train, mode)
        model, _, _ = fit_stages(model_name, used, None, params, rng, progress, on_epoch, train, epochs=epochs)
        return model, used, []
    fit, validation = validation_split(train, rng)
    if model_name in CLOSED_FORM:
        return fit_closed_form(model_name, train, fit, validation, params, progress, on_epoch)
    model, curves, chosen = fit_stages(
        model_name, rated_view(fit, mode), validation, params, rng, progress, on_epoch, fit
    )
    if not params.get("refit"):
        return model, rated_view(fit, mode), curves
    del model
    used = rated_view(train, mode)
    model, _, _ = fit_stages(model_name, used, None, params, rng, progress, None, train, epochs=chosen)
    params["refit_epochs"] = chosen
    return model, used, curves


@dataclass
class TrainingResult:
    model: torch.nn.Module
    params: dict
    metrics: dict
    curves: list
    seconds: float
    fit: object  # the interactions the model was fitted on (a graph model's graph)
    split: tuple = field(repr=False)


def effort(result):
    """How a training went, for a summary line: "21 epochs in 13 s"."""
    if result.curves and all(entry["stage"] in CLOSED_FORM for entry in result.curves):
        return f"fitted in closed form in {result.seconds:.0f} s"
    return f"{len(result.curves)} epochs in {result.seconds:.0f} s"


def protocol_split(data, protocol, seed):
    """The (train, test) split a seed gives; evaluate_model rebuilds it the same way."""
    train, test = split_for_protocol(data, protocol, np.random.default_rng(seed))
    if not len(test) or not len(train):
        raise DataError("There are too few interactions per user to hold some out for evaluation.")
    return train, test


def score_held_out(model, protocol, train, test, seed):
    return evaluate(model_scorer(model), protocol, train, test, np.random.default_rng(seed + 2))


def train_and_evaluate(data, model_name, params, protocol, seed, progress=None, on_epoch=None):
    """Split ``data`` for ``protocol``, train, and score the held-out part
    (``progress``, ``on_epoch``: see train_epochs)."""
    torch.manual_seed(seed)
    train, test = protocol_split(data, protocol, seed)
    params = {**params, "protocol": protocol, "seed": seed}
    started = time.perf_counter()
    model, fit, curves = fit_model(model_name, train, params, np.random.default_rng(seed + 1), progress, on_epoch)
    seconds = time.perf_counter() - started
    metrics = score_held_out(model, protocol, train, test, seed)
    return TrainingResult(model, params, metrics, curves, seconds, fit, (train, test))
