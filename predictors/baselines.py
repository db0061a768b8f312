"""Baselines scored with the same protocols as our models: popularity, and
the ``implicit`` library's ALS and BPR matrix factorisation (CPU).

Each ``fit_*`` returns a scorer, ``scores(users) -> (B, n_items)``.
"""

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

BASELINES = ("popularity", "als", "bpr")
ALS_DEFAULTS = {"factors": 32, "regularization": 0.1, "alpha": 2.0, "iterations": 15}
# The grid tune_als searches: factors x regularization x confidence alpha.
ALS_GRID = {
    "factors": (32, 64, 128, 256),
    "regularization": (0.1, 1.0, 10.0, 30.0),
    "alpha": (1.0, 4.0, 10.0),
    "iterations": (15,),
}
# implicit's BPR samples negatives in proportion to popularity, which caps it
# below ALS on MovieLens however it is tuned (docs/tuning.md).
BPR_DEFAULTS = {"factors": 64, "learning_rate": 0.005, "regularization": 0.03, "iterations": 150}


def fit_popularity(train):
    counts = np.bincount(train.items, minlength=train.n_items).astype(np.float64)  # (n_items,)
    return lambda users: np.broadcast_to(counts, (len(users), train.n_items))


def user_item_matrix(train):
    ones = np.ones(len(train), dtype=np.float32)
    return sp.csr_matrix((ones, (train.users, train.items)), shape=(train.n_users, train.n_items))


def _factor_scorer(model):
    user_factors, item_factors = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return lambda users: user_factors[users] @ item_factors.T  # (B, f) @ (f, n_items)


def _fit_implicit(model_class, params, train, seed, threads):
    # implicit parallelises itself; OpenBLAS threads on top of that slow it
    # down badly (and it warns), so BLAS is held to one thread meanwhile.
    with threadpool_limits(limits=1, user_api="blas"):
        model = model_class(**params, num_threads=threads, random_state=seed)
        model.fit(user_item_matrix(train), show_progress=False)
    return _factor_scorer(model)


def fit_als(train, seed=0, threads=2, **overrides):
    from implicit.cpu.als import AlternatingLeastSquares

    return _fit_implicit(AlternatingLeastSquares, {**ALS_DEFAULTS, **overrides}, train, seed, threads)


def fit_bpr(train, seed=0, threads=2, **overrides):
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    return _fit_implicit(BayesianPersonalizedRanking, {**BPR_DEFAULTS, **overrides}, train, seed, threads)


def tune_als(fit, validation, seed=0, threads=1, grid=None):
    """The ALS_GRID point with the best validation NDCG@10 when fitted on
    ``fit``: -> (params, value, trials), trials as [(params, value)]."""
    import itertools

    from predictors.evaluation import full_ranking

    grid = grid or ALS_GRID
    trials = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values, strict=False))
        trials.append((params, full_ranking(fit_als(fit, seed, threads, **params), fit, validation)["ndcg@10"]))
    best, value = max(trials, key=lambda trial: trial[1])
    return best, value, trials


def fit_baseline(name, train, seed=0, threads=2):
    fitters = {
        "popularity": lambda: fit_popularity(train),
        "als": lambda: fit_als(train, seed, threads),
        "bpr": lambda: fit_bpr(train, seed, threads),
    }
    return fitters[name]()
