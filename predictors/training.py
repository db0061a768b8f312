"""Training loop shared by the train_model command, the benchmark and tests.

Every batch holds B positives, each with K sampled negatives, as items (B, 1+K):
pointwise training uses binary cross-entropy on all 1+K logits (He et al.
2017, K=4), BPR uses -log sigmoid(positive - negative) averaged over the K
pairs (K=1 is Rendle et al.'s; NGCF takes K=8 because one propagation per
batch then serves eight pairs per positive, for little more time). The validation
metric is NDCG@10 over all unseen items for one random training interaction
per user, held back from the fitting; the best epoch's weights are kept.
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

from predictors.data import DataError, latest_per_user, split_one_random
from predictors.evaluation import evaluate, full_ranking, model_scorer, split_for_protocol
from predictors.neumf import NeuMF
from predictors.sampling import sample_negatives
from predictors.zoo import CLOSED_FORM, build_model, hyperparameters

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


def batch_loss(model, users, items, params):
    """users (B,), items (B, 1+K) with the positive first -> scalar loss."""
    logits, l2 = model.training_logits(users, items)  # (B, 1+K)
    if params["loss"] == "bpr":
        loss = -F.logsigmoid(logits[:, :1] - logits[:, 1:]).mean()
    else:
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        loss = F.binary_cross_entropy_with_logits(logits, labels)
    return loss + params["l2"] * l2 / 2


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


def train_epochs(model, fit, validation, params, rng, stage, progress=None, on_epoch=None):
    """Trains in place with early stopping; returns the per-epoch curve.
    ``on_epoch(entry, max_epochs)`` is called with each epoch's curve entry;
    ``progress``: see progress_bar.
    Without ``validation`` every epoch runs and the last weights are kept."""
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    known = fit.keys()
    rows = epoch_rows(fit, params)
    if not len(rows):
        raise DataError("Every user has interacted with every item, so there is nothing to rank.")
    curve, best, best_state, waited = [], -1.0, None, 0
    bar = progress_bar(progress, iterable=range(1, params["epochs"] + 1), desc=stage)
    for epoch in bar:
        model.train()
        started = time.perf_counter()
        order = rng.permutation(rows)
        users = fit.users[order]
        items = np.concatenate(
            [fit.items[order, None], sample_negatives(users, fit.n_items, known, rng, params["negatives"])], axis=1
        )
        users, items = torch.from_numpy(users), torch.from_numpy(items)
        total = 0.0
        for start in range(0, len(users), params["batch_size"]):
            batch = slice(start, start + params["batch_size"])
            loss = batch_loss(model, users[batch], items[batch], params)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(users[batch])
        score = None if validation is None else full_ranking(model_scorer(model), fit, validation)["ndcg@10"]
        curve.append(
            {
                "stage": stage,
                "epoch": epoch,
                "loss": total / len(users),
                "val_ndcg@10": score,
                "seconds": time.perf_counter() - started,
            }
        )
        bar.set_postfix(loss=f"{total / len(users):.4f}", val_ndcg="-" if score is None else f"{score:.4f}")
        if on_epoch is not None:
            on_epoch(curve[-1], params["epochs"])
        if score is None:
            continue
        if score > best:
            best, best_state, waited = score, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= params["patience"]:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
        # DEBUG: the run's summary line already says how training went.
        log.debug("%s: best validation NDCG@10 %.4f after %d epochs", stage, best, len(curve))
    model.eval()
    return curve


def branch_hyperparameters(params, branch):
    """How NeuMF pre-trains its ``branch``: that model's defaults at NeuMF's
    size, weighting recent interactions as NeuMF does."""
    return hyperparameters(
        branch,
        dim=params["dim"],
        layers=params["layers"] or None,
        recent_positives=params["recent_positives"],
        recent_weight=params["recent_weight"],
    )


def fit_closed_form(model_name, train, fit, validation, params, progress=None, on_epoch=None):
    """EASE: fitted once without the validation interactions, to report the
    same validation NDCG@10 as the other models' curves, then once on all of
    ``train`` (nothing is selected on validation, so nothing is held back)."""
    bar = progress_bar(progress, total=2, desc=model_name)
    started = time.perf_counter()
    held_back = build_model(model_name, params, fit.n_users, fit.n_items, fit.users, fit.items).fit(params["l2"])
    score = full_ranking(model_scorer(held_back), fit, validation)["ndcg@10"]
    bar.update()
    model = (
        build_model(model_name, params, train.n_users, train.n_items, train.users, train.items).fit(params["l2"]).eval()
    )
    bar.update()
    bar.close()
    entry = {
        "stage": model_name,
        "epoch": 1,
        "loss": model.reconstruction_error,
        "val_ndcg@10": score,
        "seconds": time.perf_counter() - started,
    }
    if on_epoch is not None:
        on_epoch(entry, 1)
    log.debug("%s: validation NDCG@10 %.4f, fitted in closed form", model_name, score)
    return model, train, [entry]


def _with_epochs(params, stage, epochs):
    return params if epochs is None else {**params, "epochs": epochs[stage]}


def fit_model(model_name, train, params, rng, progress=None, on_epoch=None, epochs=None):
    """A trained model, the interactions it was fitted on, and its curves.
    NeuMF first trains GMF and MLP branches and starts from them, as He et
    al. do. ``train`` keeps every interaction the model may learn from;
    validation is carved out of it. ``epochs`` ({stage: count}, e.g. the
    counts early stopping kept) instead fits on all of ``train`` for exactly
    that many epochs per stage, holding nothing back."""
    fit, validation = split_one_random(train, rng) if epochs is None else (train, None)
    if model_name in CLOSED_FORM:
        if validation is None:
            model = build_model(model_name, params, train.n_users, train.n_items, train.users, train.items)
            return model.fit(params["l2"]).eval(), train, []
        return fit_closed_form(model_name, train, fit, validation, params, progress, on_epoch)
    if model_name == "neumf" and params.get("pretrain", True):
        curves = []
        branches = {}
        for branch in ("gmf", "mlp"):
            branch_params = _with_epochs(branch_hyperparameters(params, branch), f"neumf/{branch}", epochs)
            branches[branch] = build_model(branch, branch_params, fit.n_users, fit.n_items, fit.users, fit.items)
            curves += train_epochs(
                branches[branch], fit, validation, branch_params, rng, f"neumf/{branch}", progress, on_epoch
            )
        model = NeuMF.from_pretrained(branches["gmf"], branches["mlp"], params["alpha"])
    else:
        model, curves = build_model(model_name, params, fit.n_users, fit.n_items, fit.users, fit.items), []
    curves += train_epochs(
        model, fit, validation, _with_epochs(params, model_name, epochs), rng, model_name, progress, on_epoch
    )
    return model, fit, curves


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
