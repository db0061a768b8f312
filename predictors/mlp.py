"""The MLP branch of NCF (He et al. 2017, section 3.3): a ReLU tower that
halves its width at every layer down to ``dim`` predictive factors."""

import torch
import torch.nn.functional as F
from torch import nn

from predictors.base import PairFeatureModel, embedding


def tower_widths(dim, layers):
    """dim=8, layers=3 -> [64, 32, 16, 8]: the concatenated input, then each layer."""
    return [dim * 2**k for k in range(layers, -1, -1)]


class MLP(PairFeatureModel):
    scoring_chunk = 4096  # see Recommender.scoring_chunk

    def __init__(self, n_users, n_items, dim=16, layers=3, dropout=0.0):
        super().__init__()
        self.n_items = n_items
        widths = tower_widths(dim, layers)
        self.user_embedding = embedding(n_users, widths[0] // 2)
        self.item_embedding = embedding(n_items, widths[0] // 2)
        steps = []
        for width_in, width_out in zip(widths, widths[1:], strict=False):
            steps += [nn.Dropout(dropout), nn.Linear(width_in, width_out), nn.ReLU()]
        self.tower = nn.Sequential(*steps)
        self.output = nn.Linear(dim, 1)

    def features(self, user_repr, items):
        item_repr = self.item_embedding(items)  # (B, K, e)
        user_repr = user_repr.unsqueeze(1).expand_as(item_repr)  # (B, K, e)
        return self.tower(torch.cat([user_repr, item_repr], dim=-1))  # (B, K, 2e) -> (B, K, dim)

    # Serving: the first layer W [u; i] + b splits into W_u u + (W_i i + b),
    # and the item term is the item side. Dropout is off in eval mode.
    def item_side(self, items):
        first, half = self.tower[1], self.user_embedding.embedding_dim
        return F.linear(self.item_embedding(items), first.weight[:, half:], first.bias)  # (B, K, 2d)

    def features_from_item_side(self, user_repr, item_side):
        first, half = self.tower[1], self.user_embedding.embedding_dim
        hidden = torch.relu(item_side + F.linear(user_repr, first.weight[:, :half]).unsqueeze(1))  # (B, K, 2d)
        return self.tower[3:](hidden)  # (B, K, dim)
