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

import numpy as np
import scipy.sparse as sp
import torch

from predictors.base import Recommender
from predictors.data import DataError

# B in float32 at 20k movies: 1.6 GB; fitting it holds two float64 matrices
# of that size besides (X^T X and its inverse), about 8 GB at the peak.
MAX_ITEMS = 20_000


class EASE(Recommender):
    reconstruction_error = None  # per trained user, set by fit (the training curve's "loss")

    def __init__(self, n_users, n_items, users=None, items=None, weights=None):
        """``users``/``items``: the interactions the trained users' rows come
        from (None for a serving copy, which only scores visitors' histories);
        ``weights`` their entries in X (default 1, rating-weighted training)."""
        super().__init__()
        if n_items > MAX_ITEMS:
            gigabytes = n_items**2 * 4 / 1e9
            raise DataError(
                f"EASE keeps an item-by-item matrix: {n_items:,} movies would need {gigabytes:.1f} GB "
                f"(it is offered up to {MAX_ITEMS:,}). Train GMF, NeuMF or NGCF on this catalog."
            )
        self.n_users, self.n_items = n_users, n_items
        self.register_buffer("weights", torch.zeros(n_items, n_items))  # B
        # The average trained user's row, mean of X: what a visitor with no like
        # at all is taken to be (kept beside B in the artifact's serving state).
        self.register_buffer("average_row", torch.zeros(n_items), persistent=False)
        self.user_rows = None
        if users is not None:
            users, items = np.asarray(users), np.asarray(items)
            values = np.ones(len(users), dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
            # A repeated interaction is still one entry (its last value), not a sum.
            _, last_from_end = np.unique((users * n_items + items)[::-1], return_index=True)
            keep = len(users) - 1 - last_from_end
            self.user_rows = sp.csr_matrix((values[keep], (users[keep], items[keep])), shape=(n_users, n_items))  # X
            self.average_row = torch.from_numpy(np.asarray(self.user_rows.mean(axis=0), dtype=np.float32).ravel())

    def fit(self, l2):
        """The closed form above, on the trained users' rows. X^T X is built
        from the sparse rows (never a dense user-by-item matrix) and inverted in
        float64: the Gram matrix of a catalog with a few very popular movies is
        badly conditioned in float32."""
        if self.user_rows is None:
            raise RuntimeError("This EASE has no interactions to fit (a serving copy).")
        gram = torch.from_numpy(
            (self.user_rows.T @ self.user_rows).toarray().astype(np.float64)
        )  # X^T X (n_items, n_items)
        gram.diagonal().add_(l2)
        # X^T X + lambda I is symmetric positive definite for lambda > 0, so the
        # Cholesky factor inverts it faster than a general inverse, as exactly
        # (measured in docs/tuning.md, "EASE's lambda").
        factor, info = torch.linalg.cholesky_ex(gram)
        if int(info) == 0:
            del gram
            precision = torch.cholesky_inverse(factor)  # P
        else:  # lambda = 0 on a singular Gram matrix: as good an inverse as there is
            precision = torch.linalg.inv(gram)
            del gram
        del factor
        diagonal = precision.diagonal().clone()
        # ||X - X B||^2 per user, the objective without its penalty. With the
        # diagonal at 0, X - X B = X P D^-1 (D = diag P), and X^T X = P^-1 - l2 I,
        # so the error is sum_j (P_jj - l2 ||P_j||^2) / P_jj^2: no pass over the users.
        error = ((diagonal - l2 * torch.linalg.vector_norm(precision, dim=1).pow(2)) / diagonal.pow(2)).sum()
        self.reconstruction_error = float(error) / max(self.n_users, 1)
        weights = precision.div_(-diagonal)  # in place: B = -P_ij / P_jj, column by column
        weights.fill_diagonal_(0.0)
        self.weights.copy_(weights)
        return self

    def user_dim(self):
        return self.n_items

    def user_representation(self, users):
        if self.user_rows is None:
            raise RuntimeError("A serving copy of EASE keeps no trained users; score a visitor's history instead.")
        return torch.from_numpy(self.user_rows[np.asarray(users)].toarray())  # (B, n_items)

    def history_representation(self, history_items, weights):
        """(h,) items and weights -> (1, n_items): the visitor's row of X,
        exactly, a dislike as a negative entry. A visitor with dislikes only
        starts from the average row, so that the list is the crowd's with the
        disliked movies' neighbours pushed down rather than ties at zero."""
        row = torch.zeros(1, self.n_items) if bool((weights > 0).any()) else self.average_row.clone().unsqueeze(0)
        row[0, history_items] = weights.to(row.dtype)
        return row

    def fold_in_space(self):
        return None  # nothing to solve for: history_representation is exact

    def serving_state(self):
        return {"average_row": self.average_row}

    def load_serving_state(self, state):
        self.average_row = state["average_row"].clone()
        return self

    def score_items(self, user_repr, items=None):
        weights = self.weights if items is None else self.weights[:, items]
        if user_repr.shape[0] == 1:
            # A visitor's row has only their h movies non-zero: x B is the sum of
            # those h rows of B, h n_items work instead of n_items^2, the same numbers.
            present = user_repr[0].nonzero().squeeze(1)
            if len(present) * 4 < self.n_items:
                return user_repr[:, present] @ weights[present]  # (1, h) @ (h, K)
        return user_repr @ weights  # (B, n_items) @ (n_items, K)

    def score_pairs(self, user_repr, items):
        return torch.gather(self.score_items(user_repr), 1, items)  # (B, K)

    def freeze_for_serving(self):
        """B already is the item side of every score; nothing to precompute."""
        self.eval()
        self.requires_grad_(False)
        return self
