"""Neural Graph Collaborative Filtering (Wang et al. 2019) on a DGL heterograph.

Layer l+1 of node u (symmetrically for items), N_u its neighbours:
    e_u' = LeakyReLU( W1 e_u + b1                                   (self-connection)
                      + sum_i c_ui (W1 e_i + b1 + W2 (e_i * e_u) + b2) )   c_ui = 1/sqrt(|N_u||N_i|)
The sum is computed as W1 a + W2 (a * e_u) + (b1 + b2) s with a = sum_i c_ui e_i
and s = sum_i c_ui, which is the same quantity but needs only one
u_mul_e / sum pass of DGL's built-in functions per relation. Each layer's
output goes through message dropout and L2 normalisation (as in the
authors' code); the final representation concatenates all layers.
"""
import torch
import torch.nn.functional as F
from torch import nn

from predictors.base import Recommender, embedding
from predictors.dgl_compat import dgl

fn = dgl.function
RELATIONS = {("user", "rates", "item"): "item", ("item", "rated_by", "user"): "user"}


def interaction_graph(users, items, n_users, n_items):
    """Heterograph with both directions of every interaction and the
    symmetric normalisation c_ui on each edge (edge data ``norm``)."""
    users, items = torch.as_tensor(users, dtype=torch.int64), torch.as_tensor(items, dtype=torch.int64)
    graph = dgl.heterograph(
        {("user", "rates", "item"): (users, items), ("item", "rated_by", "user"): (items, users)},
        num_nodes_dict={"user": n_users, "item": n_items},
    )
    user_degree = torch.bincount(users, minlength=n_users).clamp(min=1).float()
    item_degree = torch.bincount(items, minlength=n_items).clamp(min=1).float()
    norm = (user_degree[users] * item_degree[items]).rsqrt()  # (E,)
    graph.edges["rates"].data["norm"] = norm
    graph.edges["rated_by"].data["norm"] = norm
    graph.nodes["item"].data["degree"] = item_degree
    # s = sum of c over a node's edges, constant for the graph.
    graph.multi_update_all({etype: (fn.copy_e("norm", "c"), fn.sum("c", "norm_sum")) for etype in RELATIONS}, "sum")
    return graph


class NGCFLayer(nn.Module):
    def __init__(self, in_dim, out_dim, dropout):
        super().__init__()
        self.W1 = nn.Linear(in_dim, out_dim)
        self.W2 = nn.Linear(in_dim, out_dim)
        self.dropout = nn.Dropout(dropout)
        for linear in (self.W1, self.W2):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def combine(self, ego, neighbourhood, norm_sum):
        """ego (N, d), neighbourhood a = sum c e_nb (N, d), norm_sum s (N, 1) -> (N, d')."""
        messages = self.W1(ego) + F.linear(neighbourhood, self.W1.weight) + F.linear(neighbourhood * ego, self.W2.weight)
        messages = messages + norm_sum * (self.W2.bias + self.W1.bias)
        return F.normalize(self.dropout(F.leaky_relu(messages, 0.2)), dim=-1)

    def frozen_neighbourhood(self, neighbourhood, norm_sum):
        """For a node whose neighbours are frozen, the messages are affine in its
        own embedding e: W1 e + b1 + W1 a + W2 (a * e) + s (b1 + b2) = e M + offset.
        -> M (d, d'), offset (1, d'); fold-in then pays one (1, d) @ (d, d') per layer."""
        matrix = self.W1.weight.T + neighbourhood.T * self.W2.weight.T
        offset = self.W1.bias + F.linear(neighbourhood, self.W1.weight) + norm_sum * (self.W1.bias + self.W2.bias)
        return matrix, offset

    def forward(self, graph, features):
        """features {'user': (Nu, d), 'item': (Ni, d)} -> same with width d'."""
        with graph.local_scope():
            graph.ndata["h"] = features
            graph.multi_update_all(
                {etype: (fn.u_mul_e("h", "norm", "m"), fn.sum("m", "a")) for etype in RELATIONS},
                "sum",
            )
            return {
                ntype: self.combine(features[ntype], graph.nodes[ntype].data["a"], graph.nodes[ntype].data["norm_sum"].unsqueeze(-1))
                for ntype in ("user", "item")
            }


class NGCF(Recommender):
    fold_in_loss = "bpr"
    # A stronger pull back to the mean user than the shared default, as for
    # GMF; the fold-in keeps the shared 30 steps because more would break the
    # latency goal (both measured in docs/tuning.md, "Fold-in").
    fold_in_tuning = {"l2": 0.01}

    def __init__(self, graph, dim=64, layers=3, dropout=0.1, n_nodes=None):
        """``graph`` from interaction_graph; or None and ``n_nodes`` = (users,
        items) for a serving copy whose item layers come from load_serving_state."""
        super().__init__()
        self.graph = graph
        if graph is not None:
            n_nodes = graph.num_nodes("user"), graph.num_nodes("item")
        self.n_users, self.n_items = n_nodes
        self.user_embedding = embedding(self.n_users, dim)  # e_u^(0)
        self.item_embedding = embedding(self.n_items, dim)  # e_i^(0)
        nn.init.xavier_uniform_(self.user_embedding.weight)
        nn.init.xavier_uniform_(self.item_embedding.weight)
        self.layers = nn.ModuleList(NGCFLayer(dim, dim, dropout) for _ in range(layers))
        self._cache = None  # eval-mode propagation, reused until the next train() call
        # |N_i|, kept apart from the graph so that serving can drop the graph.
        degree = graph.nodes["item"].data["degree"] if graph is not None else torch.ones(self.n_items)
        self.register_buffer("item_degree", degree, persistent=False)

    def train(self, mode=True):
        if self.graph is None:
            if mode:
                raise RuntimeError("This NGCF has no graph (a serving copy): it cannot be trained.")
            return super().train(False)  # keeps the propagated layers: nothing could change them
        self._cache = None
        return super().train(mode)

    def propagate(self):
        """-> per layer, {'user': (Nu, d), 'item': (Ni, d)}, layer 0 first."""
        features = {"user": self.user_embedding.weight, "item": self.item_embedding.weight}
        per_layer = [features]
        for layer in self.layers:
            features = layer(self.graph, features)
            per_layer.append(features)
        return per_layer

    def representations(self):
        """(Nu, d(L+1)), (Ni, d(L+1)): every layer concatenated; cached in eval mode."""
        if self.training:
            return self._concatenate(self.propagate())
        if self._cache is None:
            if self.graph is None:
                raise RuntimeError("This NGCF has neither a graph nor propagated layers; load_serving_state gives it the latter.")
            with torch.no_grad():
                per_layer = self.propagate()
            self._cache = (self._concatenate(per_layer), per_layer)
        return self._cache[0]

    @staticmethod
    def _concatenate(per_layer):
        return tuple(torch.cat([layer[ntype] for layer in per_layer], dim=-1) for ntype in ("user", "item"))

    def user_dim(self):
        return self.user_embedding.embedding_dim

    def user_representation(self, users):
        user_all = self.representations()[0]
        if user_all is None:
            raise RuntimeError("A serving copy of NGCF keeps no trained users; fold a user in instead.")
        return user_all[users]

    def score_pairs(self, user_repr, items):
        return self.score_item_side(user_repr, self.item_side(items))

    def score_items(self, user_repr, items=None):
        item_repr = self.representations()[1]
        if items is not None:
            item_repr = item_repr[items]
        return user_repr @ item_repr.T  # (B, D) @ (D, K)

    def item_side(self, items):
        return self.representations()[1][items]  # (..., d(L+1))

    def score_item_side(self, user_repr, item_side):
        return (item_side @ user_repr.unsqueeze(-1)).squeeze(-1)  # (B, K, D) @ (B, D, 1)

    def serving_state(self):
        """What serving needs besides the weights, saved in the artifact so that
        a web process never builds the graph (two edges per interaction: at
        ml-25m size more memory than all three models): the item side of every
        layer, concatenated, (Ni, d(L+1)), and |N_i| (Ni,)."""
        if self.training:
            raise RuntimeError("Save the serving state of an eval-mode model.")
        return {"item_layers": self.representations()[1], "item_degree": self.item_degree}

    def load_serving_state(self, state):
        """The counterpart of serving_state, for a model built with graph=None."""
        item_layers = state["item_layers"].clone()  # (Ni, d(L+1)); a copy, not a view of the artifact file
        widths = [self.user_embedding.embedding_dim] + [layer.W1.out_features for layer in self.layers]
        self.item_degree = state["item_degree"].clone()
        self.eval()
        self._cache = ((None, item_layers), [{"item": part} for part in item_layers.split(widths, dim=-1)])
        return self

    def freeze_for_serving(self):
        """The propagated layers are already the item sides: keep them, drop the graph."""
        self.eval()
        self.requires_grad_(False)
        self.drop_graph()
        return self

    def training_logits(self, users, items):
        user_all, item_all = self.representations()  # one propagation per batch
        # index_select and squared norms per node, not advanced indexing of the
        # (B, K, D) rows and their squares: the same loss and gradients, but the
        # backward is one index_add instead of an accumulating index_put over 37k
        # rows of 256, and a training step takes 0.6x the time.
        user_repr = user_all.index_select(0, users)  # (B, D)
        item_repr = item_all.index_select(0, items.reshape(-1)).view(*items.shape, -1)  # (B, K, D)
        l2 = (user_all.pow(2).sum(-1)[users].sum() + item_all.pow(2).sum(-1)[items].sum()) / len(users)
        return torch.einsum("bd,bkd->bk", user_repr, item_repr), l2

    def catalog_logits(self, users):
        user_all, item_all = self.representations()  # one propagation per batch
        user_repr = user_all.index_select(0, users)  # (B, D)
        return user_repr @ item_all.T, user_repr.pow(2).sum(), item_all.pow(2).sum()

    def drop_graph(self):
        """For serving: keep the propagated layers (all fold-in needs) and let
        the training graph, two edges per interaction, be freed."""
        if self.training:
            raise RuntimeError("Only an eval-mode model can drop its graph.")
        self.representations()
        self.graph = None

    def fold_in_context(self, history_items):
        """Join a new user to the trained graph: a one-user DGL heterograph
        with an edge from each of its (h,) items, carrying c_ui = 1/sqrt(h |N_i|).

        Only the user's own embedding is learned during fold-in, and the item
        layers are frozen, so each layer's neighbourhood sum a_l = sum_i c_ui e_i^(l)
        does not change between fold-in steps: one message-passing pass per
        layer here, instead of one per step, and each layer reduces to an affine
        map of the user's own embedding (NGCFLayer.frozen_neighbourhood).
        -> per layer (M (d, d'), offset (1, d'))."""
        if self.training:
            raise RuntimeError("Fold users in with the model in eval mode.")
        self.representations()
        per_layer = self._cache[1]
        history_items = torch.as_tensor(history_items, dtype=torch.int64)
        h = len(history_items)
        visitor = dgl.heterograph(
            {("item", "rated_by", "user"): (torch.arange(h), torch.zeros(h, dtype=torch.int64))},
            num_nodes_dict={"user": 1, "item": h},
        )
        degree = self.item_degree[history_items]
        visitor.edges["rated_by"].data["norm"] = (max(h, 1) * degree).rsqrt()  # (h,)
        neighbourhoods = []
        for items_before in per_layer[: len(self.layers)]:
            visitor.nodes["item"].data["h"] = items_before["item"][history_items]  # (h, d)
            visitor.update_all(fn.u_mul_e("h", "norm", "m"), fn.sum("m", "a"), etype="rated_by")
            neighbourhoods.append(visitor.nodes["user"].data["a"])  # (1, d)
        visitor.update_all(fn.copy_e("norm", "c"), fn.sum("c", "s"), etype="rated_by")
        norm_sum = visitor.nodes["user"].data["s"].unsqueeze(-1)  # (1, 1)
        return tuple(layer.frozen_neighbourhood(a, norm_sum) for layer, a in zip(self.layers, neighbourhoods))

    def fold_in_representation(self, ego, context):
        """ego (1, d) and a fold_in_context (or the (h,) history items) ->
        (1, d(L+1)): the trained layers applied to the new user's node."""
        if not isinstance(context, tuple):
            context = self.fold_in_context(context)
        user, parts = ego, [ego]
        for matrix, offset in context:  # dropout is off in eval mode
            user = F.normalize(F.leaky_relu(user @ matrix + offset, 0.2), dim=-1)
            parts.append(user)
        return torch.cat(parts, dim=-1)
