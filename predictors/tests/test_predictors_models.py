"""Shapes, gradients and the paper-specific wiring of GMF, MLP, NeuMF and NGCF."""

import pytest
import torch
import torch.nn.functional as F

from predictors.gmf import GMF
from predictors.mlp import MLP, tower_widths
from predictors.neumf import NeuMF
from predictors.ngcf import NGCF, interaction_graph

N_USERS, N_ITEMS = 5, 7
USERS = [0, 0, 1, 2, 2, 3, 4, 4]
ITEMS = [0, 1, 1, 2, 3, 4, 5, 6]
BRANCH_OUTPUTS = {"gmf.output.weight", "gmf.output.bias", "mlp.output.weight", "mlp.output.bias"}


def make(name):
    torch.manual_seed(0)
    if name == "gmf":
        return GMF(N_USERS, N_ITEMS, dim=4)
    if name == "mlp":
        return MLP(N_USERS, N_ITEMS, dim=4, layers=2)
    if name == "neumf":
        return NeuMF(N_USERS, N_ITEMS, dim=4, layers=2)
    return NGCF(interaction_graph(USERS, ITEMS, N_USERS, N_ITEMS), dim=4, layers=3, dropout=0.0)


@pytest.mark.parametrize("name", ["gmf", "mlp", "neumf", "ngcf"])
def test_logits_have_one_score_per_pair_and_every_parameter_gets_a_gradient(name):
    model = make(name).train()
    users, items = torch.tensor([0, 1, 4]), torch.tensor([[0, 3], [1, 2], [6, 5]])
    logits, l2 = model.training_logits(users, items)
    assert logits.shape == (3, 2)
    labels = torch.tensor([[1.0, 0.0]]).expand(3, 2)
    (F.binary_cross_entropy_with_logits(logits, labels) + l2).backward()
    for parameter_name, parameter in model.named_parameters():
        if name == "neumf" and parameter_name in BRANCH_OUTPUTS:
            continue  # the branches' own output units only matter before fusion
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name


def test_ngcf_batch_loss_is_the_inner_product_and_l2_of_the_batch_representations():
    model = make("ngcf").train()
    users, items = torch.tensor([0, 1, 4, 0]), torch.tensor([[0, 3, 3], [1, 2, 0], [6, 5, 1], [0, 0, 6]])  # repeats
    user_all, item_all = model.representations()
    user_repr, item_repr = user_all[users], item_all[items]  # (B, D), (B, K, D)
    expected_logits = (item_repr * user_repr.unsqueeze(1)).sum(-1)
    expected_l2 = (user_repr.pow(2).sum() + item_repr.pow(2).sum()) / len(users)
    logits, l2 = model.training_logits(users, items)
    assert torch.allclose(logits, expected_logits, atol=1e-6) and torch.allclose(l2, expected_l2, atol=1e-6)
    expected_grads = torch.autograd.grad(expected_logits.sum() + expected_l2, list(model.parameters()))
    grads = torch.autograd.grad(logits.sum() + l2, list(model.parameters()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads, expected_grads, strict=False))


@pytest.mark.parametrize("name", ["gmf", "mlp", "neumf", "ngcf"])
def test_a_folded_in_user_scores_every_item_and_only_its_ego_parameters_learn(name):
    model = make(name).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    ego = torch.nn.Parameter(torch.randn(1, model.user_dim()) * 0.01)  # (1, D), as fold-in starts a visitor
    user_repr = model.fold_in_representation(ego, torch.tensor([1, 2]))
    scores = model.score_items(user_repr)
    assert scores.shape == (1, N_ITEMS)
    scores[0, 1].backward()
    assert ego.grad is not None and ego.grad.abs().sum() > 0
    # A known user's representation scores the same way.
    assert model.score_items(model.user_representation(torch.tensor([0, 3]))).shape == (2, N_ITEMS)


def test_mlp_tower_halves_every_layer():
    assert tower_widths(8, 3) == [64, 32, 16, 8]
    model = MLP(N_USERS, N_ITEMS, dim=8, layers=3)
    linears = [m for m in model.tower if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 16), (16, 8)]
    assert model.user_embedding.embedding_dim == 32


def test_neumf_pretraining_copies_both_branches_and_mixes_the_output_weights():
    torch.manual_seed(1)
    gmf, mlp = GMF(N_USERS, N_ITEMS, dim=4), MLP(N_USERS, N_ITEMS, dim=4, layers=2)
    model = NeuMF.from_pretrained(gmf, mlp, alpha=0.5)
    for name, value in gmf.state_dict().items():
        if not name.startswith("output"):
            assert torch.equal(model.gmf.state_dict()[name], value), name
    for name, value in mlp.state_dict().items():
        if not name.startswith("output"):
            assert torch.equal(model.mlp.state_dict()[name], value), name
    assert torch.allclose(model.output.weight, torch.cat([0.5 * gmf.output.weight, 0.5 * mlp.output.weight], dim=1))
    assert torch.allclose(model.output.bias, 0.5 * gmf.output.bias + 0.5 * mlp.output.bias)
    # Fused logits are exactly the alpha-mix of the two branches' logits.
    users, items = torch.tensor([0, 2]), torch.tensor([[1, 3], [2, 6]])
    expected = 0.5 * gmf(users, items) + 0.5 * mlp(users, items)
    assert torch.allclose(model(users, items), expected, atol=1e-6)
    # The copies are independent: training NeuMF leaves the originals alone.
    assert model.gmf.user_embedding.weight.data_ptr() != gmf.user_embedding.weight.data_ptr()


def dense_ngcf_layer(layer, user_feats, item_feats, users, items):
    """Wang et al. 2019 eq. (3)-(4), one edge at a time with dense tensors."""
    n_users, n_items = len(user_feats), len(item_feats)
    adjacency = torch.zeros(n_users, n_items)
    adjacency[users, items] = 1.0
    user_degree, item_degree = adjacency.sum(1), adjacency.sum(0)

    def side(own, other, neighbours_of, own_degree, other_degree):
        out = []
        for node in range(len(own)):
            total = layer.W1(own[node])  # self-connection
            for neighbour in neighbours_of(node):
                c = 1.0 / torch.sqrt(own_degree[node] * other_degree[neighbour])
                total = total + c * (layer.W1(other[neighbour]) + layer.W2(other[neighbour] * own[node]))
            out.append(F.normalize(F.leaky_relu(total, 0.2), dim=-1))
        return torch.stack(out)

    new_users = side(user_feats, item_feats, lambda u: torch.nonzero(adjacency[u]).flatten(), user_degree, item_degree)
    new_items = side(
        item_feats, user_feats, lambda i: torch.nonzero(adjacency[:, i]).flatten(), item_degree, user_degree
    )
    return new_users, new_items


def test_ngcf_message_passing_equals_a_dense_reference_on_a_tiny_graph():
    model = make("ngcf").eval()
    for layer in model.layers:  # non-zero biases, so the bias bookkeeping is checked too
        torch.nn.init.normal_(layer.W1.bias)
        torch.nn.init.normal_(layer.W2.bias)
    model.train(False)
    per_layer = model.propagate()
    users, items = model.user_embedding.weight, model.item_embedding.weight
    for depth, layer in enumerate(model.layers, start=1):
        users, items = dense_ngcf_layer(layer, users, items, torch.tensor(USERS), torch.tensor(ITEMS))
        assert torch.allclose(per_layer[depth]["user"], users, atol=1e-5)
        assert torch.allclose(per_layer[depth]["item"], items, atol=1e-5)
    final_users, final_items = model.representations()
    assert final_users.shape == (N_USERS, 4 * 4)  # layer 0 + 3 layers, concatenated
    assert torch.allclose(final_users[:, -4:], users, atol=1e-5)


def test_ngcf_fold_in_of_an_existing_users_history_reproduces_its_representation():
    model = make("ngcf").eval()
    ego = model.user_embedding.weight[2:3]
    history = torch.tensor([i for u, i in zip(USERS, ITEMS, strict=False) if u == 2])
    folded = model.fold_in_representation(ego, history)
    assert torch.allclose(folded, model.user_representation(torch.tensor([2])), atol=1e-5)


@pytest.mark.parametrize("name", ["gmf", "mlp", "neumf", "ngcf"])
def test_a_model_frozen_for_serving_scores_exactly_as_in_training(name, monkeypatch):
    model = make(name).eval()
    user_repr = model.user_representation(torch.tensor([0, 3, 4]))
    with torch.no_grad():
        expected = model.score_pairs(user_repr, torch.arange(N_ITEMS).expand(3, -1))
        model.freeze_for_serving()
        # Blocks of 3 items: the catalog is scored in several, the last one short.
        monkeypatch.setattr(model, "scoring_chunk", 3, raising=False)
        assert torch.allclose(model.score_items(user_repr), expected, atol=1e-6)
        assert torch.allclose(model.score_items(user_repr, torch.tensor([6, 1])), expected[:, [6, 1]], atol=1e-6)


@pytest.mark.parametrize("name", ["gmf", "mlp", "neumf"])
def test_the_whole_catalog_scores_and_differentiates_as_its_pairs(name):
    model = make(name).train()
    users = torch.tensor([0, 3, 4])
    user_repr = model.user_representation(users)
    pairs = model.score_pairs(user_repr, torch.arange(N_ITEMS).expand(3, -1))
    logits = model.catalog_logits(users)[0]
    assert torch.allclose(logits, pairs, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(model.score_items(user_repr), pairs, atol=1e-6)
    parameters = list(model.parameters())
    expected = torch.autograd.grad(pairs.pow(2).sum(), parameters, retain_graph=True, allow_unused=True)
    grads = torch.autograd.grad(logits.pow(2).sum(), parameters, allow_unused=True)
    for grad, reference in zip(grads, expected, strict=True):
        assert (grad is None) == (reference is None)
        assert grad is None or torch.allclose(grad, reference, atol=1e-5)


def factorisation(dim=4):
    generator = torch.Generator().manual_seed(1)
    return torch.randn(N_USERS, dim, generator=generator), torch.randn(N_ITEMS, dim, generator=generator)


def test_ngcf_started_from_a_factorisation_scores_exactly_as_it_and_keeps_the_picked_gate():
    users, items = factorisation()
    model = make("ngcf").start_from_factors(users, items, gate=0.0).train()
    logits = model.catalog_logits(torch.arange(N_USERS))[0]
    assert torch.allclose(logits, users @ items.T, atol=1e-5)
    logits.sum().backward()
    # Validation's pick of no graph at all: fine-tuning leaves the gate at 0 (and the factors learn).
    assert model.layer_gates.grad is None and torch.equal(model.layer_gates.detach(), torch.zeros(3))
    assert model.user_embedding.weight.grad.abs().sum() > 0
    with torch.no_grad():
        smoothed = model.start_from_factors(users, items, gate=0.5).eval()
        assert not torch.allclose(smoothed.score_items(smoothed.user_representation(torch.arange(N_USERS))), logits)
    assert smoothed.layer_gates.requires_grad  # a gate above 0 is learned from its start


def test_an_ngcf_state_from_before_the_layer_gates_loads_as_the_published_ngcf():
    model = make("ngcf")
    state = {key: value for key, value in model.state_dict().items() if key != "layer_gates"}
    with torch.no_grad():
        model.layer_gates.zero_()
    model.load_state_dict(state)
    assert torch.equal(model.layer_gates.detach(), torch.ones(3))


def test_a_serving_copy_of_a_gated_ngcf_scores_and_folds_in_as_the_trained_one():
    users, items = factorisation()
    model = make("ngcf").start_from_factors(users, items, gate=0.3)
    with torch.no_grad():
        for layer in model.layers:  # layers away from their smoothing start
            layer.W2.weight.normal_()
    model.eval()
    user_repr = model.user_representation(torch.arange(N_USERS))
    history = torch.tensor([i for u, i in zip(USERS, ITEMS, strict=True) if u == 2])
    with torch.no_grad():
        expected = model.score_items(user_repr)
        folded = model.fold_in_representation(model.user_embedding.weight[2:3], history)
        copy = NGCF(None, dim=4, layers=3, dropout=0.0, n_nodes=(N_USERS, N_ITEMS))
        copy.load_state_dict(model.state_dict())
        copy.load_serving_state(model.serving_state())
        assert torch.allclose(copy.score_items(user_repr), expected, atol=1e-5)
        assert torch.allclose(copy.fold_in_representation(model.user_embedding.weight[2:3], history), folded, atol=1e-5)
    assert torch.allclose(folded, user_repr[2:3], atol=1e-5)
