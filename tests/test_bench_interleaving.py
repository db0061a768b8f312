"""The interleaving benchmark's own machinery: the enumerated drafts, the click models and the horizon search."""

import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_interleaving as bench  # noqa: E402

from experiments.interleaving import team_draft  # noqa: E402


def test_the_enumerated_drafts_are_every_list_team_draft_shows():
    rank_a = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
    rank_b = np.array([[1, 0, 10, 11, 2, 12, 13, 14, 15, 16]])
    shown, by_a = bench.all_drafts(rank_a, rank_b)
    enumerated = {(tuple(s), tuple(a)) for s, a in zip(shown[0], by_a[0], strict=True)}
    for seed in range(200):
        movies, credits = team_draft(rank_a[0].tolist(), rank_b[0].tolist(), bench.K, random.Random(seed))
        assert (tuple(movies), tuple(c == "a" for c in credits)) in enumerated
    assert by_a.sum(axis=2).tolist() == [[5] * 2**bench.DRAFT_COINS]  # each side drafts half of every list


def test_cascade_keeps_only_the_first_noticed_relevant_movie():
    noticed = np.array([[False, True, True, False], [False, False, False, False]])
    assert bench.first_only(noticed).tolist() == [[False, True, False, False], [False] * 4]
    assert bench.EXAMINATION[0] == 1 and np.all(np.diff(bench.EXAMINATION) < 0)  # position-biased


def test_horizon_finds_the_smallest_multiple_where_enough_starts():
    asked = []

    def enough(n):
        asked.append(n)
        return n >= 1234

    found = bench.horizon(enough, cap=100_000, step=1)
    assert 1234 <= found <= 1234 * (1 + bench.PRECISION) and len(asked) < 20
    assert bench.horizon(lambda n: n >= 500, cap=300, step=1) is None
    assert bench.horizon(lambda n: n >= 37, cap=1000, step=5) % 5 == 0


def test_both_methods_see_the_same_visitors_and_the_same_coins():
    # A ranks the visitor's relevant movie first, B does not have it: A/B's side A always clicks,
    # side B never; interleaving is won by A when A drafts first (rank 1) or its movie at rank 2 is
    # noticed: 1/2 + 1/2 * .63.
    relevant = np.zeros((1, 20), dtype=bool)
    relevant[0, 0] = True
    rank_a, rank_b = np.array([np.arange(10)]), np.array([np.arange(10, 20)])
    pair = bench.Pair(rank_a, rank_b, relevant, bench.all_drafts(rank_a, rank_b), 1, "cascade")
    stream = bench.Stream(pair, seed=0)
    wins_a, wins_b = stream.interleaving(2000)
    clicked, on_b = stream.ab(2000)
    assert wins_b.sum() == 0 and 0.78 < wins_a.mean() < 0.85
    assert clicked[~on_b].all() and not clicked[on_b].any() and 0.45 < on_b.mean() < 0.55
    assert bench.picks([stream], "interleaving", "bootstrap", 200) == (1, 0)
    assert bench.picks([stream], "ab", "textbook", 200) == (1, 0)


def test_the_exact_chances_are_what_the_simulation_draws():
    rng = np.random.default_rng(0)
    relevant = rng.random((30, 40)) < 0.2
    rank_a = np.array([rng.permutation(40)[:10] for _ in range(30)])
    rank_b = np.array([rng.permutation(40)[:10] for _ in range(30)])
    for click_model in bench.CLICK_MODELS:
        pair = bench.Pair(rank_a, rank_b, relevant, bench.all_drafts(rank_a, rank_b), 1, click_model, None, 0.5)
        _, rates = bench.expected_impressions(pair)
        stream = bench.Stream(pair, seed=1)
        wins_a, wins_b = stream.interleaving(200_000)
        clicked, on_b = stream.ab(200_000)
        simulated = [wins_a.mean(), wins_b.mean(), clicked[~on_b].mean(), clicked[on_b].mean()]
        assert simulated == pytest.approx([rates[k] for k in ("wins_a", "wins_b", "ctr_a", "ctr_b")], abs=0.005)


def test_the_spread_of_attention_is_the_spread_of_log_ratings_per_user():
    assert bench.activity_sigma([1, np.e, np.e**2]) == pytest.approx(np.sqrt(2 / 3))
    assert bench.activity_sigma([40, 40, 40]) == 0
    assert bench.visitor_attention(np.array([-2.0, 0.0, 3.0]), 0.1, 0.0).tolist() == [0.1] * 3


def test_each_visitors_attention_is_log_normal_of_the_asked_mean_and_spread():
    draws = bench.visitor_attention(np.random.default_rng(0).standard_normal(400_000), 0.1, 1.0)
    assert draws.max() == 1 and draws.min() > 0  # clipped: a chance
    unclipped = draws[draws < 1]
    assert np.log(unclipped).std() == pytest.approx(1.0, abs=0.02)
    assert [draws.mean(), (draws**2).mean()] == pytest.approx(bench.attention_moments(0.1, 1.0), rel=0.02)
    assert bench.attention_moments(0.1, 1.0)[0] < 0.1  # the clip takes a little off the mean
    assert bench.attention_moments(0.1, 0.0) == pytest.approx((0.1, 0.01))


def spread_pair(sigma, per_visitor=5):
    rng = np.random.default_rng(0)
    relevant = rng.random((30, 40)) < 0.2
    rank_a = np.array([rng.permutation(40)[:10] for _ in range(30)])
    rank_b = np.array([rng.permutation(40)[:10] for _ in range(30)])
    drafts = bench.all_drafts(rank_a, rank_b)
    return bench.Pair(rank_a, rank_b, relevant, drafts, per_visitor, "cascade", None, 0.2, sigma)


def test_a_seed_draws_the_same_visitors_attention_every_time():
    pair = spread_pair(1.0)
    runs = [bench.Stream(pair, seed).ab(10_000)[0] for seed in (3, 3, 4)]
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])
    # No spread draws nothing more: the stream is the one a pair without the setting gives.
    alike = spread_pair(0.0)
    unset = bench.Pair(*[getattr(alike, name) for name in ("rank_a", "rank_b", "relevant", "drafts")], 5, "cascade")
    unset.attention = 0.2
    assert np.array_equal(bench.Stream(alike, 3).ab(10_000)[0], bench.Stream(unset, 3).ab(10_000)[0])


def test_the_spread_makes_visitors_differ_as_the_exact_variances_say():
    # Same mean click-through with and without the spread, but a visitor's CTR over their five
    # impressions varies more between visitors with it: what A/B pays and interleaving mostly does not.
    found = {}
    for sigma in (0.0, 1.0):
        pair = spread_pair(sigma)
        _, rates = bench.expected_impressions(pair)
        clicked, on_b = bench.Stream(pair, seed=1).ab(400_000)
        wins_a, wins_b = bench.Stream(pair, seed=1).interleaving(400_000)
        simulated = [
            clicked[~on_b].mean() / 5,
            (clicked[~on_b] / 5).var(),
            ((wins_a - wins_b) / 5).var(),
        ]
        exact = [rates[k] for k in ("ctr_a", "visitor_var_ctr_a", "visitor_var_interleaving")]
        assert simulated == pytest.approx(exact, rel=0.05)
        found[sigma] = exact
    assert found[1.0][0] == pytest.approx(found[0.0][0], rel=0.05)
    assert found[1.0][1] > 1.5 * found[0.0][1]


def test_attention_by_own_activity_is_proportional_to_ratings_with_the_asked_mean():
    attention = bench.attention_from_activity([10, 20, 40, 400], 0.5)
    assert attention.mean() == pytest.approx(0.5) and attention[0] == pytest.approx(1 / 7)
    assert attention[3] == 1 and attention[1] == pytest.approx(2 * attention[0])  # heavy raters clipped at 1


def test_attention_by_user_gives_the_exact_variances_too():
    pair = spread_pair(0.0)
    pair.attention_by_user = bench.attention_from_activity(np.arange(1, 31), 0.2)
    _, rates = bench.expected_impressions(pair)
    clicked, on_b = bench.Stream(pair, seed=1).ab(400_000)
    wins_a, wins_b = bench.Stream(pair, seed=1).interleaving(400_000)
    simulated = [clicked[~on_b].mean() / 5, (clicked[~on_b] / 5).var(), ((wins_a - wins_b) / 5).var()]
    exact = [rates[k] for k in ("ctr_a", "visitor_var_ctr_a", "visitor_var_interleaving")]
    assert simulated == pytest.approx(exact, rel=0.05)


def test_the_mean_attention_is_reported_per_impression_as_well_as_per_user():
    # Every movie relevant: an impression is clicked (rank 1 is always noticed) exactly when the visitor looks.
    pair = spread_pair(0.0)
    pair.relevant[:] = True
    activity = np.arange(1, 31)
    pair.attention_by_user = bench.attention_from_activity(activity, 0.2)
    pair.visit_weights = activity / activity.sum()  # --visits active: heavy raters come more, and look more
    with np.errstate(divide="ignore"):  # both sides click alike: no impressions tell them apart
        _, rates = bench.expected_impressions(pair)
    assert rates["attention_per_user"] == pytest.approx(0.2)
    assert rates["attention_per_impression"] == pytest.approx(pair.visit_weights @ pair.attention_by_user)
    assert rates["attention_per_impression"] > 0.25
    clicked, _ = bench.Stream(pair, seed=1).ab(200_000)
    assert clicked.mean() / 5 == pytest.approx(rates["attention_per_impression"], abs=0.005)
    row = {"dataset": "ml-100k", "rates": rates}
    assert bench.attention_line([row, row]) == (
        f"Mean chance of looking at the row: ml-100k {rates['attention_per_impression']:.3f} per impression, "
        "0.200 per user"
    )
