from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from experiments.attribution import attribute, merged, tally

START = datetime(2026, 12, 1, 12, tzinfo=UTC)


@dataclass
class E:
    event_type: str
    event_id: str
    movie_id: int | None = None
    details: dict = field(default_factory=dict)
    visitor_key: str = "session:v"
    timestamp: datetime = START


def impression(event_id, shown, credits, experiment=1, minute=0, visitor="session:v", sig=None):
    details = {"experiment": experiment, "surface": "top_picks", "shown": shown, "credits": credits}
    if sig is not None:
        details["sig"] = sig
    return E("impression", event_id, None, details, visitor, START + timedelta(minutes=minute))


def click(movie_id, impression_id, visitor="session:v"):
    return E("click", f"c-{movie_id}-{impression_id}", movie_id, {"impression": impression_id}, visitor)


def test_the_side_with_more_credited_clicks_wins_and_equal_clicks_tie():
    events = [
        impression("i1", [10, 20, 30, 40], ["a", "b", "b", "a"], minute=0),
        click(10, "i1"),
        click(40, "i1"),
        click(20, "i1"),  # A 2, B 1: A wins
        impression("i2", [10, 20], ["b", "a"], minute=1),
        click(10, "i2"),
        click(20, "i2"),  # one each: a tie
        impression("i3", [50, 60], ["a", "b"], minute=2),  # no click: a tie
        impression("i4", [70, 80], ["a", "b"], minute=3),
        click(80, "i4"),  # B wins
    ]
    found = attribute(events, 1)
    assert [i.event_id for i in found] == ["i1", "i2", "i3", "i4"]
    assert [i.winner for i in found] == ["a", None, None, "b"]
    assert (found[0].clicks("a"), found[0].clicks("b")) == (2, 1)
    counts = tally(found)["session:v"]
    assert counts.wins == {"a": 1, "b": 1} and counts.ties == 2
    assert counts.clicks == {"a": 3, "b": 3} and counts.impressions == {"a": 4, "b": 4}


def test_clicks_count_once_only_on_their_own_impression_and_its_movies():
    events = [
        impression("i1", [10, 20], ["a", "b"]),
        click(10, "i1"),
        click(10, "i1"),  # the same movie again
        click(20, "other"),  # names an impression that is not this one
        click(99, "i1"),  # a movie the impression did not show
        E("click", "plain", 20),  # a click with no impression
        impression("i1", [10, 20], ["a", "b"]),  # a redelivered copy
    ]
    (only,) = attribute(events, 1)
    assert only.clicked == {10} and only.winner == "a"


def test_other_experiments_and_malformed_or_refused_impressions_are_left_out():
    events = [
        impression("mine", [1, 2], ["a", "b"], experiment=1),
        impression("theirs", [1, 2], ["a", "b"], experiment=2),
        impression("short", [1, 2], ["a"], experiment=1),
        impression("odd", [1, 2], ["a", "c"], experiment=1),
    ]
    assert [i.event_id for i in attribute(events, 1)] == ["mine"]
    assert attribute(events, 1, valid=lambda details, visitor: False) == []


def test_an_ab_impression_counts_for_its_one_side():
    events = [impression("i1", [1, 2, 3], ["b", "b", "b"]), click(2, "i1"), click(3, "i1")]
    counts = tally(attribute(events, 1))["session:v"]
    assert counts.impressions == {"a": 0, "b": 1} and counts.clicks == {"a": 0, "b": 2} and counts.wins["b"] == 1


def test_signed_details_re_posted_under_fresh_event_ids_count_as_one_impression():
    events = [
        impression("i1", [10, 20], ["a", "b"], minute=0, sig="page-1"),
        click(10, "i1"),
        impression("copy-1", [10, 20], ["a", "b"], minute=1, sig="page-1"),
        click(10, "copy-1"),
        impression("copy-2", [10, 20], ["a", "b"], minute=2, sig="page-1"),
        click(20, "copy-2"),
        impression("i2", [10, 20], ["a", "b"], minute=3, sig="page-2"),  # the same list on a later page
        impression("theirs", [10, 20], ["a", "b"], minute=4, sig="page-1", visitor="session:w"),
    ]
    found = attribute(events, 1)
    assert [(i.event_id, i.visitor_key) for i in found] == [
        ("i1", "session:v"),
        ("i2", "session:v"),
        ("theirs", "session:w"),
    ]
    assert found[0].clicked == {10, 20} and found[0].winner is None  # the copies' clicks pooled, each movie once
    counts = tally(found)["session:v"]
    assert counts.wins == {"a": 0, "b": 0} and counts.ties == 2 and counts.impressions == {"a": 2, "b": 2}


def test_one_impression_read_through_two_linked_keys_keeps_the_clicks_of_both_reads():
    """A session and the user it was linked to are both participants: the
    impression comes back from both reads, each with the clicks its read saw."""
    shown = impression("i1", [10, 20, 30], ["a", "b", "a"], sig="page-1")

    def user_read():  # the clicks after logging in are stored under the user's key
        return attribute([shown, click(10, "i1"), click(30, "i1")], 1)

    def session_read():
        return attribute([shown, click(20, "i1")], 1)

    for reads in ([*user_read(), *session_read()], [*session_read(), *user_read()]):
        (only,) = merged(reads)
        assert only.clicked == {10, 20, 30} and only.winner == "a"
