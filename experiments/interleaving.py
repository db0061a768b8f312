"""Which list a visitor in an experiment sees, and which side each movie is credited to.

Team-draft interleaving (Radlinski, Kurup and Joachims, "How does
clickthrough data reflect retrieval quality?", CIKM 2008): the two rankings
pick in turns, like captains choosing teams; whenever both teams are the
same size a coin decides who picks next, and each picks its best movie not
shown yet. Every shown movie is credited to the side that picked it, so
each side's clicks are counted on the same visitor, the same page and the
same positions (on average).

The coins come from a generator seeded by (experiment, visitor, day): a
reload the same day shows the same list, the next day may differ.
A/B assignment, offered for comparison, sends a visitor (by a hash of the
key, not the day) to one side for the whole experiment.
"""

import hashlib
import random

SIDES = ("a", "b")


def stable_fraction(*parts):
    """A number in [0, 1) fixed by ``parts`` (sha256, so the same in every process)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def request_rng(experiment_id, visitor_key, day):
    """The coin flips of one visitor's requests on ``day`` (a date)."""
    return random.Random(int(stable_fraction("draft", experiment_id, visitor_key, day.isoformat()) * 2**53))


def in_traffic(experiment_id, visitor_key, share):
    """True for the fraction ``share`` (0 to 1) of visitors that take part."""
    return stable_fraction("traffic", experiment_id, visitor_key) < share


def ab_side(experiment_id, visitor_key):
    """ "a" or "b", half the visitors each, the same for the whole experiment."""
    return SIDES[stable_fraction("ab", experiment_id, visitor_key) >= 0.5]


def team_draft(ranking_a, ranking_b, k, rng):
    """Merge two rankings (movie ids, best first) into at most ``k`` movies.

    Returns (shown, credits): ``credits[i]`` is "a" or "b", the side that
    drafted ``shown[i]``. ``rng.random()`` is the coin. When one ranking has
    nothing left to offer the other fills the list alone; with rankings of
    ``k`` movies each that cannot happen before ``k`` are shown.
    """
    rankings = {"a": list(ranking_a), "b": list(ranking_b)}
    next_index = {"a": 0, "b": 0}
    picked = {"a": 0, "b": 0}
    shown, credits, taken = [], [], set()

    def best_unshown(side):
        ranking, index = rankings[side], next_index[side]
        while index < len(ranking) and ranking[index] in taken:
            index += 1
        next_index[side] = index
        return ranking[index] if index < len(ranking) else None

    while len(shown) < k:
        if picked["a"] < picked["b"]:
            order = ("a", "b")
        elif picked["b"] < picked["a"]:
            order = ("b", "a")
        else:
            order = ("a", "b") if rng.random() < 0.5 else ("b", "a")
        for side in order:
            movie_id = best_unshown(side)
            if movie_id is not None:
                break
        else:
            break  # both rankings are used up
        shown.append(movie_id)
        credits.append(side)
        taken.add(movie_id)
        picked[side] += 1
    return shown, credits


def single_side(ranking, side, k):
    """An A/B visitor's list: one side's ranking, every movie credited to it."""
    shown = list(ranking)[:k]
    return shown, [side] * len(shown)
