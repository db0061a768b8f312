"""What every recommender model offers the training loop and the serving code.

A user enters a model only through a *user representation*: a row of
``user_representation(users)`` for a known user, or, for a new one, what
predictors.foldin solves for from the visitor's history with the model's
``fold_in_space()``. ``score_items(user_repr, items)`` then scores any items.
"""

import torch
from torch import nn

INIT_STD = 0.01


def embedding(count, dim):
    table = nn.Embedding(count, dim)
    nn.init.normal_(table.weight, std=INIT_STD)
    return table


class Recommender(nn.Module):
    n_items: int

    def user_representation(self, users):
        """(B,) user rows -> (B, D) representation."""
        raise NotImplementedError

    def user_dim(self):
        """D, the width of a user's trainable ego parameters."""
        raise NotImplementedError

    def user_parameters(self):
        """(n_users, D) every trained user's ego parameters, as fold-in learns them."""
        return self.user_embedding.weight

    def fold_in_representation(self, ego, history_items):
        """A new user's representation from its ego parameters (1, D) and the
        (h,) item indices it interacted with; only graph models use the history."""
        return ego

    def history_representation(self, history_items, weights):
        """A new user's (1, D') representation read straight off their (h,)
        items and (h,) weights (> 0 a like, < 0 a dislike), for a model whose
        users are their histories (EASE); None when it has to be solved for."""
        return None

    def fold_in_space(self):
        """A predictors.foldin.FoldInSpace: what fold-in needs from this frozen model."""
        raise NotImplementedError

    def score_pairs(self, user_repr, items):
        """user_repr (B, D'), items (B, K) -> logits (B, K)."""
        raise NotImplementedError

    def score_items(self, user_repr, items=None):
        """user_repr (B, D'), items (K,) or all items -> logits (B, K)."""
        if self._serving_item_side is not None:
            side = (
                self._serving_item_side if items is None else self._serving_item_side[items]
            )  # (K, F), no copy for all
            chunks = side.split(self.scoring_chunk) if self.scoring_chunk else (side,)
            return torch.cat(
                [
                    self.score_item_side(user_repr, chunk.unsqueeze(0).expand(user_repr.shape[0], -1, -1))
                    for chunk in chunks
                ],
                dim=1,
            )  # (B, K)
        if items is None:
            items = torch.arange(self.n_items)
        return self.score_pairs(user_repr, items.unsqueeze(0).expand(user_repr.shape[0], -1))

    # Serving. The part of a score that depends on the item alone (an embedding
    # row, the item half of a first MLP layer, a propagated item) is computed
    # once per frozen model, so a request pays only for the visitor's half.
    _serving_item_side = None  # (n_items, F) once frozen for serving
    # Items per block when scoring the catalog for serving, or None for one
    # block. A tower's (K, F) temporaries for all 62k items of ml-25m are tens
    # of MB each, fresh pages every request; in blocks they stay in cache.
    scoring_chunk = None
    # The loss the model is trained with by default, which fold-in's likelihood
    # follows: pointwise scores are calibrated, pairwise ones only ordered.
    fold_in_loss = "bce"

    def item_side(self, items):
        """items (...) -> (..., F): the user-independent part of their scores."""
        raise NotImplementedError

    def score_item_side(self, user_repr, item_side):
        """user_repr (B, D'), item_side (B, K, F) -> logits (B, K); equals score_pairs."""
        raise NotImplementedError

    def cached_item_side(self, items):
        """item_side(items), gathered from the serving cache when there is one."""
        if self._serving_item_side is None:
            return self.item_side(items)
        return self._serving_item_side[items]

    def serving_state(self):
        """Tensors beyond the state_dict that serving needs (saved in the artifact); none here."""
        return {}

    def load_serving_state(self, state):
        return self

    def freeze_for_serving(self):
        """Eval mode, no gradients, item sides precomputed: the model is read-only from now on."""
        self.eval()
        self.requires_grad_(False)
        with torch.no_grad():
            self._serving_item_side = self.item_side(torch.arange(self.n_items))
        return self

    def item_parameters(self, items):
        """items (B, K) -> (B, K, E): the item embeddings the L2 term covers."""
        raise NotImplementedError

    def training_logits(self, users, items):
        """users (B,), items (B, K) -> logits (B, K) and the batch's L2 term."""
        user_repr = self.user_representation(users)
        l2 = (user_repr.pow(2).sum() + self.item_parameters(items).pow(2).sum()) / len(users)
        return self.score_pairs(user_repr, items), l2

    def catalog_logits(self, users):
        """users (B,) -> logits of every item (B, n_items) and the L2 terms of
        the batch's users and of all items, for the catalog losses."""
        user_repr = self.user_representation(users)
        items = torch.arange(self.n_items)
        side = self.item_side(items)  # (n_items, F)
        logits = self.score_item_side(user_repr, side.unsqueeze(0).expand(len(users), -1, -1))
        return logits, user_repr.pow(2).sum(), self.item_parameters(items.unsqueeze(0)).pow(2).sum()

    def forward(self, users, items):
        return self.training_logits(users, items)[0]


class PairFeatureModel(Recommender):
    """NCF-style models: a feature vector per (user, item) pair, then one
    linear output unit ``h``: (B, K, F) -> (B, K). A user is one embedding row."""

    output: nn.Linear
    user_embedding: nn.Embedding
    item_embedding: nn.Embedding

    def user_dim(self):
        return self.user_embedding.embedding_dim

    def user_representation(self, users):
        return self.user_embedding(users)  # (B, D)

    def item_parameters(self, items):
        return self.item_embedding(items)  # (B, K, D)

    def features(self, user_repr, items):
        """user_repr (B, D), items (B, K) -> (B, K, F)."""
        raise NotImplementedError

    def score_pairs(self, user_repr, items):
        return self.output(self.features(user_repr, items)).squeeze(-1)

    def item_side(self, items):
        return self.item_embedding(items)

    def features_from_item_side(self, user_repr, item_side):
        """user_repr (B, D), item_side (B, K, F) -> (B, K, F'): ``features`` for serving."""
        raise NotImplementedError

    def score_item_side(self, user_repr, item_side):
        return self.output(self.features_from_item_side(user_repr, item_side)).squeeze(-1)
