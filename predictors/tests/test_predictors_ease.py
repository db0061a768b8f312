"""EASE (predictors/ease.py): the closed form, and visitors scored exactly."""

import numpy as np
import pytest
import torch

from predictors import foldin
from predictors.data import DataError
from predictors.ease import EASE, MAX_ITEMS

USERS = [0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4, 5]
ITEMS = [0, 1, 2, 1, 3, 0, 2, 3, 4, 1, 4, 0]
N_USERS, N_ITEMS = 6, 5


def fitted(l2=0.5):
    return EASE(N_USERS, N_ITEMS, USERS, ITEMS).fit(l2).eval()


def test_each_column_is_the_ridge_regression_of_that_item_on_the_others():
    """The closed form equals what the objective asks for, solved item by item:
    min ||X_j - X_-j b||^2 + l2 ||b||^2, without item j among the regressors."""
    rows = np.zeros((N_USERS, N_ITEMS))
    rows[USERS, ITEMS] = 1.0
    weights = fitted(0.5).weights.double().numpy()
    for item in range(N_ITEMS):
        others = [j for j in range(N_ITEMS) if j != item]
        inputs = rows[:, others]
        expected = np.linalg.solve(inputs.T @ inputs + 0.5 * np.eye(N_ITEMS - 1), inputs.T @ rows[:, item])
        assert np.allclose(weights[others, item], expected, atol=1e-5)
        assert weights[item, item] == 0.0


def test_the_reported_loss_is_the_reconstruction_error_per_user():
    model = fitted(0.5)
    rows = model.user_representation(torch.arange(N_USERS)).double()
    direct = (rows - rows @ model.weights.double()).pow(2).sum().item() / N_USERS
    assert model.reconstruction_error == pytest.approx(direct, rel=1e-5)


def test_a_visitor_is_scored_exactly_as_the_trained_user_with_the_same_history():
    model = fitted()
    visitor = foldin.fold_in(model, [0, 1, 2])  # user 0's history
    assert torch.equal(visitor, model.user_representation(torch.tensor([0])))
    assert torch.allclose(model.score_items(visitor), model.score_items(model.user_representation(torch.tensor([0]))))
    picks, _ = foldin.top_k_unseen(model, visitor, [0, 1, 2], k=10)
    assert sorted(picks) == [3, 4]  # every unseen item, none seen


def test_a_serving_copy_scores_visitors_but_has_no_trained_users():
    trained = fitted()
    serving = EASE(N_USERS, N_ITEMS)
    serving.load_state_dict(trained.state_dict())
    serving.freeze_for_serving()
    history = [3, 4]
    assert torch.equal(
        serving.score_items(foldin.fold_in(serving, history)), trained.score_items(foldin.fold_in(trained, history))
    )
    with pytest.raises(RuntimeError, match="serving copy"):
        serving.user_representation(torch.tensor([0]))


def test_a_catalog_too_large_for_the_item_matrix_is_refused_with_a_sentence():
    with pytest.raises(DataError, match=r"62,423 movies would need 15\.6 GB"):
        EASE(10, 62_423)
    assert MAX_ITEMS >= 9_742  # ml-latest-small, the largest catalog EASE is offered for besides ml-1m
