"""Generalized Matrix Factorization (He et al. 2017, section 3.2)."""

import torch
from torch import nn

from predictors import foldin
from predictors.base import PairFeatureModel, embedding


class GMF(PairFeatureModel):
    def __init__(self, n_users, n_items, dim=32):
        super().__init__()
        self.n_items = n_items
        self.user_embedding = embedding(n_users, dim)  # p_u
        self.item_embedding = embedding(n_items, dim)  # q_i
        self.output = nn.Linear(dim, 1)  # h

    def least_squares_factors(self):
        """For weighted least squares (predictors.least_squares): h = 1 and no
        bias, so the score is p . q, and the tables p and q to solve for in place."""
        with torch.no_grad():
            self.output.weight.fill_(1.0)
            self.output.bias.zero_()
        return self.user_embedding.weight.data, self.item_embedding.weight.data

    def features(self, user_repr, items):
        return user_repr.unsqueeze(1) * self.item_embedding(items)  # (B, 1, d) * (B, K, d) -> (B, K, d)

    def features_from_item_side(self, user_repr, item_side):
        return user_repr.unsqueeze(1) * item_side  # (B, K, d)

    def score_items(self, user_repr, items=None):
        # The same h(p * q) as score_item_side, as one (B, d) @ (d, K) product.
        side = self.item_embedding.weight if self._serving_item_side is None else self._serving_item_side
        if items is not None:
            side = side[items]
        return (user_repr * self.output.weight) @ side.T + self.output.bias  # (B, K)

    def catalog_logits(self, users):
        user_repr = self.user_representation(users)
        return self.score_items(user_repr), user_repr.pow(2).sum(), self.item_embedding.weight.pow(2).sum()

    def score_item_side(self, user_repr, item_side):
        # h((p * q)) = q . (p * h_w) + h_b: one matrix-vector product, no (B, K, d) temporary.
        return (item_side @ (user_repr * self.output.weight).unsqueeze(-1)).squeeze(-1) + self.output.bias  # (B, K)

    def fold_in_space(self):
        # h (p * q_i) = p (h * q_i): a visitor's scores are linear in p over the items q_i * h.
        items = (self.item_embedding.weight * self.output.weight).numpy()  # (N, d)
        return foldin.LinearSpace(self, items, float(self.output.bias), self.user_parameters().numpy())
