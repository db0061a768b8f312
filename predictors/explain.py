"""Why a movie was recommended: the one or two liked movies of the visitor's
history that contributed most to it, read off the model that ranked it.

EASE scores a visitor exactly as x B (x their history row), so the score of
movie i is the sum over history movies h of x_h B[h, i]: that term *is* h's
contribution, and the movies named are those with the largest positive terms.

An embedding model (GMF, NeuMF, NGCF) has no such sum: the folded-in user
vector mixes the whole history. What it does have is its own representation
of every item, the user-independent half of a score (``item_side``: GMF's
item embedding q_i, NeuMF's [q_i; the item half of its first MLP layer],
NGCF's propagated item vectors over all layers). The measure used is the
cosine between the recommended movie's and each liked history movie's
representation: the history movie the model places nearest. Only liked
movies (weight > 0) are named, and only with a positive contribution; a
movie nothing in the history explains gets no "because".
"""

import logging
import weakref

import numpy as np

from predictors import serving
from predictors.lazy_modules import LazyModule

# torch loads with the first explanation, not at django.setup() (predictors/lazy_modules.py).
torch = LazyModule("torch")
ease = LazyModule("predictors.ease")

log = logging.getLogger(__name__)

NAMED = 2  # "Because you liked Jaws and Alien"

_unit_sides = weakref.WeakKeyDictionary()  # frozen serving model -> (n_items, F) unit-length item sides


def unit_item_sides(model):
    """(n_items, F) float32 numpy array of the model's item representations
    scaled to unit length, computed once per frozen model."""
    if model not in _unit_sides:
        with torch.no_grad():
            side = model.cached_item_side(torch.arange(model.n_items)).reshape(model.n_items, -1).float()
            _unit_sides[model] = torch.nn.functional.normalize(side, dim=1).numpy()
    return _unit_sides[model]


def contributions(model, history_items, history_weights, items):
    """(h,) history item indices and weights, (k,) recommended item indices ->
    (h, k) float32 numpy array of how much each history item contributed to
    each recommended one (see the module's docstring for the measure per kind
    of model). In numpy: a table this small costs torch more in per-call
    overhead than in arithmetic."""
    history_items = np.asarray(history_items, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if isinstance(model, ease.EASE):  # its exact terms x_h B[h, i]
        weights = np.asarray(history_weights, dtype=np.float32)
        return weights[:, None] * model.weights.detach().numpy()[np.ix_(history_items, items)]  # (h, 1) * (h, k)
    sides = unit_item_sides(model)
    return sides[history_items] @ sides[items].T  # (h, F) @ (F, k) -> (h, k)


def top_causes(model, history, items, limit=NAMED):
    """history: (item index, weight) pairs; items: recommended item indices ->
    {item: [history item indices, largest contribution first]} over liked history items."""
    liked = [(item, weight) for item, weight in history if weight > 0]
    if not liked or not len(items):
        return {}
    table = contributions(model, [item for item, _ in liked], [weight for _, weight in liked], items)
    # One sort of every column and plain lists after it: a few array calls
    # per recommended item cost more than the explanation's arithmetic.
    orders = np.argsort(-table, axis=0, kind="stable")[:limit].T.tolist()
    values = table.T.tolist()
    return {
        item: [liked[row][0] for row in order if values[column][row] > 0]
        for column, (item, order) in enumerate(zip(items, orders, strict=True))
    }


def because(model_name, history, movie_ids, limit=NAMED, active=serving.LOOK_UP):
    """{movie pk: [history movie pks that explain it]} for ``movie_ids``
    recommended by ``model_name`` to a visitor with ``history`` ((pk, weight)
    pairs). Empty when the model is not serving; never raises into a page.
    ``active`` as for ``Predictor.current``."""
    try:
        loaded = serving.get_predictor(model_name).current(active)
        if loaded is None:
            return {}
        index = loaded.index
        known = [(index[pk], weight) for pk, weight in serving.as_weighted(history) if pk in index]
        targets = [index[pk] for pk in movie_ids if pk in index]
        causes = top_causes(loaded.model, known, targets, limit)
    except Exception:
        log.exception("%s could not explain its recommendations", model_name)
        return {}
    item_ids = loaded.item_ids
    return {int(item_ids[item]): [int(item_ids[h]) for h in named] for item, named in causes.items()}
