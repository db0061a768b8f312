"""Folding a new visitor into a trained model.

The visitor is not a row of the trained model and the model stays frozen:
only the visitor's own parameters θ (GMF's user vector, NeuMF's GMF and MLP
user vectors side by side, NGCF's layer-0 embedding) are solved for. θ is
the mode of its posterior:

    prior       N(μ, Σ): mean and covariance of the trained users' θ;
    likelihood  the model's own training loss on the visitor's history:
                a liked movie is a positive, a disliked one a negative
                relative to the average user's score for it (logistic).
                A softmax-trained model (the default at MovieLens sizes)
                has -w s per like and, per unit of liked weight, the
                catalog's log-sum-exp; a sampled loss has the expectation
                of its negatives over the catalog, K per positive (K: the
                model's training negatives; a pairwise model's loss
                averages its K, so 1). Either catalog term is a quadratic
                in the model's linear score space around the average user,
                computed once per model (``ExpectedNegatives``).

No setting is chosen per dataset: everything above comes from the trained
model and the data it saw. The mode is found by Gauss-Newton steps from μ;
the first is the closed form of the objective's quadratic model at μ, the
weighted ridge implicit ALS solves per user. GMF's scores are linear in θ
and NeuMF is solved in its exact tangent at μ (its list is then ranked by
the full network), so with likes only that one step is the exact answer;
dislikes (logistic) and NGCF's layers take at most ``max_steps``. Each
step costs a (D, D) solve and the history's h scores, and the catalog is
scored once in numpy by the space, so the work is about ALS's
``recalculate_user`` (see benchmarks/bench_foldin_speed.py). Where that one
step is exact, serving takes it without the (D, D) solve (``QuadraticMode``:
the prior and the catalog term are diagonal in one basis, built per model).

The history is a list of item indices (each a like) or of (item, weight)
pairs: weight > 0 a like of that strength, weight < 0 a dislike ("not
interested", or a rating at or below the dislike threshold). The result
depends only on (model, history): a reload shows the same list.

A model whose users are their histories (EASE) has nothing to solve for:
its ``history_representation`` is returned as it is.
"""

import dataclasses
import weakref
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from scipy.linalg import lapack

LIKE, DISLIKE = 1.0, -1.0
LOGISTIC, SOFTMAX, SQUARES = "logistic", "softmax", "squares"  # how a like's own term reads (catalog_term)
LEAST_SQUARES_LOSSES = ("wls", "mse")  # training losses whose likelihood is a sum of squares (SQUARES)


@dataclass(frozen=True)
class FoldInSettings:
    max_history: int = 200  # most recent movies kept; older ones add little and cost h D^2 each
    # Gauss-Newton steps at most. A linear space with likes only needs one; on
    # NGCF (ml-100k, 20 likes) the first step's top 10 shares 8.3 movies with
    # the converged mode's, two steps 9.2 and five 9.7, each step about the
    # cost of ALS's whole recalculate_user (benchmarks/bench_foldin_speed.py).
    max_steps: int = 2
    # Stop when the next step would move θ by less than this many posterior
    # standard deviations (its Newton decrement, in the Hessian's metric): the
    # mode is then known far more closely than the visitor's taste itself.
    tolerance: float = 0.1


DEFAULT_SETTINGS = FoldInSettings()


def settings_for(model, overrides=None):
    """The defaults with ``overrides`` (a dict of FoldInSettings fields, e.g.
    settings.FOLD_IN) applied; the model itself needs no per-model settings."""
    return dataclasses.replace(DEFAULT_SETTINGS, **overrides) if overrides else DEFAULT_SETTINGS


def weighted_history(history, max_history=DEFAULT_SETTINGS.max_history):
    """Item indices or (item, weight) pairs, oldest first -> (items, weights)
    arrays: one entry per item, its latest weight, the ``max_history`` most recent."""
    latest = {}
    for entry in history:
        item, weight = entry if isinstance(entry, (tuple, list)) else (entry, LIKE)
        latest.pop(int(item), None)  # re-inserted at the end: its latest place in time
        latest[int(item)] = float(weight)
    kept = slice(-max_history if max_history else None, None)
    items = np.fromiter(latest, dtype=np.int64, count=len(latest))[kept]
    weights = np.fromiter(latest.values(), dtype=np.float64, count=len(latest))[kept]
    return items, weights


def seen_items(history):
    """Every item of the history, liked or not: none is recommended back."""
    return weighted_history(history, max_history=None)[0].tolist()


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


# --- What a model provides ---------------------------------------------------------


def gaussian_prior(users):
    """(n, D) trained users' parameters -> mean (D,) and precision (D, D).
    The covariance gets a ridge of 1e-6 of its mean variance, so that a
    direction no trained user varies in is pinned, not singular."""
    users = np.asarray(users, dtype=np.float64)
    mean = users.mean(axis=0)
    covariance = np.atleast_2d(np.cov(users, rowvar=False))
    covariance[np.diag_indices_from(covariance)] += 1e-6 * max(np.trace(covariance) / len(covariance), 1e-12)
    return mean, np.linalg.inv(covariance)


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class ExpectedNegatives:
    """The mean over the catalog of softplus(score), a quadratic in the user's
    linear score space z around an anchor z_a (the average user):
    value + g (z - z_a) + 1/2 (z - z_a) H (z - z_a)."""

    anchor: np.ndarray  # (F,)
    gradient: np.ndarray  # (F,)
    hessian: np.ndarray  # (F, F)

    @classmethod
    def around(cls, anchor, chunks):
        """``chunks`` yields, for consecutive blocks of the catalog, the items'
        features (n, F), d score / d z at the anchor, and their scores there (n,)."""
        gradient, hessian, count = 0.0, 0.0, 0
        for features, scores in chunks:
            features = np.asarray(features, dtype=np.float64)
            p = sigmoid(np.asarray(scores, dtype=np.float64))
            gradient = gradient + features.T @ p
            hessian = hessian + (features * (p * (1.0 - p))[:, None]).T @ features
            count += len(features)
        return cls(np.asarray(anchor, dtype=np.float64), gradient / count, hessian / count)

    @classmethod
    def softmax_around(cls, anchor, chunks):
        """The log-sum-exp over the catalog of the scores, the normaliser of a
        softmax (whole-catalog) training loss, as the same quadratic: gradient
        the softmax-weighted mean of the features, Hessian their weighted
        covariance. ``chunks`` as for ``around``."""
        blocks = [(np.asarray(f, dtype=np.float64), np.asarray(s, dtype=np.float64)) for f, s in chunks]
        top = max(float(scores.max()) for _, scores in blocks)
        gradient, second, total = 0.0, 0.0, 0.0
        for features, scores in blocks:
            p = np.exp(scores - top)
            gradient = gradient + features.T @ p
            second = second + (features * p[:, None]).T @ features
            total += float(p.sum())
        gradient, second = gradient / total, second / total
        return cls(np.asarray(anchor, dtype=np.float64), gradient, second - np.outer(gradient, gradient))

    @classmethod
    def squares(cls, chunks):
        """Half the squared scores summed over the catalog, the unseen cells of
        a least-squares loss (every cell's target 0 at weight 1): exactly a
        quadratic in z, ``chunks`` yielding each block's d score / d z and the
        part of its scores that z does not move (at z = 0)."""
        gradient, hessian = 0.0, 0.0
        for features, offsets in chunks:
            features = np.asarray(features, dtype=np.float64)
            gradient = gradient + features.T @ np.asarray(offsets, dtype=np.float64)
            hessian = hessian + features.T @ features
        return cls(np.zeros(len(hessian)), gradient, hessian)

    def terms(self, z):
        """-> (value above the anchor's, gradient (F,), Hessian (F, F)) at z."""
        step = z - self.anchor
        slope = self.gradient + self.hessian @ step
        return float(self.gradient @ step + 0.5 * step @ (slope - self.gradient)), slope, self.hessian


class FoldInSpace:
    """One frozen model as fold-in sees it, built once (``space_for``).

    Subclasses (in the model modules) set ``prior_mean``, ``prior_precision``,
    ``negatives`` (ExpectedNegatives), ``negatives_per_positive`` and implement
    the methods below. ``negatives`` lives in the linear score space z; when
    ``maps_user``, ``user`` maps θ to z, else z is θ itself."""

    maps_user = False
    # How a like's own term reads (catalog_term): LOGISTIC, SOFTMAX (-w s, its
    # log-softmax less the catalog's log-sum-exp, which ``negatives`` holds) or
    # SQUARES (its confident cell's squared error less the unseen one's).
    like_kind = LOGISTIC
    confidence = 1.0  # SQUARES: an interaction's cell weighs 1 + confidence w
    quadratic_mode = None  # a QuadraticMode where the posterior can be a quadratic in θ (LinearSpace)
    prior_mean: np.ndarray
    prior_precision: np.ndarray
    negatives: ExpectedNegatives
    negatives_per_positive: float

    def context(self, liked, liked_weights):
        """Whatever a visitor's scores need from their liked items (NGCF: the
        visitor's node joined to them); computed once per fold-in."""
        return

    def user(self, theta, context, jacobian=True):
        """θ (D,) -> z (F,) and dz/dθ (D, F) (None without ``jacobian``), for a space that ``maps_user``."""
        raise NotImplementedError

    def history_rows(self, items):
        """What ``scores`` needs of these (h,) items, gathered once per fold-in."""
        return items

    def scores(self, theta, context, rows, mapped):
        """-> scores (h,) of the items whose ``history_rows`` are ``rows``, for θ,
        and their gradients (h, D); ``mapped`` is what ``user`` returned for
        this θ (None unless ``maps_user``)."""
        raise NotImplementedError

    def gradient(self, theta, context, rows, z_gradient, pull):
        """d/dθ of z_gradient · z(θ) + pull · scores(θ) of ``rows``, carried back
        through the user map without its Jacobian (a space that ``maps_user``)."""
        raise NotImplementedError

    def negative_curvature(self, jacobian):
        """J H J^T: the expected negatives' Hessian in z carried to θ (a space that ``maps_user``)."""
        return jacobian @ self.negatives.hessian @ jacobian.T

    def quadratic_parts(self):
        """For a space where z is θ: the prior and the expected negatives each as
        1/2 θ A θ - b θ + c -> ((b, c) of the prior, (b, c) of the negatives)."""
        if not hasattr(self, "_quadratic_parts"):
            mean, precision, negatives = self.prior_mean, self.prior_precision, self.negatives
            anchor, curvature = negatives.anchor, negatives.hessian
            self._quadratic_parts = (
                (precision @ mean, 0.5 * mean @ precision @ mean),
                (
                    curvature @ anchor - negatives.gradient,
                    0.5 * anchor @ curvature @ anchor - negatives.gradient @ anchor,
                ),
            )
        return self._quadratic_parts

    def representation(self, theta, context):
        """θ -> the (1, D') user representation ``model.score_items`` takes."""
        return torch.from_numpy(np.asarray(theta, dtype=np.float32)).unsqueeze(0)


# A float32 item matrix larger than this is scanned in float16 (ItemScan): once
# it outgrows the (shared) cache the scan is bound by memory and half the bytes
# take 0.4x the time; one that stays cached is faster in float32 (docs/tuning.md).
HALF_PRECISION_BYTES = 16 * 2**20
SHORTLIST_PER_PICK = 20  # float16 candidates rescored in float32 per item asked for
ROTATION_CHUNK = 8192  # items rotated at a time by QuadraticMode (a float64 block of 8 MB at D = 128)


class ItemScan:
    """Scores items @ u + bias of every item (N, D) and the best unseen ones.

    A small catalog is scored in float32 as it is. A large one is scanned in
    float16, the bias as one more column, both scaled to at most 1 so that no
    sum overflows, and the best SHORTLIST_PER_PICK x k of that scan are
    rescored in float32: the list is the float32 one unless float16 rounding
    (a relative 1e-3 of a score) moves a movie across a few hundred places."""

    def __init__(self, items, bias=0.0):
        self.items = np.ascontiguousarray(items, dtype=np.float32)
        self.bias = float(bias) if np.ndim(bias) == 0 else np.asarray(bias, dtype=np.float32)
        self.half = None
        if self.items.nbytes > HALF_PRECISION_BYTES:
            column = np.broadcast_to(np.asarray(self.bias, dtype=np.float32), (len(self.items),))[:, None]
            joined = np.hstack([self.items, column])
            self.half = torch.from_numpy(joined / max(float(np.abs(joined).max()), 1e-30)).half()

    def __len__(self):
        return len(self.items)

    def scores(self, user, items=slice(None)):
        """(D,) float32 user -> float32 scores of ``items`` (every item by default)."""
        bias = self.bias if np.ndim(self.bias) == 0 else self.bias[items]
        return self.items[items] @ user + bias

    def best_unseen(self, user, seen, size):
        """-> (candidates (M,), their float32 scores): the unseen items, all of
        them (M = N less the seen) or, for a float16 scan, its best ``size``."""
        if self.half is None or size * 4 > len(self.items):
            scores = self.scores(user)
            scores[seen] = -np.inf
            return np.arange(len(scores)), scores
        joined = np.append(user, 1.0).astype(np.float32)
        rough = self.half @ torch.from_numpy(joined / max(float(np.abs(joined).max()), 1e-30)).half()
        rough[torch.from_numpy(seen)] = -torch.inf
        candidates = torch.topk(rough, size, sorted=False).indices.numpy()
        return candidates, self.scores(user, candidates)


class LinearSpace(FoldInSpace):
    """Scores linear in θ, s_i = y_i θ + c_i: GMF, where y_i = q_i * h and c_i
    is one bias; a model's tangent at the average user (NeuMF), where c_i is per item."""

    def __init__(self, model, items, bias, users, chunk=8192):
        self.scan = ItemScan(items, bias)
        self.items, self.bias = self.scan.items, self.scan.bias  # (N, D), () or (N,)
        self.prior_mean, self.prior_precision = gaussian_prior(users)
        self.confidence = training_confidence(model)
        self.negatives, self.negatives_per_positive, self.like_kind = catalog_term(
            model,
            self.prior_mean,
            (
                (self.items[block], self.items[block] @ self.prior_mean + self.item_bias(block))
                for block in (slice(start, start + chunk) for start in range(0, len(self.items), chunk))
            ),
        )
        # A logistic like's posterior is no quadratic: posterior_mode's steps solve it.
        # QuadraticMode reads the item rows itself: only for scores as this class has them.
        own_rows = type(self).history_rows is LinearSpace.history_rows and type(self).scores is LinearSpace.scores
        self.quadratic_mode = QuadraticMode(self) if own_rows and self.like_kind != LOGISTIC else None

    def item_bias(self, items):
        return self.bias if np.ndim(self.bias) == 0 else self.bias[items]

    def history_rows(self, items):
        return self.items[items].astype(np.float64), np.asarray(self.item_bias(items), dtype=np.float64)

    def scores(self, theta, context, rows, mapped):
        features, bias = rows
        return features @ theta + bias, features

    def catalog_scores(self, representation):
        """(D,) float32 user representation -> (N,) scores of every item, as
        ``model.score_items`` computes them, in numpy (no per-op torch overhead)."""
        return self.scan.scores(representation)

    def shortlist(self, representation, seen, k):
        """-> candidate items, unseen, and their scores, holding the best k (ItemScan)."""
        return self.scan.best_unseen(representation, seen, SHORTLIST_PER_PICK * k)


def training_loss(model):
    """The loss the model was trained with (``training_loss``, set from the
    hyper-parameters when it is built), else its class's default."""
    return getattr(model, "training_loss", None) or model.fold_in_loss


def training_negatives(model):
    """K, sampled negatives per positive the model was trained with: its
    ``training_negatives`` (set from the hyper-parameters when it is built),
    else He et al.'s 4."""
    return float(getattr(model, "training_negatives", None) or 4)


def training_confidence(model):
    """A least-squares loss's confidence c: an interaction's cell weighs 1 + c w."""
    default = 0.0 if training_loss(model) == "wls" else 1.0  # as predictors.training reads it
    confidence = getattr(model, "training_confidence", None)
    return float(default if confidence is None else confidence)


def catalog_term(model, anchor, chunks):
    """The catalog's part of the visitor's likelihood as the model's training
    loss has it -> (ExpectedNegatives, how many of it per unit of liked weight
    (0: once, whatever the history), how a like's own term reads).
    ``chunks`` yields blocks of the catalog's d score / d z and scores at
    ``anchor``; scores are linear in z (exactly, or in the model's tangent).

    softmax: one log-sum-exp over the catalog per positive, quadratic around
    the anchor; a like is -w s. Least squares (wls, mse): every cell's squared
    score once, an exact quadratic; a like is the difference of its confident
    cell and that. A sampled loss: K expected negatives per positive (a
    pairwise loss averages its K, so 1), a like logistic."""
    loss = training_loss(model)
    if loss == "softmax":
        return ExpectedNegatives.softmax_around(anchor, chunks), 1.0, SOFTMAX
    if loss in LEAST_SQUARES_LOSSES:
        anchor = np.asarray(anchor, dtype=np.float64)
        at_zero = (
            (features, np.asarray(scores, np.float64) - np.asarray(features, np.float64) @ anchor)
            for features, scores in chunks
        )
        return ExpectedNegatives.squares(at_zero), 0.0, SQUARES
    count = 1.0 if loss == "bpr" else training_negatives(model)
    return ExpectedNegatives.around(anchor, chunks), count, LOGISTIC


_spaces = weakref.WeakKeyDictionary()  # frozen serving model -> its FoldInSpace


def space_for(model):
    """The model's FoldInSpace, built on first use and kept with the model
    (serving builds it when it loads a version, so no visitor waits for it)."""
    if model not in _spaces:
        model.requires_grad_(False)  # serving models are frozen for good
        with torch.no_grad():
            _spaces[model] = model.fold_in_space()
    return _spaces[model]


# --- How strongly the prior and a dislike speak -----------------------------------


def interactions_per_user(fit_users):
    """Mean interactions per trained user of the interactions a model was fitted
    on: how much evidence each trained user's parameters, so the prior, rest on."""
    fit_users = np.asarray(fit_users)
    return float(len(fit_users) / max(len(np.unique(fit_users)), 1))


def prior_weight(model, space, weights):
    """For a least-squares likelihood, the prior's precision (the trained users'
    spread) is scaled by h / m for a visitor with h interactions, m the trained
    users' mean (``model.fold_in_interactions_per_user``, stored with the
    artifact), at most 1. Each trained user's parameters were fitted on m
    interactions and shrunk for it, so their spread is narrower than tastes
    are; at full strength it held a 20-rating visitor close to the average
    user. Scaled, it weighs against a visitor's h ratings as it did against a
    trained user's m, and the catalog's squares, there once whatever the
    history (ALS's Y^T Y), keep a short history from over-reaching. A softmax
    or sampled loss's catalog term grows with the likes instead, and there a
    weaker prior let a like lower its own taste's scores (planted tests): as
    trained. Without m (a model not from the registry): as trained. With no
    like the visitor's taste is unknown, only what they do not want, so the
    prior keeps its strength: the list is the average user's with the
    disliked movies' neighbours moved down, not whatever lies opposite them.
    The scaling is a ridge per interaction, which holds for scores linear in
    θ; through NGCF's graph layers (a space that ``maps_user``) a short
    history so loosened led the few Gauss-Newton steps astray
    (docs/tuning.md), so that space keeps the prior as trained; a
    least-squares NGCF solves its layer 0 in closed form instead
    (ngcf.InductiveSpace, linear in θ), where the scaling holds."""
    per_user = getattr(model, "fold_in_interactions_per_user", None)
    if not per_user or space.like_kind != SQUARES or space.maps_user or not (weights > 0).any():
        return 1.0
    return min(1.0, len(weights) / per_user)


def shared_dislikes(weights):
    """Each dislike's weight divided by 1 + the liked weight: a low rating is
    also a movie the visitor chose to watch, which is what the models were
    trained to predict, so a dislike speaks fully only when nothing is liked
    (the disliked movie's neighbours leave the list) and among likes it moves
    the list away from its neighbours without outweighing what they show.
    Applied to least-squares likelihoods and EASE's row (where it was
    measured); a logistic dislike so weakened fell under the solve's stopping
    tolerance on a planted BPR model."""
    liked = float(weights[weights > 0].sum())
    return np.where(weights < 0, weights / (1.0 + liked), weights)


# --- The solve ---------------------------------------------------------------------


# Posterior's ``derivatives`` for the exact gradient with the Hessian of its last
# full evaluation: where θ maps to z (NGCF), the Jacobian is most of an
# evaluation's work and the gradient alone one pass back through the map.
KEPT_HESSIAN = "kept Hessian"


def liked_context(space, items, weights):
    """``space.context`` of the history's liked items."""
    liked = weights > 0
    return space.context(items[liked], weights[liked])


class HistoryTerms:
    """How each history entry of ``weights`` enters the likelihood, for one space."""

    def __init__(self, space, weights):
        liked = weights > 0
        self.labels = np.where(liked, 1.0, -1.0)  # a like wants a high score, a dislike a low one
        self.strength = np.abs(weights)
        # A like's term 1/2 a s^2 - b s when it is not logistic: softmax a = 0,
        # b = w; least squares w/2 ((1 + c)(1 - s)^2 - s^2): a = c w, b = (1 + c) w,
        # training's cell of confidence 1 + c scaled by the entry's strength (every
        # like has w = 1; a shared dislike less). Least squares reads a dislike as the
        # mirror of a like, target -1 (EASE's negative entry): w/2 ((1 + c)(1 + s)^2 - s^2).
        squares = space.like_kind == SQUARES
        plain = (liked & (space.like_kind != LOGISTIC)) | (~liked & squares)
        self.logistic = ~plain
        self.quadratic = bool(plain.all())  # no logistic term: the likelihood is a quadratic in the scores
        self.like_curvature = np.where(plain & squares, space.confidence * self.strength, 0.0)
        pull = self.labels * (self.strength + self.like_curvature) if squares else self.strength
        self.like_pull = np.where(plain, pull, 0.0)
        once = space.negatives_per_positive == 0.0  # least squares: the catalog's cells count once
        self.expected_negatives = 1.0 if once else space.negatives_per_positive * float(weights[liked].sum())


class Posterior:
    """-log posterior of θ for one history, with its gradient and Gauss-Newton Hessian."""

    def __init__(self, space, items, weights, prior_weight=1.0, terms=None):
        self.space = space
        self.prior_precision = prior_weight * space.prior_precision
        liked = weights > 0
        self.context = liked_context(space, items, weights)
        self.rows = space.history_rows(items)
        self.terms = terms = HistoryTerms(space, weights) if terms is None else terms
        # A dislike says "less than the average user", not "never": its logistic
        # term is centred on the prior mean's score for the movie, which keeps it
        # to the scale of a like however high the model scores what was watched
        # (a BPR model's scores have no calibrated zero at all).
        self.centre = np.zeros(len(items))
        if not liked.all():
            mapped = space.user(space.prior_mean, self.context, jacobian=False) if space.maps_user else None
            disliked = space.history_rows(items[~liked])
            self.centre[~liked] = space.scores(space.prior_mean, self.context, disliked, mapped)[0]
        # With scores linear in θ and softmax likes only, the objective is exactly
        # quadratic: one Newton step from anywhere is its minimum.
        self.quadratic = not space.maps_user and terms.quadratic
        self.negative_curvature = self.hessian = None
        if not space.maps_user:
            # Prior and expected negatives are then one quadratic in θ, 1/2 θ A θ - b θ + c,
            # the same for every step: formed once here, from parts formed once per model.
            (prior_linear, prior_constant), (negative_linear, negative_constant) = space.quadratic_parts()
            count = self.terms.expected_negatives
            self.curvature = self.prior_precision + count * space.negatives.hessian
            self.linear = prior_weight * prior_linear + count * negative_linear
            self.constant = prior_weight * prior_constant + count * negative_constant

    def quadratic_part(self, theta, mapped, derivatives=True):
        """Prior and expected negatives: value, and with ``derivatives`` gradient and Hessian in θ."""
        if not self.space.maps_user:
            slope = self.curvature @ theta
            value = 0.5 * float(theta @ slope) - float(self.linear @ theta) + self.constant
            return (value, slope - self.linear, self.curvature) if derivatives else (value, None, None)
        space, (z, jacobian) = self.space, mapped
        offset = theta - space.prior_mean
        precision_offset = self.prior_precision @ offset
        negatives, gradient, hessian = space.negatives.terms(z)
        count = self.terms.expected_negatives
        value = 0.5 * float(offset @ precision_offset) + count * negatives
        if not derivatives:
            return value, None, None
        if derivatives == KEPT_HESSIAN:  # its θ part, and its z part for the caller to carry back
            return value, (precision_offset, count * gradient), None
        if self.negative_curvature is None:
            # J H J^T through the user map is most of a step's work; taken at the
            # first point and kept, it still makes every step a descent direction
            # for the exact gradient, so the iteration ends at the same mode.
            self.negative_curvature = self.prior_precision + count * space.negative_curvature(jacobian)
        return value, precision_offset + count * (jacobian @ gradient), self.negative_curvature

    def __call__(self, theta, derivatives=True):
        """-> value, and with ``derivatives`` gradient and Gauss-Newton Hessian
        (else None, None); derivatives=KEPT_HESSIAN: the Hessian is that of the
        last full evaluation (for a space that maps_user, once there was one)."""
        space, terms = self.space, self.terms
        kept = derivatives == KEPT_HESSIAN and space.maps_user and self.hessian is not None
        full = bool(derivatives) and not kept
        mapped = space.user(theta, self.context, full) if space.maps_user else None
        scores, score_gradients = space.scores(theta, self.context, self.rows, mapped)
        margins = terms.labels * (scores - self.centre)
        value, gradient, hessian = self.quadratic_part(theta, mapped, KEPT_HESSIAN if kept else full)
        logistic = terms.logistic
        value += float(terms.strength[logistic] @ softplus(-margins[logistic]))
        value += float((0.5 * terms.like_curvature * scores - terms.like_pull) @ scores)
        if not derivatives:
            return value, None, None
        p = sigmoid(-margins)  # how far each history item is from where its label wants it
        pull = np.where(logistic, -terms.labels * terms.strength * p, terms.like_curvature * scores - terms.like_pull)
        if kept:
            prior_part, z_part = gradient
            return value, prior_part + space.gradient(theta, self.context, self.rows, z_part, pull), self.hessian
        gradient = gradient + score_gradients.T @ pull
        curvature = np.where(logistic, terms.strength * p * (1.0 - p), terms.like_curvature)
        if curvature.any():
            hessian = hessian + (score_gradients * curvature[:, None]).T @ score_gradients
        self.hessian = hessian
        return value, gradient, hessian


def solve_positive_definite(matrix, vector):
    """matrix^-1 vector by Cholesky (LAPACK posv): a prior precision plus
    Gauss-Newton terms is positive definite, and posv is faster than a general solve."""
    _, solution, info = lapack.dposv(matrix, vector)
    return solution if info == 0 else np.linalg.solve(matrix, vector)


class QuadraticMode:
    """The mode of a quadratic posterior in a LinearSpace (likes only with a
    softmax loss, any history with least squares) without factorising a
    (D, D) matrix per visitor; the same θ as posterior_mode's one step.

    The curvature is a P + b N + F^T C F: a the prior's weight, b the catalog
    term's count, P the prior precision, N the catalog term's Hessian, F the
    h history rows and C their curvatures. In the generalized eigenbasis V of
    (N, P), V^T P V = I and V^T N V = Λ, so a P + b N is the diagonal a + b Λ
    for every a and b, and the history's rank-h part is one (h, h) solve
    (Woodbury). Built once per space, with the space."""

    def __init__(self, space):
        negatives = space.negatives
        _, (negative_linear, _) = space.quadratic_parts()
        self.eigenvalues, self.basis = scipy.linalg.eigh(negatives.hessian, space.prior_precision)  # (D,), (D, D)
        self.mean = space.prior_mean  # (D,)
        # The catalog term's gradient at the prior mean, per unit of its count, in the basis;
        # the prior's own gradient is zero at its mean.
        self.negative_slope = self.basis.T @ (negatives.hessian @ self.mean - negative_linear)  # (D,)
        # Every item's row in the basis, and its score at the prior mean, so that a
        # visitor's rows are gathered, not multiplied: rotated in float64, the rows
        # kept in float32 as the items themselves are.
        self.rotated_items = np.empty(space.items.shape, dtype=np.float32)  # (N, D)
        self.mean_scores = np.empty(len(space.items))  # (N,)
        for start in range(0, len(space.items), ROTATION_CHUNK):
            block = slice(start, start + ROTATION_CHUNK)
            rows = space.items[block].astype(np.float64)
            self.rotated_items[block] = rows @ self.basis
            self.mean_scores[block] = rows @ self.mean + space.item_bias(block)

    def mode(self, items, terms, prior_weight):
        """θ (D,) for the history's ``items`` (h,) and their HistoryTerms."""
        rotated = self.rotated_items[items].astype(np.float64)  # (h, D)
        scores = self.mean_scores[items]  # (h,) at the prior mean
        # Gradient at the mean and the diagonal part of the curvature, in the basis.
        gradient = terms.expected_negatives * self.negative_slope + rotated.T @ (
            terms.like_curvature * scores - terms.like_pull
        )
        diagonal = prior_weight + terms.expected_negatives * self.eigenvalues  # (D,)
        curved = terms.like_curvature > 0
        scaled = np.sqrt(terms.like_curvature[curved])[:, None] * rotated[curved]  # (r, D): C^1/2 F V
        if len(scaled) >= len(diagonal):  # as many curved rows as dimensions: the (D, D) solve is cheaper
            step = solve_positive_definite(np.diag(diagonal) + scaled.T @ scaled, gradient)
        else:
            step = gradient / diagonal
            if len(scaled):
                # (diag + K^T K)^-1 g = diag^-1 g - diag^-1 K^T (I + K diag^-1 K^T)^-1 K diag^-1 g
                inner = np.eye(len(scaled)) + (scaled / diagonal) @ scaled.T  # (r, r)
                step = step - (scaled.T @ solve_positive_definite(inner, scaled @ step)) / diagonal
        return self.mean - self.basis @ step


def posterior_mode(space, items, weights, settings=DEFAULT_SETTINGS, prior_weight=1.0, terms=None):
    """Damped Gauss-Newton from the prior mean: a step is halved until it
    lowers the objective, so the iteration cannot diverge. The first step is
    the closed form of the objective's quadratic model at the prior mean (for
    GMF or NeuMF with likes only the exact answer); ``settings.max_steps``
    bounds the rest. ``prior_weight`` scales the prior's precision (what
    ``prior_weight()`` gives serving); ``terms``: the history's HistoryTerms,
    when the caller has them. -> (θ, context, number of steps taken)."""
    posterior = Posterior(space, items, weights, prior_weight, terms)
    theta = space.prior_mean.copy()
    value, gradient, hessian = posterior(theta)
    accepted = 1.0
    for steps in range(settings.max_steps):
        direction = -solve_positive_definite(hessian, gradient)
        if posterior.quadratic:
            return theta + direction, posterior.context, steps + 1
        decrement = -float(gradient @ direction)  # the step's squared length in posterior standard deviations
        if decrement <= settings.tolerance**2:
            return theta, posterior.context, steps
        last = steps + 1 == settings.max_steps
        # Start from the last accepted fraction of the Newton step, and try twice
        # that after a first-try success: where ReLU kinks or the normalisations of
        # NGCF make the Newton model overshoot, they tend to do so step after step.
        # Derivatives come with the value unless this is the last step, with the
        # Hessian kept from the first evaluation (KEPT_HESSIAN): the gradient
        # alone costs less than evaluating the accepted point again.
        scale = accepted
        for trial in range(30):  # noqa: B007 (read after the loop: was the first try accepted?)
            candidate = theta + scale * direction
            evaluated = posterior(candidate, derivatives=not last and KEPT_HESSIAN)
            if evaluated[0] <= value - 0.25 * scale * decrement:
                break
            scale /= 2
        else:
            return theta, posterior.context, steps  # no descent left at machine precision: theta is the mode
        theta, gain = candidate, value - evaluated[0]
        accepted = min(1.0, 2 * scale) if trial == 0 else scale
        if last or gain <= settings.tolerance**2 / 2:
            # As little gained as the stopping rule allows to be left: where the
            # scores have kinks (ReLU), the decrement alone can stay high on a plateau.
            return theta, posterior.context, steps + 1
        value, gradient, hessian = evaluated
    return theta, posterior.context, settings.max_steps


def fold_in(model, history, settings=None):
    """A representation for a visitor with the given history.

    history: item indices (likes) or (item, weight) pairs, oldest first,
    at least one entry. settings: a FoldInSettings (default ``settings_for(model)``).
    Returns the (1, D') user representation ``model.score_items`` takes.
    """
    with torch.no_grad():  # nothing here is learned by autograd
        return _fold_in(model, history, settings_for(model) if settings is None else settings)


def _fold_in(model, history, settings):
    items, weights = weighted_history(history, settings.max_history)
    if not len(items):
        raise ValueError("Fold-in needs at least one interaction.")
    space = space_for(model)
    if space is None or space.like_kind == SQUARES:
        weights = shared_dislikes(weights)
    if space is None:  # a model whose users are their histories (EASE): nothing to solve for
        return model.history_representation(torch.from_numpy(items), torch.from_numpy(weights).float())
    weight, terms = prior_weight(model, space, weights), HistoryTerms(space, weights)
    if space.quadratic_mode is not None and terms.quadratic:
        theta = space.quadratic_mode.mode(items, terms, weight)
        return space.representation(theta, liked_context(space, items, weights))
    theta, context, _ = posterior_mode(space, items, weights, settings, weight, terms)
    return space.representation(theta, context)


def catalog_scores(model, user_repr):
    """(1, D') representation -> (n_items,) float32 numpy scores of every item:
    the fold-in space's own scorer when it has one, else ``model.score_items``."""
    space = _spaces.get(model)
    scorer = getattr(space, "catalog_scores", None)
    if scorer is not None:
        return scorer(np.asarray(user_repr[0], dtype=np.float32))
    with torch.no_grad():
        return model.score_items(user_repr)[0].numpy()


def top_k_unseen(model, user_repr, seen_items, k):
    """The k best-scoring item indices the visitor has not interacted with,
    best first, with their scores."""
    seen = np.fromiter(set(seen_items), dtype=np.int64)
    k = min(k, model.n_items - len(seen))
    if k <= 0:
        return [], []
    shortlist = getattr(_spaces.get(model), "shortlist", None)
    if shortlist is not None:  # the unseen items, or a few candidates holding the best k (ItemScan, NeuMF)
        candidates, scores = shortlist(np.asarray(user_repr[0], dtype=np.float32), seen, k)
    else:
        scores = np.array(catalog_scores(model, user_repr), dtype=np.float32)  # (n_items,), a copy we may mark
        scores[seen] = -np.inf
        candidates = np.arange(len(scores))
    best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    best = best[np.argsort(-scores[best], kind="stable")]
    return candidates[best].tolist(), scores[best].tolist()
