"""EASE, the embarrassingly shallow autoencoder (Steck 2019).

An item-to-item model: a user is their interaction row x (n_items,) and the
scores are x B, where B (n_items, n_items) is the ridge regression of each
item's column of X on all the other columns, with a zero diagonal so that an
item cannot predict itself. That constrained least squares has a closed form:

    P = (X^T X + lambda I)^-1,   B = I - P diag(1 / diag(P))   (diagonal set to 0)

No epochs, no sampling: one (n_items x n_items) inversion, seconds for
MovieLens-100k. And no fold-in to learn: a new visitor's row is their
history, so a visitor is scored exactly as a trained user with the same
history would be. The price is the dense B, n_items^2 floats: EASE is
offered for catalogs up to MAX_ITEMS movies (MovieLens-100k, -1m and
latest-small), not for ml-25m's 62k.
"""
import torch

from predictors.base import Recommender
from predictors.data import DataError

MAX_ITEMS = 20_000  # B in float32: 1.6 GB; the float64 inversion behind it needs twice that


class EASE(Recommender):
    def __init__(self, n_users, n_items, users=None, items=None):
        """``users``/``items``: the interactions the trained users' rows come
        from (None for a serving copy, which only scores visitors' histories)."""
        super().__init__()
        if n_items > MAX_ITEMS:
            gigabytes = n_items**2 * 4 / 1e9
            raise DataError(f"EASE keeps an item-by-item matrix: {n_items:,} movies would need {gigabytes:.1f} GB "
                            f"(it is offered up to {MAX_ITEMS:,}). Train GMF, NeuMF or NGCF on this catalog.")
        self.n_users, self.n_items = n_users, n_items
        self.register_buffer("weights", torch.zeros(n_items, n_items))  # B
        self.user_rows = None
        if users is not None:
            self.user_rows = torch.sparse_coo_tensor(
                torch.stack([torch.as_tensor(users, dtype=torch.int64), torch.as_tensor(items, dtype=torch.int64)]),
                torch.ones(len(users)), (n_users, n_items), check_invariants=True,
            ).coalesce()  # X, (n_users, n_items)

    def fit(self, l2):
        """The closed form above, on the trained users' rows; in float64, since
        the Gram matrix of a popular catalog is badly conditioned in float32."""
        if self.user_rows is None:
            raise RuntimeError("This EASE has no interactions to fit (a serving copy).")
        rows = self.user_rows.to_dense().double()  # (n_users, n_items)
        gram = rows.T @ rows + l2 * torch.eye(self.n_items, dtype=torch.float64)
        precision = torch.linalg.inv(gram)  # P
        weights = -precision / precision.diagonal()  # column j divided by P_jj
        weights.fill_diagonal_(0.0)
        self.weights.copy_(weights.float())
        return self

    def reconstruction_error(self):
        """||X - X B||^2 per trained user: the fitted objective without its penalty."""
        with torch.no_grad():
            rows = self.user_rows.to_dense()
            return float((rows - rows @ self.weights).pow(2).sum() / max(self.n_users, 1))

    def user_dim(self):
        return self.n_items

    def user_representation(self, users):
        if self.user_rows is None:
            raise RuntimeError("A serving copy of EASE keeps no trained users; score a visitor's history instead.")
        return self.user_rows.index_select(0, torch.as_tensor(users, dtype=torch.int64)).to_dense()  # (B, n_items)

    def history_representation(self, history_items):
        """(h,) items -> (1, n_items): the visitor's row of X, exactly."""
        row = torch.zeros(1, self.n_items)
        row[0, history_items] = 1.0
        return row

    def score_items(self, user_repr, items=None):
        weights = self.weights if items is None else self.weights[:, items]
        return user_repr @ weights  # (B, n_items) @ (n_items, K)

    def score_pairs(self, user_repr, items):
        return torch.gather(self.score_items(user_repr), 1, items)  # (B, K)

    def freeze_for_serving(self):
        """B already is the item side of every score; nothing to precompute."""
        self.eval()
        self.requires_grad_(False)
        return self
