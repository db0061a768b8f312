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


def visitor_history(key, limit=HISTORY_LIMIT, event_type=None):
    """The visitor's events, newest first.

    Each item has event_id, visitor_key, event_type ("click", "view" or
    "rating"), movie_id (Movie.pk), rating (None unless a rating) and timestamp.
    """
    if not key:
        return []
    keys = linked_keys(key)
    try:
        stored = get_store().history(keys, limit, event_type)
    except StoreUnavailable as error:
        logger.warning("History read without the store (%s)", error)
        stored = []
    merged = {event.event_id: event for event in stored}
    for event in outbox.pending(keys, limit, event_type):
        merged.setdefault(event.event_id, event)
    return sorted(merged.values(), key=lambda event: event.sort_key, reverse=True)[:limit]


def latest_ratings(history):
    """{movie_id: latest rating} from events ordered newest first."""
    ratings = {}
    for event in history:
        if event.event_type == "rating":
            ratings.setdefault(event.movie_id, event.rating)
    return ratings


def visitor_ratings(key):
    """{movie_id: the visitor's latest rating} (read-your-writes as above)."""
    return latest_ratings(visitor_history(key, RATINGS_LIMIT, event_type="rating"))


def visitor_rating(key, movie_id):
    return visitor_ratings(key).get(movie_id)
