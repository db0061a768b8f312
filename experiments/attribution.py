"""Who won each impression, from the stored events of one visitor.

An impression event carries what was shown and which side drafted each
position (details.shown, details.credits); a click carries the impression's
event id in details.impression. A click counts when its movie was on that
impression; the same movie clicked twice counts once. An impression is won
by the side with more credited clicks; equal counts (no click at all
included) are a tie, counted apart.

One page's impression counts once per visitor: its signature covers a nonce
the server made for that page, so a client re-posting the signed details
under fresh event ids adds no impression; the copies' clicks are pooled
into the earliest copy (the same movie still counts once).

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
    signature: str = ""

    @property
    def key(self):
        """What makes it one impression: the visitor and the signed details (the event id when unsigned)."""
        return (self.visitor_key, self.signature or f"event:{self.event_id}")

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
    sig = details.get("sig")
    sig = sig if isinstance(sig, str) else ""
    return Impression(event.event_id, event.visitor_key, event.timestamp, shown, credits, signature=sig)


def in_order(impressions):
    return sorted(impressions, key=lambda impression: (impression.timestamp, impression.event_id))


def attribute(events, experiment_id, valid=None):
    """The experiment's Impressions among ``events``, each with its clicks,
    one per ``Impression.key`` (redelivered or re-posted copies are one)."""
    found = in_order(filter(None, (impression_of(event, experiment_id, valid) for event in events)))
    by_key, by_event_id = {}, {}
    for impression in found:
        by_event_id.setdefault(impression.event_id, by_key.setdefault(impression.key, impression))
    for event in events:
        if event.event_type != "click":
            continue
        impression = by_event_id.get(str((event.details or {}).get("impression", "")))
        if impression is not None and event.movie_id in impression.shown:
            impression.clicked.add(event.movie_id)
    return in_order(by_key.values())


def merged(impressions):
    """``impressions`` with one per key: the earliest copy, with the clicks
    of all copies (a session and the user it was linked to both read it,
    each with the clicks stored under its own key)."""
    by_key = {}
    for impression in in_order(impressions):
        first = by_key.setdefault(impression.key, impression)
        if first is not impression:
            first.clicked |= impression.clicked
    return in_order(by_key.values())


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
