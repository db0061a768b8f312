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
