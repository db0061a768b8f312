"""Folding a new visitor into a frozen trained model (predictors/foldin.py),
on a small generated catalog with two planted tastes."""
import numpy as np
import pandas as pd
import pytest
import torch

from predictors import foldin
from predictors.data import from_frame
from predictors.training import fit_model
from predictors.zoo import hyperparameters

N_PER_GROUP = 20  # items 0..19 are "group A" (say, comedies), 20..39 "group B"
# NeuMF is trained end to end here: its pre-training trains each branch with
# that branch's ml-100k defaults, with which on these 600 interactions the GMF
# branch never learns (its loss stays at ln 2), and a NeuMF whose GMF half is
# noise is not the model fold-in serves.
SMALL = {"gmf": {"dim": 16, "epochs": 40, "lr": 1e-2, "patience": 100},
         "neumf": {"dim": 16, "layers": 1, "epochs": 20, "lr": 5e-3, "pretrain": False, "patience": 100},
         "ngcf": {"dim": 16, "layers": 2, "epochs": 60, "lr": 5e-3, "patience": 100},
         "ease": {"l2": 10.0}}


def planted_interactions(seed=0, n_users_per_group=30, per_user=10):
    """Users of group A interact only with A items, B users only with B items."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(2 * n_users_per_group):
        group = user // n_users_per_group
        items = rng.choice(N_PER_GROUP, per_user, replace=False) + group * N_PER_GROUP
        rows += [(user, int(item), t) for t, item in enumerate(items)]
    return from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


@pytest.fixture(scope="module", params=sorted(SMALL))
def trained(request):
    torch.manual_seed(0)
    data = planted_interactions()
    params = hyperparameters(request.param, **SMALL[request.param])
    model, _, _ = fit_model(request.param, data, params, np.random.default_rng(1), progress=False)
    return request.param, model.eval()


def top(model, history, k=10):
    return foldin.top_k_unseen(model, foldin.fold_in(model, history), history, k)[0]


def share_of_group_a(items):
    return sum(item < N_PER_GROUP for item in items) / len(items)


def mean_position_of_group_a(model, history):
    """Where group A's unseen items sit in the visitor's full ranking (0 = top)."""
    ranking = top(model, history, k=model.n_items - len(history))
    return np.mean([position for position, item in enumerate(ranking) if item < N_PER_GROUP])


def test_seen_movies_are_never_recommended(trained):
    _, model = trained
    for history in ([0], [0, 5, 21], list(range(0, 40, 3))):
        picks = top(model, history, k=model.n_items - len(history))
        assert not set(picks) & set(history)
        assert len(picks) == len(set(picks)) == model.n_items - len(history)


def test_more_clicks_on_one_taste_move_it_up(trained):
    name, model = trained
    mixed = [0, 1, 20, 21]
    more_a = mixed + [2, 3, 4, 5]
    assert mean_position_of_group_a(model, more_a) < mean_position_of_group_a(model, mixed), name
    assert share_of_group_a(top(model, [0, 1, 2, 3, 4])) >= 0.9, name
    assert share_of_group_a(top(model, [20, 21, 22, 23, 24])) <= 0.1, name


def test_the_same_history_gives_the_same_list(trained):
    _, model = trained
    history = [3, 7, 25]
    assert top(model, history) == top(model, history)


def test_frozen_parameters_stay_frozen(trained):
    _, model = trained
    model.zero_grad(set_to_none=True)  # training's last gradients are not fold-in's
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    top(model, [1, 2, 30])
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert all(parameter.grad is None for parameter in model.parameters())


def test_sampled_negatives_are_never_in_the_history():
    generator = torch.Generator().manual_seed(0)
    seen = torch.tensor([0, 1, 2, 3, 5, 8])
    draws = foldin.sample_unseen(10, seen, (200, 7), generator)
    assert not torch.isin(draws, seen).any()
    with pytest.raises(ValueError, match="seen every item"):
        foldin.sample_unseen(3, torch.tensor([0, 1, 2]), (1, 1), generator)
