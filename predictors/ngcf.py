"""Neural Graph Collaborative Filtering (Wang et al. 2019) on a DGL heterograph.

Layer l+1 of node u (symmetrically for items), N_u its neighbours:
    e_u' = LeakyReLU( W1 e_u + b1                                   (self-connection)
                      + sum_i c_ui (W1 e_i + b1 + W2 (e_i * e_u) + b2) )   c_ui = 1/sqrt(|N_u||N_i|)
The sum is computed as W1 a + W2 (a * e_u) + (b1 + b2) s with a = sum_i c_ui e_i
and s = sum_i c_ui, which is the same quantity but needs only one
u_mul_e / sum pass of DGL's built-in functions per relation. Each layer's
output goes through message dropout and L2 normalisation (as in the
authors' code); the final representation concatenates all layers, the
items' layers l >= 1 weighted by a learned g_l (1 as published; 0 when the
model starts from a factorisation, see NGCF.start_from_factors).
"""

import threading

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from predictors import foldin
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
        messages = (
            self.W1(ego) + F.linear(neighbourhood, self.W1.weight) + F.linear(neighbourhood * ego, self.W2.weight)
        )
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
                ntype: self.combine(
                    features[ntype], graph.nodes[ntype].data["a"], graph.nodes[ntype].data["norm_sum"].unsqueeze(-1)
                )
                for ntype in ("user", "item")
            }


class NGCF(Recommender):
    fold_in_loss = "bpr"

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
        # g_l, the weight of item layer l >= 1 in the concatenation, so a score
        # is e_u0 . e_i0 + sum_l g_l e_u^l . e_i^l: 1 is the paper's NGCF; a
        # model started from matrix factorisation (start_from_factors) starts
        # at the g its validation picked and keeps 0, the factorisation's own scores.
        self.layer_gates = nn.Parameter(torch.ones(layers))
        self._cache = None  # eval-mode propagation, reused until the next train() call
        self._visitor_item_features = None  # built from the cache by visitor_item_features
        # |N_i|, kept apart from the graph so that serving can drop the graph.
        degree = graph.nodes["item"].data["degree"] if graph is not None else torch.ones(self.n_items)
        self.register_buffer("item_degree", degree, persistent=False)

    def start_from_factors(self, user_factors, item_factors, gate=0.0):
        """Layer 0 from a factorisation's (Nu, d) and (Ni, d) factors, and
        every layer a smoothing of its input (W1 = I, W2 = 0, no bias:
        e^(l+1) = normalise(LeakyReLU(e + sum c e_nb))) weighted ``gate``: at
        gate 0 every score is the factorisation's, p_u . q_i (the authors'
        ``--pretrain`` starts from MF embeddings the same way). A gate of 0
        is validation preferring no graph at all, so fine-tuning keeps it
        there: the model stays the factorisation it picked and is folded in
        as one (fold_in_space); a gate above 0 is learned from its start."""
        with torch.no_grad():
            self.user_embedding.weight.copy_(user_factors)
            self.item_embedding.weight.copy_(item_factors)
            for layer in self.layers:
                nn.init.eye_(layer.W1.weight)
                nn.init.zeros_(layer.W2.weight)
                nn.init.zeros_(layer.W1.bias)
                nn.init.zeros_(layer.W2.bias)
            self.layer_gates.fill_(gate)
        self.layer_gates.requires_grad_(gate != 0)
        self._cache = self._visitor_item_features = None
        return self

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Artifacts from before the layer gates were NGCF as published: every gate 1.
        state_dict.setdefault(prefix + "layer_gates", torch.ones(len(self.layers)))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def train(self, mode=True):
        if self.graph is None:
            if mode:
                raise RuntimeError("This NGCF has no graph (a serving copy): it cannot be trained.")
            return super().train(False)  # keeps the propagated layers: nothing could change them
        self._cache = self._visitor_item_features = None
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
                raise RuntimeError(
                    "This NGCF has neither a graph nor propagated layers; load_serving_state gives it the latter."
                )
            with torch.no_grad():
                per_layer = self.propagate()
            self._cache = (self._concatenate(per_layer), per_layer)
        return self._cache[0]

    def _concatenate(self, per_layer):
        """Users' layers side by side, and items' with layer l >= 1 times g_l: the
        gates sit on the item side only, so a visitor (a user) is propagated as before."""
        users = torch.cat([layer["user"] for layer in per_layer], dim=-1)
        return users, gated_item_layers([layer["item"] for layer in per_layer], self.layer_gates)

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
        self.representations()
        layers = torch.cat([per_layer["item"] for per_layer in self._cache[1]], dim=-1)  # before the gates
        return {"item_layers": layers, "item_degree": self.item_degree}

    def load_serving_state(self, state):
        """The counterpart of serving_state, for a model built with graph=None."""
        item_layers = state["item_layers"].clone()  # (Ni, d(L+1)); a copy, not a view of the artifact file
        widths = [self.user_embedding.embedding_dim] + [layer.W1.out_features for layer in self.layers]
        self.item_degree = state["item_degree"].clone()
        self.eval()
        self._visitor_item_features = None
        parts = item_layers.split(widths, dim=-1)
        gated = gated_item_layers(parts, [gate.detach() for gate in self.layer_gates])
        self._cache = ((None, gated), [{"item": part} for part in parts])
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
        # backward is one index_add, not an accumulating index_put (docs/tuning.md).
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

    def visitor_neighbourhoods(self, history_items, edge_weights=None):
        """Join a new user to the trained graph: a one-user DGL heterograph
        with an edge from each of its (h,) items, carrying
        c_ui = w_i / sqrt(sum(w) |N_i|) (w_i = 1 unless ``edge_weights`` say
        otherwise: the usual 1/sqrt(h |N_i|)), and one message pass of every
        layer's item features at once, with a column of ones for s = sum_i c_ui.
        -> a_l = sum_i c_ui e_i^(l) for each layer l < L, (L, d), and s (1, 1)."""
        if self.training:
            raise RuntimeError("Fold users in with the model in eval mode.")
        history_items = torch.as_tensor(history_items, dtype=torch.int64)
        h = len(history_items)
        weights = torch.ones(h) if edge_weights is None else torch.as_tensor(edge_weights, dtype=torch.float32)
        visitor = visitor_graph(h)
        degree = self.item_degree[history_items]
        visitor.edges["rated_by"].data["norm"] = weights * (weights.sum().clamp(min=1e-12) * degree).rsqrt()  # (h,)
        visitor.nodes["item"].data["h"] = self.visitor_item_features()[history_items]  # (h, L d + 1)
        visitor.update_all(fn.u_mul_e("h", "norm", "m"), fn.sum("m", "a"), etype="rated_by")
        summed = visitor.nodes["user"].data["a"][0]  # (L d + 1,)
        return summed[:-1].view(len(self.layers), -1), summed[-1:].view(1, 1)

    def visitor_item_features(self):
        """(Ni, L d + 1): each item's layers 0..L-1 side by side and a 1, what a
        visitor's node receives from its movies; built once per frozen model."""
        if self._visitor_item_features is None:
            self.representations()
            layers = [per_layer["item"] for per_layer in self._cache[1][: len(self.layers)]]
            self._visitor_item_features = torch.cat([*layers, torch.ones(self.n_items, 1)], dim=1)
        return self._visitor_item_features

    def fold_in_context(self, history_items, edge_weights=None):
        """The visitor's node joined to its (h,) items (visitor_neighbourhoods).
        Only the user's own embedding is solved for during fold-in and the item
        layers are frozen, so each layer reduces to an affine map of the user's
        own embedding (NGCFLayer.frozen_neighbourhood). -> per layer (M (d, d'), offset (1, d'))."""
        neighbourhoods, norm_sum = self.visitor_neighbourhoods(history_items, edge_weights)
        return tuple(
            layer.frozen_neighbourhood(a.unsqueeze(0), norm_sum)
            for layer, a in zip(self.layers, neighbourhoods, strict=False)
        )

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

    def fold_in_space(self):
        if bool((self.layer_gates == 0).all()):
            return FactorisationSpace(self)
        if foldin.training_loss(self) in foldin.LEAST_SQUARES_LOSSES:
            return InductiveSpace(self)
        return NGCFSpace(self)


_visitor_graphs = threading.local()  # per thread: {h: the one-user heterograph with h items}


def visitor_graph(h):
    """The star heterograph of h items rated by one user; only its edge and node
    data differ between visitors with h movies, so each thread keeps one per h."""
    graphs = _visitor_graphs.__dict__.setdefault("by_size", {})
    if h not in graphs:
        if len(graphs) > 256:
            graphs.clear()
        graphs[h] = dgl.heterograph(
            {("item", "rated_by", "user"): (torch.arange(h), torch.zeros(h, dtype=torch.int64))},
            num_nodes_dict={"user": 1, "item": h},
        )
    return graphs[h]


def balancing_offset(liked_scores, liked_shares, catalog_scores, negatives_per_positive):
    """The b at which the logistic likelihood's pull on positives, drawn with
    ``liked_shares``, balances its push on the catalog: a pairwise model's
    scores carry no calibrated zero, and this puts the average user's at one."""
    low, high = -60.0, 60.0
    for _ in range(60):  # bisection: the left side falls and the right side rises with b
        b = (low + high) / 2
        pull = float(liked_shares @ foldin.sigmoid(-(liked_scores + b)))
        push = negatives_per_positive * float(foldin.sigmoid(catalog_scores + b).mean())
        low, high = (b, high) if pull > push else (low, b)
    return (low + high) / 2


class NGCFSpace(foldin.FoldInSpace):
    """NGCF for fold-in: θ is the visitor's layer-0 embedding e0, the visitor
    a node joined to its liked movies (as NGCF.visitor_neighbourhoods joins
    it, here one numpy sum over the history's rows); the trained
    layers map e0 to the final representation z (every layer concatenated),
    and a score is z e_i + b with e_i the item's concatenated layers.

    The catalog term (the softmax's log-sum-exp, or the expected sampled
    negatives) is a quadratic around the average trained user: the mean e0
    joined to every movie in proportion to its degree, as many movies as a
    trained user has on average. BPR's loss averages its sampled negatives,
    so one expected negative per positive, and b (balancing_offset) is where
    the average user's likes and the catalog balance; a softmax needs no b."""

    maps_user = True

    def __init__(self, model):
        self.model = model
        self.scan = foldin.ItemScan(model.representations()[1].numpy())
        self.items = self.scan.items  # (N, d(L+1))
        self.visitor = VisitorNode(model)
        self.prior_mean, self.prior_precision = foldin.gaussian_prior(model.user_parameters().numpy())
        self.identity = np.eye(len(self.prior_mean))  # dz0/dθ
        average_user = self.context(np.arange(model.n_items), self.visitor.average_user_weights())
        anchor = self.user(self.prior_mean, average_user, jacobian=False)[0]
        anchor_scores = self.items @ anchor
        self.offset = training_offset(model, anchor_scores, self.visitor.shares)
        self.confidence = foldin.training_confidence(model)
        self.negatives, self.negatives_per_positive, self.like_kind = foldin.catalog_term(
            model, anchor, [(self.items, anchor_scores + self.offset)]
        )
        self.hessian32 = self.negatives.hessian.astype(np.float32)

    def context(self, liked, liked_weights):
        return self.visitor.context(liked, liked_weights)

    def user(self, theta, context, jacobian=True):
        """θ -> z, every layer concatenated (d(L+1),), and with ``jacobian``
        dz/dθ (D, d(L+1)), carried through each layer."""
        dim = len(theta)
        z = np.empty(self.items.shape[1])
        z[:dim] = theta
        through_layers = self.identity
        if jacobian:
            jacobians = np.empty((dim, len(z)))
            jacobians[:, :dim] = through_layers
        start = dim
        for matrix, hidden, norm, user in VisitorNode.layers(theta, context):
            stop = start + len(user)
            z[start:stop] = user
            if jacobian:
                through = (through_layers @ matrix) * np.where(hidden > 0, 1.0, 0.2)  # (D, d')
                through_layers = (through - np.outer(through @ user, user)) / norm
                jacobians[:, start:stop] = through_layers
            start = stop
        return z, (jacobians if jacobian else None)

    def gradient(self, theta, context, rows, z_gradient, pull):
        """The gradient in z, z_gradient + rows^T pull, carried back layer by
        layer (a vector-Jacobian product: a pass back costs what the pass
        forward does, the Jacobian D times that)."""
        in_z = z_gradient + rows.T @ pull
        stop, back = len(in_z), 0.0
        for matrix, hidden, norm, user in reversed(VisitorNode.layers(theta, context)):
            start = stop - len(user)
            incoming = in_z[start:stop] + back
            back = matrix @ ((incoming - (incoming @ user) * user) / norm * np.where(hidden > 0, 1.0, 0.2))
            stop = start
        return in_z[:stop] + back

    def history_rows(self, items):
        return self.items[items].astype(np.float64)

    def scores(self, theta, context, rows, mapped):
        z, jacobian = mapped
        return rows @ z + self.offset, (None if jacobian is None else rows @ jacobian.T)

    def negative_curvature(self, jacobian):
        """J H J^T in float32 (a Gauss-Newton curvature for the step's direction;
        the gradient stays exact), using that J's first block, dz0/dθ, is the
        identity: 3/4 of the products of the general form, at half the width."""
        dim, rest = len(jacobian), jacobian[:, len(jacobian) :].astype(np.float32)
        hessian = self.hessian32
        carried = hessian[:dim] + rest @ hessian[dim:]  # J H, (D, F)
        curvature = (carried[:, :dim] + carried[:, dim:] @ rest.T).astype(np.float64)
        return (curvature + curvature.T) / 2

    def representation(self, theta, context):
        z, _ = self.user(theta, context, jacobian=False)
        return torch.from_numpy(z.astype(np.float32)).unsqueeze(0)

    def catalog_scores(self, representation):
        """NGCF.score_items for one visitor, in numpy: z e_i for every item."""
        return self.scan.scores(representation)

    def shortlist(self, representation, seen, k):
        """-> candidate items, unseen, and their scores, holding the best k (foldin.ItemScan)."""
        return self.scan.best_unseen(representation, seen, foldin.SHORTLIST_PER_PICK * k)


class FactorisationSpace(foldin.LinearSpace):
    """NGCF with every layer gate 0 (validation's pick when NGCF starts from
    GMF's factors): the items' layers l >= 1 are zero columns, so a score is
    θ e_i^0 + b whatever the visitor's layers, linear in θ. Fold-in is then
    GMF's over the layer-0 item vectors, the first Gauss-Newton step exact
    with likes only, instead of carrying θ and its Jacobian through every
    layer for nothing. Same prior, catalog term and offset b as NGCFSpace
    (whose z-space quadratic is zero outside layer 0 here), so the same mode.

    The representation handed back is still NGCF's, every layer of the
    visitor's node concatenated (what NGCF.score_items and
    fold_in_representation give); the catalog is scored on its layer-0 part."""

    def __init__(self, model):
        self.visitor = VisitorNode(model)
        self.dim = model.user_dim()
        items = model.representations()[1][:, : self.dim].numpy()  # (N, d): e_i^0
        users = model.user_parameters().numpy()
        anchor_scores = items.astype(np.float64) @ np.asarray(users, dtype=np.float64).mean(axis=0)
        super().__init__(model, items, training_offset(model, anchor_scores, self.visitor.shares), users)
        self.scan = foldin.ItemScan(self.items)  # NGCF.score_items has no offset b (a view, not a copy)

    def context(self, liked, liked_weights):
        return self.visitor.context(liked, liked_weights)

    def representation(self, theta, context):
        parts = [theta] + [user for _, _, _, user in VisitorNode.layers(theta, context)]
        return torch.from_numpy(np.concatenate(parts).astype(np.float32)).unsqueeze(0)

    def catalog_scores(self, representation):
        return self.scan.scores(representation[: self.dim])

    def shortlist(self, representation, seen, k):
        return super().shortlist(representation[: self.dim], seen, k)


class InductiveSpace(FactorisationSpace):
    """A least-squares NGCF (the default, started from the factorisation) with
    a layer gate above 0, folded in as a new user node is in an inductive
    graph model: the visitor's layer-0 vector θ first, by FactorisationSpace's
    closed form over the items' layer-0 vectors (its prior scaled by h / m,
    ``foldin.prior_weight``), then that θ propagated through the trained
    layers from the visitor's liked movies (NGCF.fold_in_representation), and
    every item scored by all its gated layers, as NGCF.score_items scores.

    Solving θ through the layers instead (NGCFSpace) leaves the per-interaction
    ridge that makes h / m right for a least-squares likelihood: its
    Gauss-Newton steps from the average user either held a short history
    near it (the prior as trained) or went astray (scaled), at several times
    the closed form's cost (docs/tuning.md, "Fold-in strength for new visitors")."""

    def __init__(self, model):
        super().__init__(model)
        self.layered_scan = foldin.ItemScan(model.representations()[1].numpy())  # (N, d(L+1)), gated

    def catalog_scores(self, representation):
        return self.layered_scan.scores(representation)

    def shortlist(self, representation, seen, k):
        return self.layered_scan.best_unseen(representation, seen, foldin.SHORTLIST_PER_PICK * k)


class VisitorNode:
    """A visitor's node joined to its liked movies and run through the trained
    layers, in numpy (NGCF.fold_in_context and fold_in_representation)."""

    def __init__(self, model):
        # Per layer W1^T, W2^T, b1 and b1 + b2 (NGCFLayer.frozen_neighbourhood).
        self.layer_weights = [
            (
                layer.W1.weight.T.double().numpy(),
                layer.W2.weight.T.double().numpy(),
                layer.W1.bias.double().numpy(),
                (layer.W1.bias + layer.W2.bias).double().numpy(),
            )
            for layer in model.layers
        ]
        # What a visitor's node receives from its movies (NGCF.visitor_item_features),
        # kept here in float64 so that a visitor's context is one (h, L d + 1) sum.
        self.item_features = model.visitor_item_features().double().numpy()
        self.item_degree = model.item_degree.double().numpy()
        self.shares = self.item_degree / self.item_degree.sum()
        self.mean_count = float(self.item_degree.sum()) / model.n_users

    def average_user_weights(self):
        """The average trained user's edges: every movie in proportion to its
        degree, as many movies as a trained user has on average."""
        return self.mean_count * self.shares

    def context(self, liked, liked_weights):
        """NGCFLayer.frozen_neighbourhood for every layer, in numpy: (M, offset) pairs.
        The visitor's edges are normalised as NGCF.visitor_neighbourhoods does:
        c_i = w_i / sqrt(sum w |N_i|)."""
        weights = np.asarray(liked_weights, dtype=np.float64)
        norm = weights / np.sqrt(max(float(weights.sum()), 1e-12) * self.item_degree[liked])
        summed = norm @ self.item_features[liked]  # (L d + 1,)
        neighbourhoods, norm_sum = summed[:-1].reshape(len(self.layer_weights), -1), float(summed[-1])
        return [
            (self_weight + a[:, None] * interaction_weight, self_bias + a @ self_weight + norm_sum * bias_sum)
            for a, (self_weight, interaction_weight, self_bias, bias_sum) in zip(
                neighbourhoods, self.layer_weights, strict=False
            )
        ]

    @staticmethod
    def layers(theta, context):
        """fold_in_representation's layers in numpy: z -> LeakyReLU -> L2
        normalisation. -> per layer (M, pre-activation, norm, output)."""
        user, passed = theta, []
        for matrix, offset in context:
            hidden = user @ matrix + offset
            activated = np.maximum(hidden, 0.2 * hidden)  # LeakyReLU(0.2)
            norm = max(float(np.sqrt(activated @ activated)), 1e-12)
            user = activated / norm
            passed.append((matrix, hidden, norm, user))
        return passed


def training_offset(model, anchor_scores, shares):
    """The offset b added to every score in the likelihood: BPR's balancing
    offset at the average user's scores, else 0 (a softmax's log-sum-exp is
    blind to a shift, and BCE's scores are calibrated)."""
    if foldin.training_loss(model) == "bpr":
        return balancing_offset(anchor_scores, shares, anchor_scores, 1.0)
    return 0.0


def gated_item_layers(item_layers, gates):
    """Items' layers side by side, layer l >= 1 times its gate g_l (layer 0 as it is)."""
    gated = [gate * layer for gate, layer in zip(gates, item_layers[1:], strict=True)]
    return torch.cat([item_layers[0], *gated], dim=-1)
