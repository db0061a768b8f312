"""Explanations name the history movie that caused a recommendation: on two
planted tastes, a visitor who liked one movie of each taste has every
recommended movie explained by the liked movie of its own taste."""

import pytest

from predictors import explain, foldin
from predictors.tests.test_foldin import N_PER_GROUP, train

MODELS = ("ease", "gmf", "neumf", "ngcf")


def taste(item):
    return item < N_PER_GROUP


@pytest.fixture(scope="module", params=MODELS)
def frozen(request, one_torch_thread):
    return request.param, train(request.param).freeze_for_serving()


def test_each_pick_is_explained_by_the_liked_movie_of_its_own_taste(frozen):
    name, model = frozen
    history = [(3, foldin.LIKE), (N_PER_GROUP + 5, foldin.LIKE)]
    picks = foldin.top_k_unseen(model, foldin.fold_in(model, history), foldin.seen_items(history), 10)[0]
    causes = explain.top_causes(model, history, picks, limit=1)
    wrong = {item: named for item, named in causes.items() if [taste(h) for h in named] != [taste(item)]}
    assert not wrong, f"{name} named a movie of the other taste: {wrong}"


def test_a_disliked_movie_is_never_named(frozen):
    _, model = frozen
    history = [(3, foldin.DISLIKE), (4, foldin.LIKE)]
    causes = explain.top_causes(model, history, list(range(5, 15)))
    assert all(3 not in named for named in causes.values())
    assert explain.top_causes(model, [(3, foldin.DISLIKE)], [5, 6]) == {}
