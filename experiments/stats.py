"""The preference for one side and its 95% interval.

Interleaving: preference = (wins A - wins B) / (wins A + wins B), ties left
out, from -1 (B always wins) to 1. A/B split: the same scale made of the two
sides' click-through rates (impressions with a click per impression),
(CTR A - CTR B) / (CTR A + CTR B).

The interval the dashboard and the benchmark use is a percentile bootstrap
over visitors: visitors are drawn with replacement (each with all their
impressions), because one visitor's impressions are not independent of
each other. ``sign_test_interval`` is the textbook alternative that treats
every decided impression as an independent coin (Wilson's score interval on
the share won by A); it is narrower when visitors come back often. The
dashboard shows it beside the bootstrap, which alone decides.
"""

import math

import numpy as np

LEVEL = 0.95
RESAMPLES = 1000
Z_95 = 1.959963984540054
# Below this many visitors behind a side's numbers, a bootstrap over visitors
# says little (one visitor gives an interval of zero width): no interval, no winner.
MIN_VISITORS = 10


def preference(wins_a, wins_b):
    """(wins A - wins B) / (wins A + wins B); None when nothing was decided."""
    decided = wins_a + wins_b
    return None if decided == 0 else (wins_a - wins_b) / decided


def rate_preference(rate_a, rate_b):
    total = rate_a + rate_b
    return None if total == 0 else (rate_a - rate_b) / total


def sign_test_interval(wins_a, wins_b, z=Z_95):
    """(low, high) of the preference: Wilson's interval of p = wins A / decided, mapped to 2p - 1."""
    n = wins_a + wins_b
    if n == 0:
        return None
    p = wins_a / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 2 * (centre - half) - 1, 2 * (centre + half) - 1


def visitor_weights(n_visitors, rng, resamples=RESAMPLES, alike=None):
    """(resamples, n_visitors) how many times each visitor is drawn in each bootstrap sample.

    With ``alike`` (how many visitors share each entry's counts) the columns
    are those groups: drawing every visitor with replacement and adding up
    each group's draws is one multinomial over the groups, the same
    distribution at a cost that does not grow with the visitors (the benchmark
    resamples thousands of one-impression visitors)."""
    if alike is None:
        return rng.multinomial(n_visitors, np.full(n_visitors, 1.0 / n_visitors), size=resamples)
    alike = np.asarray(alike, dtype=np.float64)
    return rng.multinomial(int(alike.sum()), alike / alike.sum(), size=resamples)


def _percentiles(values, level):
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _total(values, alike):
    return values.sum() if alike is None else np.asarray(alike, dtype=np.float64) @ values


def bootstrap_preference(wins_a, wins_b, rng, resamples=RESAMPLES, level=LEVEL, alike=None):
    """Interleaving: (preference, (low, high)) from per-visitor wins (arrays
    of equal length, one entry per visitor, or per group of ``alike``
    visitors); (None, None) with no decided impression."""
    wins_a, wins_b = np.asarray(wins_a, dtype=np.float64), np.asarray(wins_b, dtype=np.float64)
    point = preference(_total(wins_a, alike), _total(wins_b, alike))
    if point is None:
        return None, None
    weights = visitor_weights(len(wins_a), rng, resamples, alike)  # (R, V)
    a, b = weights @ wins_a, weights @ wins_b  # (R,)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (a - b) / (a + b)
    return float(point), _percentiles(samples, level)


def bootstrap_rate_preference(
    clicks_a, shown_a, clicks_b, shown_b, rng, resamples=RESAMPLES, level=LEVEL, alike_a=None, alike_b=None
):
    """A/B: (preference of the click-through rates, (low, high)); each side's
    visitors (per-visitor clicks and impressions, or per group of ``alike``
    visitors) are resampled on their own."""
    sides = []
    for clicks, shown, alike in ((clicks_a, shown_a, alike_a), (clicks_b, shown_b, alike_b)):
        clicks, shown = np.asarray(clicks, dtype=np.float64), np.asarray(shown, dtype=np.float64)
        if not len(shown) or _total(shown, alike) == 0:
            return None, None
        weights = visitor_weights(len(shown), rng, resamples, alike)
        with np.errstate(invalid="ignore", divide="ignore"):
            sides.append((_total(clicks, alike) / _total(shown, alike), (weights @ clicks) / (weights @ shown)))
    (rate_a, samples_a), (rate_b, samples_b) = sides
    point = rate_preference(rate_a, rate_b)
    if point is None:
        return None, None
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (samples_a - samples_b) / (samples_a + samples_b)
    return float(point), _percentiles(samples, level)


def excludes_zero(interval):
    return interval is not None and (interval[0] > 0 or interval[1] < 0)
