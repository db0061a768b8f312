"""What a visitor's events make of their history: likes, "not interested",
cleared ratings and impressions (serving.history_from_events)."""

from types import SimpleNamespace

import pytest

from predictors import foldin, serving
from predictors.tests.test_recommendation_pages import movie_pks, store, train_version  # noqa: F401
from tests.services import Browser

LIKE, DISLIKE = foldin.LIKE, foldin.DISLIKE


def event(event_type, movie_id, rating=None):
    return SimpleNamespace(event_type=event_type, movie_id=movie_id, rating=rating)


def history(*newest_first):
    return dict(serving.history_from_events(list(newest_first)))


def test_an_onboarding_like_is_a_positive():
    assert history(event("like", 7)) == {7: LIKE}


def test_not_interested_is_a_negative_like_a_low_rating(settings):
    settings.FOLD_IN_DISLIKE_AT = 2.0
    assert history(event("not_interested", 3)) == history(event("rating", 3, 1.0)) == {3: DISLIKE}


def test_not_interested_after_a_high_rating_wins_and_a_click_after_it_does_not():
    assert history(event("not_interested", 3), event("rating", 3, 5.0)) == {3: DISLIKE}
    assert history(event("click", 3), event("not_interested", 3)) == {3: DISLIKE}


def test_a_like_after_a_low_rating_wins():
    assert history(event("like", 3), event("rating", 3, 0.5)) == {3: LIKE}


def test_a_cleared_rating_is_gone_and_the_movie_falls_back_on_what_else_happened():
    assert history(event("rating_cleared", 3), event("rating", 3, 1.0)) == {}
    # The visitor had opened the movie before rating it: that view is still theirs.
    assert history(event("rating_cleared", 3), event("rating", 3, 1.0), event("view", 3)) == {3: LIKE}


def test_a_rating_after_clearing_counts_again():
    assert history(event("rating", 3, 1.0), event("rating_cleared", 3), event("rating", 3, 5.0)) == {3: DISLIKE}


def test_clearing_one_movie_leaves_the_others():
    assert history(event("rating_cleared", 3), event("rating", 4, 1.0), event("rating", 3, 5.0)) == {4: DISLIKE}


def test_impressions_are_no_history():
    assert history(event("impression", 3), event("impression", 4), event("click", 5)) == {5: LIKE}


# --- Through the site: /api/events in, /api/recommendations out ------------------------------------------------


@pytest.fixture
def ease(catalog, store, fresh_predictors):
    return train_version("ease")


def recommended(browser):
    body = browser.client.get("/api/recommendations", {"model": "ease", "k": 10}).json()
    return body["fallback"], [row["movie_id"] for row in body["recommendations"]]


def test_likes_alone_give_the_models_list(ease):
    visitor = Browser()
    liked = movie_pks(3)
    assert visitor.post_events([{"type": "like", "movie_id": pk} for pk in liked]).status_code == 202
    fallback, picks = recommended(visitor)
    assert fallback is None and len(picks) == 10 and not set(picks) & set(liked)


def test_not_interested_hides_the_movie_at_once_and_pushes_its_neighbours_down(ease):
    liked, neighbour_source = movie_pks(3), Browser()
    neighbour_source.post_events([{"type": "like", "movie_id": pk} for pk in liked])
    _, before = recommended(neighbour_source)
    visitor = Browser()
    visitor.post_events([{"type": "like", "movie_id": pk} for pk in liked])
    assert visitor.post_events([{"type": "not_interested", "movie_id": before[0]}]).status_code == 202
    _, after = recommended(visitor)  # read-your-writes: the very next request
    assert before[0] not in after and len(after) == 10
    # The same movie rated low instead: the same list, a negative like any low rating.
    rater = Browser()
    rater.post_events([{"type": "like", "movie_id": pk} for pk in liked])
    rater.rate(before[0], 0.5)
    assert recommended(rater)[1] == after


def test_a_cleared_rating_no_longer_counts(ease):
    rated = movie_pks(2)
    visitor = Browser()
    visitor.rate(rated[0], 5.0)
    visitor.rate(rated[1], 0.5)
    assert visitor.post_events([{"type": "rating_cleared", "movie_id": rated[1]}]).status_code == 202
    only_the_first = Browser()
    only_the_first.rate(rated[0], 5.0)
    assert recommended(visitor) == recommended(only_the_first)
