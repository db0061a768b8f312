"""An experiment's numbers, computed from the stored events of its
participants (so they survive a restart of anything): impressions, clicks
and wins per side, ties, the preference with its 95% interval (bootstrap
over visitors, see experiments.stats), per-side click-through, and the
preference over time."""

from dataclasses import dataclass, field

import numpy as np

from events.history import visitor_history
from experiments import stats
from experiments.attribution import attribute, merged, tally
from experiments.models import Experiment
from experiments.provider import signed

EVENT_TYPES = ("impression", "click")
MIN_VISITORS = stats.MIN_VISITORS
READ_LIMIT = 5000  # events per participant: far more than a visitor makes in an experiment
SERIES_POINTS = 20


@dataclass
class Results:
    impressions: int = 0
    min_visitors: int = MIN_VISITORS
    clicks: dict = field(default_factory=lambda: {"a": 0, "b": 0})
    clicked: dict = field(default_factory=lambda: {"a": 0, "b": 0})  # impressions with a click on the side
    wins: dict = field(default_factory=lambda: {"a": 0, "b": 0})
    ties: int = 0
    shown: dict = field(default_factory=lambda: {"a": 0, "b": 0})  # impressions that showed each side
    visitors: int = 0
    preference: float | None = None
    interval: tuple | None = None
    # Interleaving only: the interval if every decided impression were an
    # independent coin. It guards the bootstrap, which collapses to a point
    # when a handful of decided impressions all went one way.
    sign_test: tuple | None = None
    series: list = field(default_factory=list)  # (time, preference, low, high), cumulative

    def click_through(self, side):
        """The share of the impressions showing the side that got a click on it."""
        return None if not self.shown[side] else self.clicked[side] / self.shown[side]

    @property
    def winner(self):
        """ "a" or "b" once the interval excludes zero (and, under interleaving,
        the sign test's interval too), else None."""
        if not stats.excludes_zero(self.interval):
            return None
        if self.sign_test is not None and not stats.excludes_zero(self.sign_test):
            return None
        return "a" if self.preference > 0 else "b"


def stored_impressions(experiment):
    """The experiment's Impressions, clicks attached, from every participant's stored events."""
    found = []
    for visitor_key in experiment.participants.values_list("visitor_key", flat=True):
        events = visitor_history(visitor_key, READ_LIMIT, event_types=EVENT_TYPES)
        found += attribute(events, experiment.pk, valid=signed)
    in_window = [
        impression
        for impression in found
        if experiment.started_at is None
        or (
            impression.timestamp >= experiment.started_at
            and (experiment.stopped_at is None or impression.timestamp <= experiment.stopped_at)
        )
    ]
    return merged(in_window)


def interval(method, tallies, rng, min_visitors=None):
    """(preference, (low, high) or None) from {visitor: VisitorTally}, as
    the method defines it; no interval below ``min_visitors`` (per side under A/B)."""
    min_visitors = MIN_VISITORS if min_visitors is None else min_visitors
    counts = list(tallies.values())
    if method == Experiment.Method.AB:
        by_side = {
            side: [(c.clicked[side], c.impressions[side]) for c in counts if c.impressions[side]] for side in "ab"
        }
        if not by_side["a"] or not by_side["b"]:
            return None, None
        (clicks_a, shown_a), (clicks_b, shown_b) = (np.array(by_side[s]).T for s in "ab")
        point, span = stats.bootstrap_rate_preference(clicks_a, shown_a, clicks_b, shown_b, rng)
        enough = min(len(by_side["a"]), len(by_side["b"])) >= min_visitors
    else:
        if not counts:
            return None, None
        point, span = stats.bootstrap_preference([c.wins["a"] for c in counts], [c.wins["b"] for c in counts], rng)
        enough = len(counts) >= min_visitors
    return point, span if enough else None


def results(experiment, impressions=None):
    impressions = stored_impressions(experiment) if impressions is None else impressions
    tallies = tally(impressions)
    summary = Results(impressions=len(impressions), visitors=len(tallies), min_visitors=MIN_VISITORS)
    for counts in tallies.values():
        for side in "ab":
            summary.clicks[side] += counts.clicks[side]
            summary.clicked[side] += counts.clicked[side]
            summary.wins[side] += counts.wins[side]
            summary.shown[side] += counts.impressions[side]
        summary.ties += counts.ties
    summary.preference, summary.interval = interval(experiment.method, tallies, np.random.default_rng(experiment.pk))
    if experiment.method != Experiment.Method.AB and summary.interval is not None:
        summary.sign_test = stats.sign_test_interval(summary.wins["a"], summary.wins["b"])
    summary.series = series(experiment, impressions)
    return summary


def series(experiment, impressions, points=SERIES_POINTS):
    """The cumulative preference and interval after evenly spaced shares of the impressions."""
    if not impressions:
        return []
    ends = sorted({int(np.ceil(len(impressions) * (i + 1) / points)) for i in range(points)})
    rng = np.random.default_rng(experiment.pk)
    found = []
    for end in ends:
        point, span = interval(experiment.method, tally(impressions[:end]), rng)
        if point is not None and span is not None:
            found.append((impressions[end - 1].timestamp, point, span[0], span[1]))
    return found
