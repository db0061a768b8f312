import math

import numpy as np
import pytest

from experiments.stats import (
    bootstrap_preference,
    bootstrap_rate_preference,
    excludes_zero,
    preference,
    sign_test_interval,
)


def test_preference_is_the_share_of_decided_impressions_won_by_a_minus_by_b():
    assert preference(30, 10) == 0.5
    assert preference(0, 0) is None


def test_sign_test_interval_is_wilsons_interval_mapped_to_the_preference():
    # 30 of 40 decided impressions won by A: p = .75, z = 1.96.
    z, n, p = 1.959963984540054, 40, 0.75
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = sign_test_interval(30, 10)
    assert (low, high) == pytest.approx((2 * (centre - half) - 1, 2 * (centre + half) - 1))
    assert (low, high) == pytest.approx((0.1961, 0.7163), abs=1e-4)  # p in [.5981, .8581] by hand
    assert excludes_zero((low, high)) and not excludes_zero(sign_test_interval(11, 9))


def test_bootstrap_over_two_visitors_gives_the_enumerated_percentiles():
    # Visitor 1 won A twice, visitor 2 won B once. Resamples of two visitors:
    # {1,1} (1/4) -> +1, {1,2} (1/2) -> (2-1)/3, {2,2} (1/4) -> -1.
    point, (low, high) = bootstrap_preference([2, 0], [0, 1], np.random.default_rng(0), resamples=4000)
    assert point == pytest.approx(1 / 3)
    assert (low, high) == (-1.0, 1.0)
    _, (low, high) = bootstrap_preference([2, 0], [0, 1], np.random.default_rng(0), resamples=4000, level=0.4)
    assert low == pytest.approx(1 / 3) and high == pytest.approx(1 / 3)


def test_identical_visitors_leave_no_doubt_and_no_decision_gives_no_interval():
    point, interval = bootstrap_preference([3] * 5, [1] * 5, np.random.default_rng(1))
    assert point == 0.5 and interval == (0.5, 0.5)
    assert bootstrap_preference([0, 0], [0, 0], np.random.default_rng(1)) == (None, None)


def test_ab_preference_compares_the_sides_click_through_rates():
    # A: 6 clicks in 10 impressions; B: 2 in 10 -> (0.6 - 0.2) / 0.8 = 0.5.
    point, interval = bootstrap_rate_preference([3, 3], [5, 5], [1, 1], [5, 5], np.random.default_rng(2))
    assert point == pytest.approx(0.5) and interval == pytest.approx((0.5, 0.5))
    assert bootstrap_rate_preference([], [], [1], [2], np.random.default_rng(2)) == (None, None)


def test_visitors_grouped_by_their_counts_give_the_same_bootstrap():
    # 300 visitors of one impression each: 150 won by A, 90 by B, 60 ties, grouped or one by one.
    wins_a = np.repeat([1, 0, 0], [150, 90, 60])
    wins_b = np.repeat([0, 1, 0], [150, 90, 60])
    point, (low, high) = bootstrap_preference(wins_a, wins_b, np.random.default_rng(3), resamples=20_000)
    grouped = bootstrap_preference(
        [1, 0, 0], [0, 1, 0], np.random.default_rng(4), resamples=20_000, alike=[150, 90, 60]
    )
    assert grouped[0] == point == 0.25
    assert grouped[1] == pytest.approx((low, high), abs=0.01)
    # A/B: side A 40 visitors with a click of 100, side B 25 of 100.
    shown = np.ones(100)
    point, span = bootstrap_rate_preference(
        np.repeat([1, 0], [40, 60]), shown, np.repeat([1, 0], [25, 75]), shown, np.random.default_rng(5), 20_000
    )
    grouped = bootstrap_rate_preference(
        [1, 0], [1, 1], [1, 0], [1, 1], np.random.default_rng(6), 20_000, alike_a=[40, 60], alike_b=[25, 75]
    )
    assert grouped[0] == pytest.approx(point) and point == pytest.approx(15 / 65)
    assert grouped[1] == pytest.approx(span, abs=0.015)
