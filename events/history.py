"""A visitor's events as the pages read them: what the click-log store holds
plus what the visitor produced that is still in the outbox (read-your-writes).
"""

import logging

from events import outbox
from events.stores import StoreUnavailable, get_store
from events.visitors import linked_keys

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 50
RATINGS_LIMIT = 2000


def visitor_history(key, limit=HISTORY_LIMIT, event_types=None):
    """The visitor's events, newest first (only of ``event_types`` when given).

    Each item has event_id, visitor_key, event_type ("click", "view" or
    "rating"), movie_id (Movie.pk), rating (None unless a rating) and timestamp.
    """
    if not key:
        return []
    keys = linked_keys(key)
    try:
        stored = get_store().history(keys, limit, event_types)
    except StoreUnavailable as error:
        logger.warning("History read without the store (%s)", error)
        stored = []
    merged = {event.event_id: event for event in stored}
    for event in outbox.pending(keys, limit, event_types):
        merged.setdefault(event.event_id, event)
    return newest_first(merged.values())[:limit]


def newest_first(events):
    return sorted(events, key=lambda event: event.sort_key, reverse=True)


def latest_ratings(history):
    """{movie_id: latest rating} from events ordered newest first."""
    ratings = {}
    for event in history:
        if event.event_type == "rating":
            ratings.setdefault(event.movie_id, event.rating)
    return ratings


def visitor_ratings(key):
    """{movie_id: the visitor's latest rating} (read-your-writes as above)."""
    return latest_ratings(visitor_history(key, RATINGS_LIMIT, event_types=("rating",)))


def visitor_rating(key, movie_id):
    """The visitor's latest rating of one movie, or None: one read of the store
    and one of the outbox, however many movies they rated."""
    if not key:
        return None
    keys = linked_keys(key)
    found = outbox.pending(keys, 1, ("rating",), movie_id=movie_id)
    try:
        stored = get_store().latest_rating(keys, movie_id)
    except StoreUnavailable as error:
        logger.warning("Rating read without the store (%s)", error)
        stored = None
    if stored is not None:
        found.append(stored)
    return newest_first(found)[0].rating if found else None
