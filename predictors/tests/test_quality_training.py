"""Validation split, early stopping, statistics-based defaults, tuning and ratings modes."""

import dataclasses

import numpy as np
import pytest
import torch

from predictors import least_squares, training, zoo
from predictors.baselines import fit_popularity
from predictors.data import DISLIKE_RATING, from_frame, from_movielens_files, rated_view
from predictors.defaults import DatasetStats, default_hyperparameters
from predictors.evaluation import full_ranking
from predictors.synthetic import planted_interactions
from predictors.tuning import tune, validation_score

MODELS = ("gmf", "mlp", "neumf", "ngcf", "ease")
TINY = {
    "gmf": {"dim": 16, "epochs": 8, "patience": 3, "l2": 1.0},
    "ngcf": {"dim": 8, "layers": 1, "epochs": 4, "patience": 2},
    "ease": {},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def planted():
    return from_frame(planted_interactions(n_users=120, n_items=60, n_groups=3, per_user=15, noise=0.05, seed=0))


def tiny_params(data, name, **overrides):
    stats = DatasetStats.from_interactions(data)
    return zoo.hyperparameters(name, stats=stats, **{**TINY.get(name, {}), **overrides})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_validation_split_never_overlaps_the_test_split(planted, seed):
    train, test = training.protocol_split(planted, "full", seed)
    fit, validation = training.validation_split(train, np.random.default_rng(seed + 1))
    assert not set(validation.keys()) & set(test.keys())
    assert not set(validation.keys()) & set(fit.keys())
    assert set(validation.keys()) | set(fit.keys()) == set(train.keys())
    # About a tenth of every user's training interactions, and each user keeps some to fit on.
    per_user = np.bincount(validation.users, minlength=train.n_users) / train.counts_per_user()
    assert np.allclose(per_user, zoo.VALIDATION_FRACTION, atol=0.05)
    assert (fit.counts_per_user() > 0).all()


def renamed(data, user_offset=1000, item_offset=5000):
    """The same interactions under other user and movie ids and other times."""
    return dataclasses.replace(
        data, user_ids=data.user_ids + user_offset, item_ids=data.item_ids + item_offset, timestamps=data.timestamps * 2
    )


@pytest.mark.parametrize("name", MODELS)
def test_defaults_depend_on_the_datasets_statistics_only(planted, name):
    same = DatasetStats.from_interactions(renamed(planted))
    assert default_hyperparameters(name, same) == default_hyperparameters(name, DatasetStats.from_interactions(planted))


def test_different_statistics_give_different_defaults():
    small = DatasetStats(n_users=943, n_items=1682, n_interactions=100_000)
    long_tail = DatasetStats(n_users=610, n_items=9742, n_interactions=100_836)
    huge = DatasetStats(n_users=162_541, n_items=59_047, n_interactions=25_000_095)
    assert default_hyperparameters("ease", small)["l2"] != default_hyperparameters("ease", long_tail)["l2"]
    assert default_hyperparameters("gmf", small) != default_hyperparameters("gmf", long_tail)
    # A catalog too large to score whole for every user trains on sampled negatives.
    assert default_hyperparameters("ngcf", huge)["loss"] in zoo.SAMPLED_LOSSES
    assert default_hyperparameters("ngcf", small)["loss"] in zoo.CATALOG_LOSSES


def test_train_model_takes_the_statistics_rule_when_given_statistics(planted):
    stats = DatasetStats.from_interactions(planted)
    assert zoo.hyperparameters("ease", stats=stats) == default_hyperparameters("ease", stats)
    assert zoo.hyperparameters("gmf", stats=stats, dim=12)["dim"] == 12


def test_early_stopping_restores_the_best_epoch(planted):
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    train, _ = training.protocol_split(planted, "full", 0)
    fit, validation = training.validation_split(train, rng)
    # A learning rate high enough to overfit the small fit part soon after its best epoch.
    params = tiny_params(planted, "gmf", loss="softmax", dim=32, lr=0.1, l2=0.0, epochs=60, patience=4, refit=False)
    model = zoo.build_model("gmf", params, fit.n_users, fit.n_items, None, None)
    curve = training.train_epochs(model, fit, validation, params, rng, "gmf", progress=False)
    scores = [entry["val_ndcg@10"] for entry in curve]
    best = int(np.argmax(scores))
    assert len(curve) - 1 - best == params["patience"]  # stopped after waiting out the patience
    assert training.validation_scores(model, fit, validation)["val_ndcg@10"] == pytest.approx(scores[best])
    assert {"val_ndcg@10", "val_recall@20", "loss", "epoch", "stage", "seconds"} <= set(curve[0])


def test_refit_trains_on_every_training_interaction_for_the_chosen_epochs(planted):
    params = tiny_params(planted, "gmf", refit=True, early_stopping=True)
    result = training.train_and_evaluate(planted, "gmf", params, "full", 0, progress=False)
    train, _ = result.split
    assert len(result.fit) == len(train)
    kept = max(result.curves, key=lambda entry: (entry["val_ndcg@10"], -entry["epoch"]))["epoch"]
    assert result.params["refit_epochs"] == {"gmf": kept}


def test_a_least_squares_solve_runs_every_sweep_and_records_its_curve(planted):
    params = tiny_params(planted, "gmf", refit=True)
    assert params["loss"] == "wls" and params["early_stopping"] is False
    result = training.train_and_evaluate(planted, "gmf", params, "full", 0, progress=False)
    assert [entry["epoch"] for entry in result.curves] == list(range(1, params["epochs"] + 1))
    assert result.params["refit_epochs"] == {"gmf": params["epochs"]}


def test_gradient_losses_still_stop_on_validation():
    stats = DatasetStats(n_users=600, n_items=9000, n_interactions=100_000)
    softmax = zoo.hyperparameters("gmf", stats=stats, loss="softmax")
    assert softmax["early_stopping"] is True
    # With an epoch budget that patience can end, not the solve's sweep count.
    assert softmax["patience"] < softmax["epochs"] and softmax["epochs"] > 15
    assert zoo.hyperparameters("gmf", stats=stats, loss="softmax", epochs=7)["epochs"] == 7
    assert zoo.hyperparameters("neumf", stats=stats)["early_stopping"] is True
    assert zoo.hyperparameters("neumf", stats=stats)["branches"]["gmf"]["early_stopping"] is False


@pytest.mark.parametrize("name", ["gmf", "ease"])
def test_tuning_with_a_tiny_budget_records_its_trials(planted, name):
    train, _ = training.protocol_split(planted, "full", 0)
    base = tiny_params(planted, name)
    result = tune(name, train, base, budget_seconds=60, seed=0, n_trials=3)
    assert [trial["number"] for trial in result.trials] == [0, 1, 2]
    for trial in result.trials:
        assert set(trial) >= {"number", "params", "value", "duration", "state", "kept_epoch"}
        assert trial["state"] == "COMPLETE" and 0 <= trial["value"] <= 1 and trial["duration"] >= 0
        assert (trial["kept_epoch"] is None) == (name == "ease")  # closed form: no epochs
    # Trial 0 is the defaults themselves, so tuning never does worse than them on validation.
    assert all(result.trials[0]["params"][key] == base[key] for key in result.trials[0]["params"])
    assert result.best_value == max(trial["value"] for trial in result.trials)
    assert set(result.best_params) >= set(base)


def test_a_trial_is_scored_by_the_epoch_its_model_keeps(planted, monkeypatch):
    # A curve that peaks early: a least-squares solve (every sweep runs) keeps, and serves, its last.
    curve = [{"stage": "gmf", "epoch": epoch, "val_ndcg@10": value} for epoch, value in [(1, 0.3), (2, 0.5), (3, 0.4)]]

    def fit_stages(model_name, fit, validation, params, *rest):
        return None, list(curve), {model_name: training.kept_epoch(curve, params)}

    monkeypatch.setattr(training, "fit_stages", fit_stages)
    train, _ = training.protocol_split(planted, "full", 0)
    keeps_last = tiny_params(planted, "gmf")
    assert keeps_last["early_stopping"] is False
    assert validation_score("gmf", train, keeps_last, seed=0) == (0.4, 3)
    assert validation_score("gmf", train, {**keeps_last, "early_stopping": True}, seed=0) == (0.5, 2)


def rated_frame():
    frame = planted_interactions(n_users=40, n_items=30, n_groups=2, per_user=10, seed=3)
    return frame.assign(rating=np.resize([5.0, 4.0, 1.0, 3.5, 2.0], len(frame)))


def test_threshold_mode_leaves_the_dislikes_out_and_weighted_weighs_by_stars():
    data = from_frame(rated_frame())
    kept = rated_view(data, "threshold")
    assert (kept.ratings > DISLIKE_RATING).all() and len(kept) == int((data.ratings > DISLIKE_RATING).sum())
    assert rated_view(data, "all") is data and rated_view(data, "weighted") is data
    weights = data.rating_weights("weighted")
    assert weights.mean() == pytest.approx(1.0) and weights[data.ratings == 5.0][0] > weights[data.ratings == 1.0][0]
    assert (data.rating_weights("all") == 1.0).all()


@pytest.mark.parametrize("mode", ["all", "weighted", "threshold"])
@pytest.mark.parametrize("name", ["gmf", "ease"])
def test_every_ratings_mode_trains(name, mode):
    data = from_frame(rated_frame())
    result = training.train_and_evaluate(data, name, tiny_params(data, name, ratings=mode), "full", 0, progress=False)
    assert 0 <= result.metrics["full"]["ndcg@10"] <= 1


def test_an_unknown_ratings_mode_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="Unknown ratings mode 'stars'"):
        zoo.hyperparameters("gmf", ratings="stars")


@pytest.mark.parametrize("dataset", ["ml-100k", "ml-latest-small"])
def test_the_real_datasets_get_defaults_from_their_own_statistics(dataset):
    try:
        data = from_movielens_files(dataset)
    except Exception as error:  # noqa: BLE001 - the files are optional for the test suite
        pytest.skip(f"{dataset} is not on this machine ({error})")
    stats = DatasetStats.from_interactions(data)
    assert stats.n_interactions == len(data) > 99_000
    assert data.ratings is not None
    params = {name: default_hyperparameters(name, stats) for name in MODELS}
    assert all(params[name]["loss"] in zoo.CATALOG_LOSSES for name in ("neumf", "ngcf"))
    assert params["gmf"]["loss"] in zoo.LEAST_SQUARES and params["neumf"]["branches"]["gmf"]["loss"] == "wls"


def test_a_least_squares_sweep_lowers_the_weighted_squared_error(planted):
    torch.manual_seed(0)
    users, items = torch.from_numpy(planted.users), torch.from_numpy(planted.items)
    user_factors, item_factors = torch.randn(planted.n_users, 8) * 0.01, torch.randn(planted.n_items, 8) * 0.01
    confidence = torch.full((len(users),), 4.0)
    errors = [least_squares.objective(users, items, user_factors, item_factors, confidence, 1.0)]
    for _ in range(4):
        least_squares.sweep(users, items, user_factors, item_factors, confidence, 1.0)
        errors.append(least_squares.objective(users, items, user_factors, item_factors, confidence, 1.0))
    assert all(later <= earlier + 1e-6 for earlier, later in zip(errors, errors[1:], strict=False))
    assert errors[-1] < 0.8 * errors[0]


def test_gmf_by_least_squares_ranks_the_planted_groups_above_popularity(planted):
    # The default penalty (l2=None drops TINY's): the solve runs every sweep, and TINY's l2 of 1 overfits.
    params = tiny_params(planted, "gmf", l2=None)
    result = training.train_and_evaluate(planted, "gmf", params, "full", 0, progress=False)
    assert result.params["loss"] == "wls"
    train, test = result.split
    popularity = full_ranking(fit_popularity(train), train, test)["ndcg@10"]
    assert result.metrics["full"]["ndcg@10"] > 1.3 * popularity
    # h = 1 and no bias: the score is p . q, as the least squares solved it.
    assert torch.all(result.model.output.weight == 1) and float(result.model.output.bias) == 0


def test_neumf_chooses_its_branch_mix_on_validation_and_may_keep_the_start(planted):
    params = tiny_params(
        planted,
        "neumf",
        epochs=3,
        patience=2,
        branches={
            "gmf": {"loss": "wls", "epochs": 5, "patience": 2, "l2": 1.0, "confidence": 3.0},
            "mlp": {"epochs": 3, "patience": 2},
        },
    )
    result = training.train_and_evaluate(planted, "neumf", params, "full", 0, progress=False)
    assert result.params["alpha"] in params["alpha_grid"]
    fused = [entry for entry in result.curves if entry["stage"] == "neumf"]
    assert fused[0]["epoch"] == 0  # the fused model as it starts, before any fine-tuning, is a candidate
    assert set(result.params["refit_epochs"]) == {"neumf/gmf", "neumf/mlp", "neumf"}


def test_a_neumf_with_a_narrower_mlp_branch_is_rebuilt_from_its_hyperparameters(planted):
    params = tiny_params(
        planted, "neumf", epochs=1, branches={"gmf": {"epochs": 1}, "mlp": {"dim": 4, "layers": 1, "epochs": 1}}
    )
    result = training.train_and_evaluate(planted, "neumf", params, "full", 0, progress=False)
    assert result.model.mlp.output.in_features == 4 and result.model.gmf.output.in_features == params["dim"]
    copy = zoo.build_model("neumf", result.params, planted.n_users, planted.n_items, None, None)
    copy.load_state_dict(result.model.state_dict())  # the registry loads an artifact this way


def test_ngcf_starts_from_the_factorisation_and_keeps_it_unless_fine_tuning_helps(planted):
    params = tiny_params(planted, "ngcf", epochs=3)
    assert params["pretrain"] and params["loss"] == "mse"
    result = training.train_and_evaluate(planted, "ngcf", params, "full", 0, progress=False)
    assert result.params["gate"] in params["gate_grid"]
    factorisation = [entry for entry in result.curves if entry["stage"] == "ngcf/gmf"]
    graph = [entry for entry in result.curves if entry["stage"] == "ngcf"]
    # Epoch 0 is the factorisation's best sweep as it starts, a candidate like any fine-tuned epoch.
    assert graph[0]["epoch"] == 0
    if result.params["gate"] == 0:
        assert graph[0]["val_ndcg@10"] == pytest.approx(max(entry["val_ndcg@10"] for entry in factorisation), abs=1e-6)
    assert set(result.params["refit_epochs"]) == {"ngcf/gmf", "ngcf"}
    popularity = full_ranking(fit_popularity(result.split[0]), *result.split)["ndcg@10"]
    assert result.metrics["full"]["ndcg@10"] > 1.3 * popularity
