"""Folding a new visitor into a frozen trained model (predictors/foldin.py),
on a small generated catalog with two planted tastes: group A's items are
0..19, group B's 20..39, and an item's nearest neighbours are its group."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from predictors import foldin, ngcf, serving
from predictors.data import from_frame
from predictors.synthetic import two_tastes
from predictors.training import fit_model
from predictors.zoo import hyperparameters

N_PER_GROUP = 20
LEARNED = ("gmf", "neumf", "ngcf")
# NeuMF is trained end to end here: its pre-training trains each branch with
# that branch's ml-100k defaults, with which on these 600 interactions the GMF
# branch never learns (its loss stays at ln 2), and a NeuMF whose GMF half is
# noise is not the model fold-in serves.
# Trained with the sampled losses the fold-in's likelihood mirrors (BCE with
# K negatives, NGCF's BPR), whatever the dataset-derived defaults pick.
SMALL = {
    "gmf": {"dim": 16, "epochs": 40, "lr": 1e-2, "patience": 100, "loss": "bce", "l2": 1e-2},
    "neumf": {
        "dim": 16,
        "layers": 1,
        "epochs": 40,
        "lr": 1e-2,
        "l2": 1e-3,
        "pretrain": False,
        "patience": 100,
        "loss": "bce",
    },
    "ngcf": {
        "dim": 16,
        "layers": 2,
        "epochs": 60,
        "lr": 5e-3,
        "patience": 100,
        "loss": "bpr",
        "negatives": 8,
        "l2": 1e-5,
        "batch_size": 4096,
    },
    "ease": {"l2": 10.0},
}
# The whole-catalog softmax the dataset-derived defaults train with on catalogs
# of MovieLens's sizes: fold-in's likelihood then takes the catalog's log-sum-exp.
SOFTMAX = {"loss": "softmax", "negatives": 0, "batch_size": 16}
SMALL.update({f"{name}+softmax": {**SMALL[name], **SOFTMAX} for name in LEARNED})
# GMF's default at those sizes: weighted least squares, an alternating sweep an epoch.
SMALL["gmf+wls"] = {**SMALL["gmf"], "loss": "wls", "confidence": 3.0, "l2": 1.0, "epochs": 10, "patience": 100}
# NGCF's default: weighted squares, layer 0 from the least-squares factorisation.
SMALL["ngcf+mse"] = {"dim": 16, "layers": 2, "epochs": 6}


def planted_interactions(seed=0):
    return from_frame(two_tastes(items_per_group=N_PER_GROUP, seed=seed))


def train(name, data_seed=0):
    torch.manual_seed(0)
    params = hyperparameters(name.partition("+")[0], **SMALL[name])
    data = planted_interactions(data_seed)
    model, fit, _ = fit_model(name.partition("+")[0], data, params, np.random.default_rng(1), progress=False)
    # As the registry's served copy has it: the prior then weighs as serving weighs it.
    model.fold_in_interactions_per_user = foldin.interactions_per_user(fit.users)
    return model.eval()


@pytest.fixture(scope="module", params=sorted(set(SMALL) - {"ngcf+mse"}))  # that one: with its gates set, below
def trained(request):
    return request.param, train(request.param)


def posterior_of(name, data_seed, history):
    """A freshly trained model's FoldInSpace, the history as arrays, and its Posterior."""
    space = foldin.space_for(train(name, data_seed))
    items, weights = foldin.weighted_history(history)
    return space, items, weights, foldin.Posterior(space, items, weights)


def ranking(model, history, k=10):
    return foldin.top_k_unseen(model, foldin.fold_in(model, history), foldin.seen_items(history), k)[0]


def full_ranking(model, history):
    return ranking(model, history, k=model.n_items)


def share_of_group_a(items):
    return sum(item < N_PER_GROUP for item in items) / len(items)


def mean_position(ranked, group):
    """Where the group's unseen items sit in a full ranking (0 = top)."""
    return np.mean([position for position, item in enumerate(ranked) if (item < N_PER_GROUP) == (group == "A")])


def test_seen_movies_are_never_recommended(trained):
    _, model = trained
    for history in ([0], [0, 5, 21], list(range(0, 40, 3)), [(0, 1.0), (21, -1.0)]):
        picks = full_ranking(model, history)
        assert not set(picks) & set(foldin.seen_items(history))
        assert len(picks) == len(set(picks)) == model.n_items - len(history)


def test_more_clicks_on_one_taste_move_it_up(trained):
    name, model = trained
    mixed = [0, 1, 20, 21]
    more_a = mixed + [2, 3, 4, 5]
    assert mean_position(full_ranking(model, more_a), "A") < mean_position(full_ranking(model, mixed), "A"), name
    assert share_of_group_a(ranking(model, [0, 1, 2, 3, 4])) >= 0.9, name
    assert share_of_group_a(ranking(model, [20, 21, 22, 23, 24])) <= 0.1, name


def test_a_dislike_pushes_the_disliked_movies_neighbours_down(trained):
    name, model = trained
    likes = [(0, 1.0), (1, 1.0), (20, 1.0), (21, 1.0)]
    with_dislike = likes + [(22, foldin.DISLIKE)]
    # Group B, the disliked movie's neighbours, sinks; group A rises in its place
    # (both rankings of the same movies: the disliked one is never shown again).
    without = [item for item in full_ranking(model, likes) if item != 22]
    assert mean_position(full_ranking(model, with_dislike), "B") > mean_position(without, "B"), name
    if name not in LEARNED:
        return  # EASE's zero diagonal: a movie's own entry never scores it (and it is never shown again)
    # The disliked movie's own score falls, compared with not having seen it at all.
    scores_with = model.score_items(foldin.fold_in(model, with_dislike))[0]
    scores_without = model.score_items(foldin.fold_in(model, likes))[0]
    assert scores_with[22] < scores_without[22], name


def test_a_dislike_alone_puts_the_other_taste_above_the_disliked_one(trained):
    name, model = trained
    ranked = full_ranking(model, [(20, foldin.DISLIKE)])
    assert 20 not in ranked
    assert mean_position(ranked, "B") > mean_position(ranked, "A"), (name, ranked)


def test_a_disliked_movie_is_never_a_positive(trained):
    """Disliking a movie moves the visitor the other way from liking it."""
    name, model = trained
    base = [(0, 1.0), (20, 1.0)]
    liked = model.score_items(foldin.fold_in(model, base + [(21, foldin.LIKE)]))[0]
    neutral = model.score_items(foldin.fold_in(model, base))[0]
    disliked = model.score_items(foldin.fold_in(model, base + [(21, foldin.DISLIKE)]))[0]
    group_b = torch.arange(N_PER_GROUP + 2, 2 * N_PER_GROUP)  # unseen in all three
    assert (liked[group_b] - neutral[group_b]).mean() > 0 > (disliked[group_b] - neutral[group_b]).mean(), name


def test_the_same_history_gives_the_same_list(trained):
    _, model = trained
    history = [3, 7, (25, foldin.DISLIKE), 30]
    assert ranking(model, history) == ranking(model, history)
    assert torch.equal(foldin.fold_in(model, history), foldin.fold_in(model, history))


def test_frozen_parameters_stay_frozen(trained):
    _, model = trained
    model.zero_grad(set_to_none=True)  # training's last gradients are not fold-in's
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    ranking(model, [1, 2, 30, (31, foldin.DISLIKE)])
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert all(parameter.grad is None for parameter in model.parameters())


@pytest.mark.parametrize("name", [*LEARNED, *(f"{name}+softmax" for name in LEARNED)])
def test_the_newton_solve_finds_the_optimum_a_general_solver_finds(name):
    space, items, weights, posterior = posterior_of(name, 1, [0, 4, 9, 22, (23, foldin.DISLIKE)])
    served, _, _ = foldin.posterior_mode(space, items, weights)
    precise, _, _ = foldin.posterior_mode(space, items, weights, foldin.FoldInSettings(max_steps=100, tolerance=1e-7))
    # BFGS on the same objective, from the same start, given only its values and gradients.
    reference = minimize(
        lambda x: posterior(x)[:2],
        space.prior_mean,
        jac=True,
        method="BFGS",
        options={"gtol": 1e-10, "maxiter": 10_000},
    )
    value, gradient, _ = posterior(precise)
    assert value <= reference.fun + 1e-9
    # With ReLU kinks (NeuMF's tower, NGCF's layers) the optimum may sit on one, where
    # neither method sees a zero gradient; when BFGS converges, both must agree.
    if reference.success:
        assert np.abs(gradient).max() < 1e-6 and np.allclose(precise, reference.x, rtol=1e-3, atol=1e-4)
    # What serving stops at (a closed-form step and at most a few more, NeuMF's
    # solved in its tangent at the average user) has most of the way from the
    # prior mean to the optimum behind it.
    start = posterior(space.prior_mean)[0]
    assert posterior(served)[0] - reference.fun <= 0.1 * (start - reference.fun)


@pytest.mark.parametrize("name", [*LEARNED, *(f"{name}+softmax" for name in LEARNED)])
def test_the_posteriors_gradient_is_its_slope(name):
    space, _, _, posterior = posterior_of(name, 2, [1, 5, 30, (31, foldin.DISLIKE)])
    theta = space.prior_mean + 0.1 * np.random.default_rng(0).standard_normal(len(space.prior_mean))
    _, gradient, _ = posterior(theta)
    step = 1e-6
    numeric = [
        (posterior(theta + step * e, False)[0] - posterior(theta - step * e, False)[0]) / (2 * step)
        for e in np.eye(len(theta))
    ]
    assert np.allclose(numeric, gradient, rtol=1e-4, atol=1e-6)


def test_the_served_scores_are_the_models_own(trained):
    """Serving ranks with numpy copies of the item sides (and EASE with the
    history's rows of B only): the same scores score_items gives."""
    _, model = trained
    model.freeze_for_serving()
    for history in ([3, 7, 30], [(25, foldin.DISLIKE)], list(range(0, 40, 2))):
        representation = foldin.fold_in(model, history)
        with torch.no_grad():
            expected = model.score_items(representation)[0].numpy()
        assert np.allclose(foldin.catalog_scores(model, representation), expected, atol=1e-5)


@pytest.mark.parametrize("bias", [0.5, "per item"])
def test_a_large_catalog_scanned_in_half_precision_gives_the_exact_top_list(monkeypatch, bias):
    """ItemScan scans a catalog too large for the caches in float16 and
    rescores its shortlist in float32: the same top 10 as the float32 scan,
    seen items excluded, the scores the exact ones."""
    rng = np.random.default_rng(0)
    items = rng.standard_normal((5000, 32)).astype(np.float32)
    bias = rng.standard_normal(5000).astype(np.float32) if bias == "per item" else bias
    monkeypatch.setattr(foldin, "HALF_PRECISION_BYTES", 0)
    scan = foldin.ItemScan(items, bias)
    assert scan.half is not None
    for _ in range(20):
        user = rng.standard_normal(32).astype(np.float32)
        seen = rng.choice(5000, 30, replace=False)
        exact = items @ user + bias
        exact[seen] = -np.inf
        candidates, scores = scan.best_unseen(user, seen, 200)
        assert len(candidates) == 200 and not np.isin(candidates, seen).any()
        assert np.allclose(scores, exact[candidates], rtol=1e-5, atol=1e-5)
        assert set(candidates[np.argsort(-scores)[:10]]) == set(np.argsort(-exact)[:10])


def test_a_softmax_model_takes_the_catalog_as_its_log_sum_exp():
    space = foldin.space_for(train("gmf+softmax"))
    assert space.like_kind == foldin.SOFTMAX and space.negatives_per_positive == 1.0
    # A softmax's log-sum-exp: its Hessian is the softmax-weighted covariance of the items.
    scores = space.items @ space.negatives.anchor + space.bias
    p = np.exp(scores - scores.max())
    p /= p.sum()
    mean = space.items.T @ p
    expected = (space.items * p[:, None]).T @ space.items - np.outer(mean, mean)
    assert np.allclose(space.negatives.hessian, expected, atol=1e-6)


def test_a_least_squares_model_is_solved_exactly_in_one_step():
    """A wls model's likelihood is its own squared errors, a quadratic: the
    closed-form step is the mode (zero gradient), as ALS's own fold-in is."""
    space, items, weights, posterior = posterior_of("gmf+wls", 0, [0, 4, 9, 22])
    assert space.like_kind == foldin.SQUARES and space.confidence == 3.0
    theta, _, steps = foldin.posterior_mode(space, items, weights)
    assert steps == 1 and np.abs(posterior(theta)[1]).max() < 1e-6


@pytest.mark.parametrize(
    "name, history",
    [
        ("gmf+wls", [0, 4, 9, 22]),
        ("gmf+wls", [(3, 2.0), (24, foldin.DISLIKE), 7, (30, 0.5)]),
        ("gmf+wls", list(range(0, 40, 2))),  # more curved rows than dimensions: the (D, D) solve
        ("gmf+softmax", [1, 5, (26, 3.0)]),
        ("neumf+softmax", [2, 8, 21]),
        ("ngcf+mse", [0, 6, (25, foldin.DISLIKE)]),
    ],
)
def test_the_quadratic_modes_closed_form_is_the_newton_steps_mode(name, history):
    """Served fold-in of a quadratic posterior skips the (D, D) factorisation
    (foldin.QuadraticMode): the visitor's vector is the one posterior_mode finds."""
    space = ngcf_with_gates(0.0, name)[1] if name == "ngcf+mse" else foldin.space_for(train(name))
    items, weights = foldin.weighted_history(history)
    weights = foldin.shared_dislikes(weights) if space.like_kind == foldin.SQUARES else weights
    assert space.quadratic_mode is not None, name
    terms = foldin.HistoryTerms(space, weights)
    for prior_weight in (1.0, 0.3, 0.05):
        posterior = foldin.Posterior(space, items, weights, prior_weight)
        newton, _, _ = foldin.posterior_mode(space, items, weights, prior_weight=prior_weight)
        closed = space.quadratic_mode.mode(items, terms, prior_weight)
        # Equal in the posterior's own metric: what is left to gain is far below a
        # standard deviation's (the planted priors are too ill-conditioned for equal digits).
        value, gradient, hessian = posterior(closed)
        assert gradient @ np.linalg.solve(hessian, gradient) < 1e-6, (name, prior_weight)
        assert value == pytest.approx(posterior(newton)[0], rel=1e-8, abs=1e-8), (name, prior_weight)


@pytest.mark.parametrize("history", [[1, 5, 26], [1, 5, (26, foldin.DISLIKE)]])
def test_served_fold_in_is_the_posterior_mode_with_or_without_the_closed_form(history):
    """fold_in takes QuadraticMode where the posterior is a quadratic (softmax
    likes) and posterior_mode's steps where it is not (a logistic dislike): either
    way the visitor's vector is the posterior's mode."""
    model = train("gmf+softmax")
    space = foldin.space_for(model)
    items, weights = foldin.weighted_history(history)
    prior_weight = foldin.prior_weight(model, space, weights)
    theta, context, _ = foldin.posterior_mode(space, items, weights, prior_weight=prior_weight)
    expected = space.representation(theta, context)
    assert torch.allclose(foldin.fold_in(model, history), expected, rtol=1e-5, atol=1e-6)


def test_ngcf_fold_in_is_the_visitors_node_propagated_by_the_trained_layers():
    model = train("ngcf")
    history = [2, 6, 24]
    space = foldin.space_for(model)
    theta, _, _ = foldin.posterior_mode(space, *foldin.weighted_history(history))
    propagated = model.fold_in_representation(torch.from_numpy(theta).float().unsqueeze(0), torch.tensor(history))
    assert torch.allclose(foldin.fold_in(model, history), propagated, atol=1e-5)


def test_ease_takes_a_dislike_as_a_negative_entry_of_the_history_row():
    model = train("ease")
    row = foldin.fold_in(model, [(3, 1.0), (24, foldin.DISLIKE)])
    # Shared with the one like (foldin.shared_dislikes): -1 / (1 + 1).
    assert row[0, 3] == 1.0 and row[0, 24] == -0.5 and row.abs().sum() == 1.5


def test_a_dislike_alone_speaks_fully_and_among_likes_is_shared_with_them():
    items, weights = foldin.weighted_history([(7, foldin.DISLIKE)])
    assert foldin.shared_dislikes(weights).tolist() == [-1.0]
    items, weights = foldin.weighted_history([1, 2, (7, foldin.DISLIKE), 3, (8, foldin.DISLIKE)])
    assert foldin.shared_dislikes(weights).tolist() == [1.0, 1.0, -0.25, 1.0, -0.25]


def test_the_prior_weighs_as_much_against_a_visitors_ratings_as_against_a_trained_users(trained):
    """Weight h / m: a visitor with fewer ratings than the trained users' mean m
    is held less close to the average user than the trained prior would hold
    them, and one with m or more gets the prior as trained."""
    name, model = trained
    space = foldin.space_for(model)
    if space is None or space.like_kind != foldin.SQUARES:
        return  # EASE: no prior, nothing solved for; softmax and sampled losses: the prior as trained
    if space.maps_user:  # NGCF through its graph layers: the prior as trained
        assert foldin.prior_weight(model, space, np.ones(3)) == 1.0, name
        return
    per_user = model.fold_in_interactions_per_user
    assert per_user == pytest.approx(len(planted_interactions().users) / planted_interactions().n_users)
    items, weights = foldin.weighted_history([1, 4, 9])
    assert foldin.prior_weight(model, space, weights) == pytest.approx(3 / per_user)
    assert foldin.prior_weight(model, space, np.ones(int(per_user) + 5)) == 1.0
    # Dislikes alone say nothing of taste: the prior as trained.
    assert foldin.prior_weight(model, space, np.array([foldin.DISLIKE, foldin.DISLIKE])) == 1.0
    as_trained, _, _ = foldin.posterior_mode(space, items, weights)
    served, _, _ = foldin.posterior_mode(space, items, weights, prior_weight=foldin.prior_weight(model, space, weights))

    def distance(theta):  # from the average user, in the prior's own metric
        offset = theta - space.prior_mean
        return float(offset @ space.prior_precision @ offset)

    assert distance(served) > distance(as_trained), name


def test_sampled_negatives_are_never_in_the_history():
    generator = torch.Generator().manual_seed(0)
    seen = torch.tensor([0, 1, 2, 3, 5, 8])
    draws = foldin.sample_unseen(10, seen, (200, 7), generator)
    assert not torch.isin(draws, seen).any()
    with pytest.raises(ValueError, match="seen every item"):
        foldin.sample_unseen(3, torch.tensor([0, 1, 2]), (1, 1), generator)


def event(event_type, movie_id, rating=None):
    return SimpleNamespace(event_type=event_type, movie_id=movie_id, rating=rating)


def test_low_ratings_and_not_interested_are_dislikes_and_the_latest_rating_decides(settings):
    settings.FOLD_IN_DISLIKE_AT = 2.0
    newest_first = [
        event("click", 1),  # clicked after rating it 1 star: still disliked
        event("rating", 1, 1.0),
        event("rating", 2, 2.0),  # at the threshold: a dislike
        event("rating", 3, 2.5),
        event("not_interested", 4),
        event("rating", 5, 4.0),  # rated up after a low rating: liked
        event("rating", 5, 0.5),
        event("view", 6),
    ]
    history = dict(serving.history_from_events(newest_first))
    assert history == {1: -1.0, 2: -1.0, 3: 1.0, 4: -1.0, 5: 1.0, 6: 1.0}
    assert [pk for pk, _ in serving.history_from_events(newest_first)] == [6, 5, 4, 3, 2, 1]  # oldest first


def ngcf_with_gates(gate, loss="ngcf"):
    """A trained planted NGCF with every layer gate set to ``gate`` (its cached
    layers rebuilt with them), and its fold-in spaces: the one it serves and
    the general one that carries θ through every layer."""
    model = train(loss)
    with torch.no_grad():
        model.layer_gates.fill_(gate)
    model.train().eval()  # drops the layers cached with the old gates
    model.requires_grad_(False)
    with torch.no_grad():
        return model, foldin.space_for(model), ngcf.NGCFSpace(model)


def folded_in(model, space, history):
    """fold_in and top 10 through ``space``: -> (representation, top 10, their scores)."""
    items, weights = foldin.weighted_history(history)
    prior_weight = foldin.prior_weight(model, space, weights)
    theta, context, _ = foldin.posterior_mode(space, items, weights, prior_weight=prior_weight)
    representation = space.representation(theta, context)
    candidates, scores = space.shortlist(representation[0].numpy(), np.asarray(foldin.seen_items(history)), 10)
    best = np.argsort(-scores, kind="stable")[:10]
    return representation, candidates[best].tolist(), scores[best]


HISTORIES = ([2, 6, 24], [0, 1, 2, 3, 4], [(0, 1.0), (3, 1.0), (21, foldin.DISLIKE)], [(5, foldin.DISLIKE)])


@pytest.mark.parametrize("loss", ["ngcf", "ngcf+softmax"])
def test_ngcf_with_every_gate_zero_is_folded_in_as_its_factorisation_with_the_same_answer(loss):
    """Gates 0: a score is θ e_i^0 + b, so the linear space over the layer-0
    items finds the general path's mode, list and scores, and hands back the
    same every-layer representation NGCF.score_items takes."""
    model, served, general = ngcf_with_gates(0.0, loss)
    assert isinstance(served, foldin.LinearSpace)
    for history in HISTORIES:
        representation, top, scores = folded_in(model, served, history)
        general_representation, general_top, general_scores = folded_in(model, general, history)
        assert torch.allclose(representation, general_representation, atol=1e-4), history
        assert top == general_top and np.allclose(scores, general_scores, atol=1e-4), history
        catalog = model.score_items(representation)[0].numpy()
        assert np.allclose(served.catalog_scores(representation[0].numpy()), catalog, atol=1e-5)
        items, weights = foldin.weighted_history(history)
        if (weights > 0).any():  # the visitor's node propagated by the trained layers, as NGCF has it
            ego, liked = representation[:, : model.user_dim()], torch.tensor(items[weights > 0])
            propagated = model.fold_in_representation(ego, liked)
            assert torch.allclose(representation, propagated, atol=1e-5), history


def test_ngcf_with_a_nonzero_gate_is_folded_in_through_its_layers():
    _, served, _ = ngcf_with_gates(0.05)
    assert isinstance(served, ngcf.NGCFSpace)


def test_a_least_squares_ngcf_with_a_nonzero_gate_folds_the_visitor_in_as_a_new_node():
    """Gate above 0: θ by the factorisation's closed form (h / m prior), then
    the visitor's node propagated by the trained layers and scored on every
    gated layer; the planted taste of the history comes first."""
    model, served, _ = ngcf_with_gates(0.1, "ngcf+mse")
    assert type(served) is ngcf.InductiveSpace
    tastes = (([0, 1, 2, 3, 4], "A"), ([20, 21, 22], "B"), ([(0, 1.0), (3, 1.0), (21, foldin.DISLIKE)], "A"))
    for history, taste in tastes:
        representation, top, scores = folded_in(model, served, history)
        assert share_of_group_a(top) == (1.0 if taste == "A" else 0.0), history
        catalog = model.score_items(representation)[0].numpy()
        assert np.allclose(served.catalog_scores(representation[0].numpy()), catalog, atol=1e-5)
        assert np.allclose(scores, catalog[top], atol=1e-5)
        items, weights = foldin.weighted_history(history)
        ego, liked = representation[:, : model.user_dim()], torch.tensor(items[weights > 0])
        assert torch.allclose(representation, model.fold_in_representation(ego, liked), atol=1e-5), history
        # Layer 0 is the factorisation's closed form, whatever the layers above it.
        factorisation = ngcf.FactorisationSpace(model)
        theta, _, steps = foldin.posterior_mode(
            factorisation, items, weights, prior_weight=foldin.prior_weight(model, factorisation, weights)
        )
        assert steps == 1 and np.allclose(ego[0].numpy(), theta, atol=1e-5), history
    # A dislike alone moves the disliked movie's taste below the other one.
    assert share_of_group_a(folded_in(model, served, [(5, foldin.DISLIKE)])[1]) == 0.0


def test_a_least_squares_ngcf_with_every_gate_zero_is_still_folded_in_as_its_factorisation():
    """Gate 0 keeps the factorisation's space, and the new node's scores are
    its scores then (the layers enter with weight 0): the same list and scores."""
    model, served, _ = ngcf_with_gates(0.0, "ngcf+mse")
    assert type(served) is ngcf.FactorisationSpace
    inductive = ngcf.InductiveSpace(model)
    for history in HISTORIES:
        representation, top, scores = folded_in(model, served, history)
        inductive_representation, inductive_top, inductive_scores = folded_in(model, inductive, history)
        assert torch.allclose(representation, inductive_representation, atol=1e-6), history
        assert top == inductive_top and np.allclose(scores, inductive_scores, atol=1e-5), history
