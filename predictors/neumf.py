"""Neural Matrix Factorization (He et al. 2017, section 3.4): GMF and MLP
branches with their own embeddings, fused by one output unit on the
concatenation of their predictive factors."""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from predictors import foldin
from predictors.base import PairFeatureModel
from predictors.gmf import GMF
from predictors.mlp import MLP


class NeuMF(PairFeatureModel):
    # Exact scores, 2.4x faster for all 62k items of ml-25m (p50 51 -> 21 ms, one thread;
    # benchmarks/bench_foldin_speed.py): see Recommender.scoring_chunk.
    scoring_chunk = 4096

    def __init__(self, n_users, n_items, dim=16, layers=3, dropout=0.0, gmf=None, mlp=None):
        super().__init__()
        self.n_items = n_items
        self.gmf = gmf if gmf is not None else GMF(n_users, n_items, dim)
        self.mlp = mlp if mlp is not None else MLP(n_users, n_items, dim, layers, dropout)
        self.split = self.gmf.user_dim()
        self.output = nn.Linear(self.gmf.output.in_features + self.mlp.output.in_features, 1)

    @classmethod
    def from_pretrained(cls, gmf, mlp, alpha=0.5):
        """Copies both trained branches; the output unit is alpha * h_gmf
        beside (1 - alpha) * h_mlp, as the paper initialises NeuMF."""
        model = cls(gmf.user_embedding.num_embeddings, gmf.n_items, gmf=copy.deepcopy(gmf), mlp=copy.deepcopy(mlp))
        with torch.no_grad():
            model.output.weight.copy_(torch.cat([alpha * gmf.output.weight, (1 - alpha) * mlp.output.weight], dim=1))
            model.output.bias.copy_(alpha * gmf.output.bias + (1 - alpha) * mlp.output.bias)
        return model

    def user_dim(self):
        return self.gmf.user_dim() + self.mlp.user_dim()

    def user_representation(self, users):
        return torch.cat(
            [self.gmf.user_representation(users), self.mlp.user_representation(users)], dim=-1
        )  # (B, dg + dm)

    def user_parameters(self):
        return torch.cat([self.gmf.user_parameters(), self.mlp.user_parameters()], dim=-1)  # (Nu, dg + dm)

    def item_parameters(self, items):
        return torch.cat([self.gmf.item_parameters(items), self.mlp.item_parameters(items)], dim=-1)

    def features(self, user_repr, items):
        gmf_user, mlp_user = user_repr[:, : self.split], user_repr[:, self.split :]
        return torch.cat(
            [self.gmf.features(gmf_user, items), self.mlp.features(mlp_user, items)], dim=-1
        )  # (B, K, dim + dim)

    def item_side(self, items):
        return torch.cat([self.gmf.item_side(items), self.mlp.item_side(items)], dim=-1)

    def features_from_item_side(self, user_repr, item_side):
        gmf_width = self.gmf.item_embedding.embedding_dim
        gmf_user, mlp_user = user_repr[:, : self.split], user_repr[:, self.split :]
        return torch.cat(
            [
                self.gmf.features_from_item_side(gmf_user, item_side[..., :gmf_width]),
                self.mlp.features_from_item_side(mlp_user, item_side[..., gmf_width:]),
            ],
            dim=-1,
        )

    def score_item_side(self, user_repr, item_side):
        # The output unit on [GMF; MLP] is the sum of one unit on each, so the
        # GMF half stays a matrix-vector product (GMF.score_item_side) and
        # nothing (B, K, .) is concatenated.
        gmf_width, gmf_factors = self.gmf.item_embedding.embedding_dim, self.gmf.output.in_features
        gmf_user, mlp_user = user_repr[:, : self.split], user_repr[:, self.split :]
        gmf_weight, mlp_weight = self.output.weight[:, :gmf_factors], self.output.weight[:, gmf_factors:]
        gmf_scores = (item_side[..., :gmf_width] @ (gmf_user * gmf_weight).unsqueeze(-1)).squeeze(-1)  # (B, K)
        mlp_scores = F.linear(
            self.mlp.features_from_item_side(mlp_user, item_side[..., gmf_width:]), mlp_weight
        ).squeeze(-1)
        return gmf_scores + mlp_scores + self.output.bias

    # The catalog losses and validation score every (user, movie) cell. Through
    # the base class the item side is expanded per user, so a step's backward
    # holds a (B, N, d) gradient of the GMF half; here that half is one
    # (B, d) @ (d, N) product and the MLP half broadcasts its item side.
    def catalog_scores(self, user_repr):
        """user_repr (B, dg + dm) -> logits of every item (B, n_items), as score_item_side."""
        gmf_factors = self.gmf.output.in_features
        gmf_user, mlp_user = user_repr[:, : self.split], user_repr[:, self.split :]
        gmf_weight, mlp_weight = self.output.weight[:, :gmf_factors], self.output.weight[:, gmf_factors:]
        gmf_scores = (gmf_user * gmf_weight) @ self.gmf.item_embedding.weight.T  # (B, N)
        mlp_side = self.mlp.item_side(torch.arange(self.n_items)).unsqueeze(0)  # (1, N, w1)
        mlp_scores = F.linear(self.mlp.features_from_item_side(mlp_user, mlp_side), mlp_weight).squeeze(-1)
        return gmf_scores + mlp_scores + self.output.bias

    def catalog_logits(self, users):
        user_repr = self.user_representation(users)
        items = torch.arange(self.n_items).unsqueeze(0)
        return self.catalog_scores(user_repr), user_repr.pow(2).sum(), self.item_parameters(items).pow(2).sum()

    def score_items(self, user_repr, items=None):
        if items is None and self._serving_item_side is None:
            return self.catalog_scores(user_repr)
        return super().score_items(user_repr, items)

    def fold_in_space(self):
        return NeuMFSpace(self)


class NeuMFSpace(foldin.LinearSpace):
    """NeuMF for fold-in: θ = [GMF user; MLP user]. The GMF half's scores are
    linear in θ; the MLP half's are piecewise linear (ReLU). The visitor is
    solved in the model's tangent at the average trained user μ,
    s_i(θ) ≈ s_i(μ) + J_i (θ - μ) with J the exact (N, dg + dm) Jacobian,
    computed once per model: the solve is then GMF's closed form. The list is
    ranked by the full network at that θ (``catalog_scores``)."""

    def __init__(self, model, chunk=4096):
        gmf_factors = model.gmf.output.in_features
        self.split, self.tower_bias = model.split, float(model.output.bias)
        self.gmf_items = (model.gmf.item_embedding.weight * model.output.weight[:, :gmf_factors]).numpy()  # (N, dg)
        linears = [layer for layer in model.mlp.tower if isinstance(layer, torch.nn.Linear)]  # each followed by a ReLU
        half = model.mlp.user_embedding.embedding_dim
        self.first_user = linears[0].weight[:, :half].T.numpy()  # (dm, w1): the user half of layer 1
        self.mlp_items = model.mlp.item_side(
            torch.arange(model.n_items)
        ).numpy()  # (N, w1): its item half, bias included
        self.layers = [(layer.weight.T.numpy(), layer.bias.numpy()) for layer in linears[1:]]
        self.mlp_output = model.output.weight[0, gmf_factors:].numpy()  # (dim,)
        self.chunk = chunk
        users = model.user_parameters().numpy()
        mean = users.astype(np.float64).mean(axis=0)
        blocks = [
            self.tower(mean, np.arange(start, min(start + chunk, model.n_items)))
            for start in range(0, model.n_items, chunk)
        ]
        scores, jacobian = np.concatenate([b[0] for b in blocks]), np.vstack([b[1] for b in blocks])
        super().__init__(model, jacobian, scores - jacobian @ mean, users, chunk)

    def tower(self, theta, items):
        """Exact scores (h,) of ``items`` for θ and their gradients (h, dg + dm), in float64."""
        gmf_user, mlp_user = theta[: self.split], theta[self.split :]
        gmf_rows = self.gmf_items[items].astype(np.float64)
        hidden = self.mlp_items[items] + mlp_user @ self.first_user  # (h, w1)
        masks = [hidden > 0]
        activation = hidden * masks[0]
        for weight, bias in self.layers:
            hidden = activation @ weight + bias
            masks.append(hidden > 0)
            activation = hidden * masks[-1]
        back = self.mlp_output * masks[-1]  # d score / d last pre-activation, (h, dim)
        for (weight, _), mask in zip(reversed(self.layers), reversed(masks[:-1]), strict=False):
            back = (back @ weight.T) * mask
        scores = gmf_rows @ gmf_user + activation @ self.mlp_output + self.tower_bias
        return scores, np.hstack([gmf_rows, back @ self.first_user.T])  # (h,), (h, dg + dm)

    # Items the tangent shortlists for the full network to rank: the tower costs
    # (w1 x w2) per item, the tangent D, so ranking every movie through the tower
    # is most of a request; the tangent's best shortlist_per_pick x k hold the
    # network's top k (benchmarks/bench_foldin_speed.py measures how often).
    shortlist_per_pick = 20

    def shortlist(self, representation, seen, k):
        """-> candidate items (M,), unseen, and the network's scores of them."""
        size = min(len(self.scan) - len(seen), self.shortlist_per_pick * k)
        candidates, tangent = self.scan.best_unseen(representation, seen, size)
        if len(candidates) > size:
            candidates = candidates[np.argpartition(-tangent, size - 1)[:size]]
        return candidates, self.tower_scores(representation, candidates)

    def catalog_scores(self, representation):
        return self.tower_scores(representation, slice(None))

    def tower_scores(self, representation, items):
        """The network's scores of ``items`` for θ, as NeuMF.score_items, in
        float32 blocks whose temporaries stay in cache."""
        gmf_user, first = representation[: self.split], representation[self.split :] @ self.first_user
        gmf_items, mlp_items = self.gmf_items[items], self.mlp_items[items]
        out = np.empty(len(gmf_items), dtype=np.float32)
        for start in range(0, len(out), self.chunk):
            block = slice(start, start + self.chunk)
            activation = np.maximum(mlp_items[block] + first, 0.0)
            for weight, bias in self.layers:
                activation = np.maximum(activation @ weight + bias, 0.0)
            out[block] = gmf_items[block] @ gmf_user + activation @ self.mlp_output + self.tower_bias
        return out
