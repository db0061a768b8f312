import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.interleaving import ab_side, in_traffic, request_rng, single_side, team_draft

rankings = st.lists(st.integers(1, 40), min_size=10, max_size=20, unique=True)


@settings(deadline=None)  # a machine shared with other work: no per-example time limit
@given(rankings, rankings, st.integers(0, 2**32), st.integers(1, 10))
def test_each_side_contributes_equally_within_one_at_every_prefix(ranking_a, ranking_b, seed, k):
    shown, credits = team_draft(ranking_a, ranking_b, k, random.Random(seed))
    assert len(shown) == k and len(set(shown)) == k
    for end in range(1, k + 1):
        assert abs(credits[:end].count("a") - credits[:end].count("b")) <= 1


@settings(deadline=None)
@given(rankings, rankings, st.integers(0, 2**32))
def test_each_side_drafts_its_best_movie_not_shown_yet(ranking_a, ranking_b, seed):
    shown, credits = team_draft(ranking_a, ranking_b, 10, random.Random(seed))
    for position, (movie_id, side) in enumerate(zip(shown, credits, strict=True)):
        own = ranking_a if side == "a" else ranking_b
        best = next(m for m in own if m not in shown[:position])
        assert movie_id == best


def test_a_hand_drafted_merge_with_its_credits():
    class Coins:  # first coin: A picks first; second coin: B picks first
        values = iter([0.1, 0.9])

        def random(self):
            return next(self.values)

    shown, credits = team_draft([1, 2, 3, 4], [2, 5, 1, 6], 4, Coins())
    # Round 1: A takes 1, B takes 2. Round 2: B first takes 5, A takes 3 (2 is shown).
    assert shown == [1, 2, 5, 3]
    assert credits == ["a", "b", "b", "a"]


def test_the_same_visitor_and_day_give_the_same_list_and_another_day_may_not():
    a, b = list(range(1, 21)), list(range(20, 0, -1))
    first = team_draft(a, b, 10, request_rng(7, "session:x", date(2026, 12, 1)))
    again = team_draft(a, b, 10, request_rng(7, "session:x", date(2026, 12, 1)))
    assert first == again
    days = {tuple(team_draft(a, b, 10, request_rng(7, "session:x", date(2026, 12, d)))[1]) for d in range(1, 29)}
    assert len(days) > 1


def test_ab_sends_half_the_visitors_to_each_side_and_keeps_them_there():
    sides = [ab_side(3, f"session:{i}") for i in range(2000)]
    assert sides.count("a") == pytest.approx(1000, abs=100)
    assert all(ab_side(3, f"session:{i}") == sides[i] for i in range(50))
    assert single_side([4, 5, 6], "b", 2) == ([4, 5], ["b", "b"])


def test_the_traffic_share_takes_that_fraction_of_visitors():
    taking_part = sum(in_traffic(1, f"user:{i}", 0.25) for i in range(4000))
    assert taking_part == pytest.approx(1000, abs=120)
    assert all(in_traffic(1, f"user:{i}", 1.0) for i in range(100))
