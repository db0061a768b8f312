"""Folding a new visitor into a trained model.

The visitor is not a row of the trained model, and re-training the whole
model per request is out of the question. So the model stays frozen and only
the visitor's own parameters (the "ego" vector: GMF's p_u, NeuMF's GMF and
MLP user embeddings side by side, NGCF's layer-0 embedding) are learned, a
bounded number of Adam steps on their history as positives against sampled
unseen movies as negatives. NGCF then turns the ego vector into the final
representation through the trained propagation layers over the visitor's
neighbourhood (see ``NGCF.fold_in_representation``). A model whose users
are their histories (EASE) has nothing to learn: its
``history_representation`` is returned as it is.

Latency: the ego starts at the average trained user (fewer steps needed),
the item half of every step's scores is gathered once per request from the
model's serving cache (``Recommender.freeze_for_serving``), a long history
is sampled in batches of positives, and Adam runs by hand on the one tensor.

The result depends only on (model, history, settings): the sampler is seeded
from the history itself, so a reload shows the same list.
"""
import dataclasses
import hashlib
import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class FoldInSettings:
    # Shared defaults; a model class adjusts them in its ``fold_in_tuning``
    # (see settings_for). Tuned with benchmarks/bench_foldin_quality.py: fewer
    # steps lose recall at n = 5, more buy little and cost latency linearly.
    steps: int = 30
    lr: float = 0.07
    negatives: int = 8  # per positive and step
    l2: float = 1e-3  # pulls the ego back to where it started, so a one-movie history does not run off
    max_history: int = 200  # most recent movies kept; older ones add little
    batch_positives: int = 32  # positives per step; a longer history is sampled
    loss: str = "auto"  # "bce" (pointwise), "bpr" (pairwise) or "auto": the model's own (Recommender.fold_in_loss)
    # "mean": start at (and shrink toward) the model's mean trained user
    # (Recommender.mean_user); "random": near zero.
    init: str = "mean"


DEFAULT_SETTINGS = FoldInSettings()


def settings_for(model, overrides=None):
    """The shared defaults, then the model's own ``fold_in_tuning``, then
    ``overrides`` (a dict of FoldInSettings fields, e.g. settings.FOLD_IN)."""
    return dataclasses.replace(DEFAULT_SETTINGS, **{**model.fold_in_tuning, **(overrides or {})})


def history_seed(history_items):
    digest = hashlib.sha256(",".join(map(str, history_items)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def sample_unseen(n_items, seen, shape, generator):
    """Uniform item indices not in ``seen``, drawn with ``generator``: draw,
    then redraw only the collisions (few: a history is tiny next to the catalog)."""
    seen_mask = torch.zeros(n_items, dtype=torch.bool)
    seen_mask[seen] = True
    if bool(seen_mask.all()):
        raise ValueError("The visitor has seen every item; nothing is left to sample.")
    draws = torch.randint(n_items, shape, generator=generator)
    collisions = seen_mask[draws]
    while bool(collisions.any()):
        draws[collisions] = torch.randint(n_items, (int(collisions.sum()),), generator=generator)
        collisions = seen_mask[draws]
    return draws


class Adam:
    """Adam (Kingma and Ba 2015) on the one ego tensor, in place: torch.optim's
    per-step bookkeeping costs more than the arithmetic of a 64-wide vector."""

    def __init__(self, parameter, lr, betas=(0.9, 0.999), eps=1e-8):
        self.parameter, self.lr, self.betas, self.eps, self.steps = parameter, lr, betas, eps, 0
        self.mean, self.square = torch.zeros_like(parameter), torch.zeros_like(parameter)

    def step(self, gradient):
        (beta1, beta2), self.steps = self.betas, self.steps + 1
        self.mean.mul_(beta1).add_(gradient, alpha=1 - beta1)
        self.square.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
        denominator = (self.square / (1 - beta2**self.steps)).sqrt_().add_(self.eps)
        self.parameter.addcdiv_(self.mean, denominator, value=-self.lr / (1 - beta1**self.steps))


_mean_users = weakref.WeakKeyDictionary()  # frozen serving model -> its (1, D) mean user


def starting_point(model, init):
    """(1, D) where the ego starts and what the L2 term pulls it back to: the
    average trained user (a visitor with one click is most like the crowd,
    not like the zero vector, which the trained items never saw)."""
    if init == "random":
        return torch.zeros(1, model.user_dim())
    if init != "mean":
        raise ValueError(f"Unknown fold-in initialisation {init!r}; use 'mean' or 'random'.")
    if model not in _mean_users:
        with torch.no_grad():
            _mean_users[model] = model.mean_user()
    return _mean_users[model]


def fold_in(model, history_items, settings=None):
    """Learn a representation for a visitor with the given item indices.

    history_items: (h,) item indices, most recent last, h >= 1.
    settings: a FoldInSettings; by default ``settings_for(model)``.
    Returns the (1, D') user representation ``model.score_items`` takes.
    """
    settings = settings_for(model) if settings is None else settings
    model.requires_grad_(False)  # serving models are frozen for good; only ego learns
    history = torch.as_tensor(list(dict.fromkeys(history_items))[-settings.max_history :], dtype=torch.int64)
    if history.numel() == 0:
        raise ValueError("Fold-in needs at least one interaction.")
    exact = model.history_representation(history)
    if exact is not None:  # nothing to learn
        return exact
    generator = torch.Generator().manual_seed(history_seed(history.tolist()))
    anchor = starting_point(model, settings.init)
    ego = (anchor + torch.randn(1, model.user_dim(), generator=generator) * 0.01).requires_grad_()
    # A long history is seen a random batch of positives per step, so a step's cost stays bounded.
    per_step = min(history.numel(), settings.batch_positives)
    if per_step < history.numel():
        positives = history[torch.randint(history.numel(), (settings.steps, per_step), generator=generator)]
    else:
        positives = history.expand(settings.steps, -1)
    negatives = sample_unseen(model.n_items, history, (settings.steps, per_step * settings.negatives), generator)
    # The item half of every score of every step, gathered once: (S, p + p*n, F).
    item_side = model.cached_item_side(torch.cat([positives, negatives], dim=1))
    labels = torch.cat([torch.ones(per_step), torch.zeros(per_step * settings.negatives)])
    # Positives and negatives weigh the same in total, however many negatives.
    weights = torch.cat([torch.full((per_step,), float(settings.negatives)), torch.ones(per_step * settings.negatives)])
    context = model.fold_in_context(history) if hasattr(model, "fold_in_context") else history
    if (model.fold_in_loss if settings.loss == "auto" else settings.loss) == "bpr":  # each positive against its own negatives
        def loss(logits):
            return -F.logsigmoid(logits[:per_step, None] - logits[per_step:].view(per_step, settings.negatives)).mean()
    else:
        def loss(logits):
            return F.binary_cross_entropy_with_logits(logits, labels, weight=weights)
    adam = Adam(ego, settings.lr)
    for step in range(settings.steps):
        user_repr = model.fold_in_representation(ego, context)  # (1, D')
        logits = model.score_item_side(user_repr, item_side[step : step + 1])[0]  # (p + p*n,)
        (gradient,) = torch.autograd.grad(loss(logits), ego)
        with torch.no_grad():
            adam.step(gradient + (2 * settings.l2) * (ego - anchor))  # the L2 term's gradient, without autograd
    with torch.no_grad():
        return model.fold_in_representation(ego, context)


def top_k_unseen(model, user_repr, seen_items, k):
    """The k best-scoring item indices the visitor has not interacted with,
    best first, with their scores."""
    with torch.no_grad():
        scores = model.score_items(user_repr)[0]  # (n_items,)
        scores[torch.as_tensor(list(seen_items), dtype=torch.int64)] = float("-inf")
        k = min(k, model.n_items - len(set(seen_items)))
        best = torch.topk(scores, k)
    return best.indices.tolist(), best.values.tolist()
