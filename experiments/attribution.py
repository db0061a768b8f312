"""Who won each impression, from the stored events of one visitor.

An impression event carries what was shown and which side drafted each
position (details.shown, details.credits); a click carries the impression's
event id in details.impression. A click counts when its movie was on that
impression; the same movie clicked twice counts once. An impression is won
by the side with more credited clicks; equal counts (no click at all
included) are a tie, counted apart.

Nothing here reads a database: the functions take events (anything with
event_type, event_id, movie_id, timestamp and details), so the tests and
the benchmark build them by hand.
"""

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Impression:
    event_id: str
    visitor_key: str
    timestamp: object
    shown: list
    credits: list
    clicked: set = field(default_factory=set)

    def clicks(self, side):
        return sum(
            1
            for movie_id, credit in zip(self.shown, self.credits, strict=True)
            if credit == side and movie_id in self.clicked
        )

    @property
    def winner(self):
        """ "a", "b", or None for a tie."""
        a, b = self.clicks("a"), self.clicks("b")
        return "a" if a > b else "b" if b > a else None

    @property
    def sides(self):
        """The sides credited anywhere on it: both when interleaved, one under A/B."""
        return set(self.credits)


def impression_of(event, experiment_id, valid=None):
    """The Impression an impression event records for ``experiment_id``, or
    None when it belongs elsewhere or is malformed (or ``valid(details,
    visitor_key)`` refuses it)."""
    details = event.details or {}
    if event.event_type != "impression" or details.get("experiment") != experiment_id:
        return None
    shown, credits = details.get("shown"), details.get("credits")
    if not isinstance(shown, list) or not isinstance(credits, list) or len(shown) != len(credits) or not shown:
        return None
    if any(credit not in ("a", "b") for credit in credits) or any(not isinstance(m, int) for m in shown):
        return None
    if valid is not None and not valid(details, event.visitor_key):
        return None
    return Impression(event.event_id, event.visitor_key, event.timestamp, shown, credits)


def attribute(events, experiment_id, valid=None):
    """The experiment's Impressions among ``events``, each with its clicks."""
    impressions = {}
    for event in events:
        impression = impression_of(event, experiment_id, valid)
        if impression is not None:
            impressions.setdefault(impression.event_id, impression)  # a redelivered copy is the same impression
    for event in events:
        if event.event_type != "click":
            continue
        impression = impressions.get(str((event.details or {}).get("impression", "")))
        if impression is not None and event.movie_id in impression.shown:
            impression.clicked.add(event.movie_id)
    return sorted(impressions.values(), key=lambda impression: (impression.timestamp, impression.event_id))


@dataclass
class VisitorTally:
    """One visitor's counts: what the bootstrap resamples."""

    impressions: dict = field(default_factory=lambda: {"a": 0, "b": 0})  # impressions that showed the side
    clicks: dict = field(default_factory=lambda: {"a": 0, "b": 0})  # clicks credited to the side
    clicked: dict = field(default_factory=lambda: {"a": 0, "b": 0})  # impressions with a click credited to it
    wins: dict = field(default_factory=lambda: {"a": 0, "b": 0})
    ties: int = 0


def tally(impressions):
    """{visitor key: VisitorTally} over ``impressions``."""
    tallies = defaultdict(VisitorTally)
    for impression in impressions:
        counts = tallies[impression.visitor_key]
        for side in impression.sides:
            counts.impressions[side] += 1
            counts.clicks[side] += impression.clicks(side)
            counts.clicked[side] += impression.clicks(side) > 0
        if impression.winner is None:
            counts.ties += 1
        else:
            counts.wins[impression.winner] += 1
    return dict(tallies)
