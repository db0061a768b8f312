"""Neural Matrix Factorization (He et al. 2017, section 3.4): GMF and MLP
branches with their own embeddings, fused by one output unit on the
concatenation of their predictive factors."""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from predictors.base import PairFeatureModel
from predictors.gmf import GMF
from predictors.mlp import MLP


class NeuMF(PairFeatureModel):
    # Exact scores, 2.4x faster for all 62k items of ml-25m (p50 51 -> 21 ms, one thread;
    # benchmarks/bench_foldin_speed.py): see Recommender.scoring_chunk.
    scoring_chunk = 4096
    # A visitor's GMF half starts at the mean GMF user, as in GMF's own fold-in,
    # and the MLP half at zero (see mean_user), both pulled back with GMF's l2:
    # recall@10 0.84-0.95x -> 0.98-1.11x full re-training at n = 5 and 20 on
    # held-out seeds 0-2 (benchmarks/bench_foldin_quality.py; l2 chosen on seed 0),
    # and on ml-100k five clicks in one genre fill as much of the top 10 with it
    # as before. Four negatives instead of eight: recall within noise (0.96-1.20x),
    # p95 latency at 100 clicks 23 -> 17 ms.
    fold_in_tuning = {"l2": 0.02, "negatives": 4}

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

    def mean_user(self):
        # The MLP half starts at zero, where NeuMF's fold-in started before this
        # prior: from the mean MLP user that branch hardly moved in 30 steps.
        return torch.cat([self.gmf.mean_user(), torch.zeros(1, self.mlp.user_dim())], dim=-1)  # (1, dg + dm)

    def user_dim(self):
        return self.gmf.user_dim() + self.mlp.user_dim()

    def user_representation(self, users):
        return torch.cat([self.gmf.user_representation(users), self.mlp.user_representation(users)], dim=-1)  # (B, dg + dm)

    def user_parameters(self):
        return torch.cat([self.gmf.user_parameters(), self.mlp.user_parameters()], dim=-1)  # (Nu, dg + dm)

    def item_parameters(self, items):
        return torch.cat([self.gmf.item_parameters(items), self.mlp.item_parameters(items)], dim=-1)

    def features(self, user_repr, items):
        gmf_user, mlp_user = user_repr[:, : self.split], user_repr[:, self.split :]
        return torch.cat([self.gmf.features(gmf_user, items), self.mlp.features(mlp_user, items)], dim=-1)  # (B, K, dim + dim)

    def item_side(self, items):
        return torch.cat([self.gmf.item_side(items), self.mlp.item_side(items)], dim=-1)

    def features_from_item_side(self, user_repr, item_side):
        gmf_width = self.gmf.item_embedding.embedding_dim
        gmf_user, mlp_user = user_repr[:, : self.split], user_repr[:, self.split :]
        return torch.cat([self.gmf.features_from_item_side(gmf_user, item_side[..., :gmf_width]),
                          self.mlp.features_from_item_side(mlp_user, item_side[..., gmf_width:])], dim=-1)

    def score_item_side(self, user_repr, item_side):
        # The output unit on [GMF; MLP] is the sum of one unit on each, so the
        # GMF half stays a matrix-vector product (GMF.score_item_side) and
        # nothing (B, K, .) is concatenated.
        gmf_width, gmf_factors = self.gmf.item_embedding.embedding_dim, self.gmf.output.in_features
        gmf_user, mlp_user = user_repr[:, : self.split], user_repr[:, self.split :]
        gmf_weight, mlp_weight = self.output.weight[:, :gmf_factors], self.output.weight[:, gmf_factors:]
        gmf_scores = (item_side[..., :gmf_width] @ (gmf_user * gmf_weight).unsqueeze(-1)).squeeze(-1)  # (B, K)
        mlp_scores = F.linear(self.mlp.features_from_item_side(mlp_user, item_side[..., gmf_width:]), mlp_weight).squeeze(-1)
        return gmf_scores + mlp_scores + self.output.bias
