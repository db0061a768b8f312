"""What a visitor's events make of their history: likes, "not interested",
cleared ratings and impressions (serving.history_from_events)."""

from types import SimpleNamespace

from predictors import foldin, serving

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
