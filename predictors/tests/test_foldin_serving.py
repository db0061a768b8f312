"""Dislikes through the site: a low rating reaches fold-in as a negative, and
neither a disliked nor any other rated movie comes back in the list."""

import pytest

from predictors.tests.test_recommendation_pages import MODELS, movie_pks, store, train_version, trained  # noqa: F401
from tests.services import Browser

pytestmark = pytest.mark.usefixtures("fresh_predictors")


def recommended(browser, model_name):
    body = browser.client.get("/api/recommendations", {"model": model_name, "k": 10}).json()
    return body["fallback"], [row["movie_id"] for row in body["recommendations"]]


@pytest.mark.parametrize("model_name", MODELS)
def test_a_visitor_who_only_disliked_a_movie_gets_the_models_list_without_it(trained, model_name):
    visitor = Browser()
    disliked = movie_pks(1)[0]
    assert visitor.rate(disliked, 0.5).status_code == 202
    fallback, picks = recommended(visitor, model_name)
    assert fallback is None  # a dislike is history: the model answers, not the popular list
    assert len(picks) == 10 and disliked not in picks


@pytest.mark.parametrize("model_name", MODELS)
def test_rated_movies_liked_or_not_never_come_back(trained, model_name, settings):
    settings.FOLD_IN_DISLIKE_AT = 2.0
    visitor = Browser()
    rated = movie_pks(4)
    for pk, stars in zip(rated, (1.0, 2.0, 4.0, 5.0), strict=False):
        assert visitor.rate(pk, stars).status_code == 202
    fallback, picks = recommended(visitor, model_name)
    assert fallback is None and len(picks) == 10 and not set(picks) & set(rated)
