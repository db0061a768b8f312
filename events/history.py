"""A visitor's events as the pages read them: what the click-log store holds
plus what the visitor produced that may not be stored yet, from the outbox
and the cache of acknowledged events (read-your-writes).
"""

import logging
from operator import attrgetter

from events import outbox, recent
from events.records import EVENT_TYPES, RATING_TYPES
from events.stores import StoreUnavailable, get_store
from events.visitors import linked_keys, visitor_key

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 50
RATINGS_LIMIT = 2000
# What a visitor did with movies; impressions (what an experiment showed them)
# are read only when asked for by type.
TASTE_TYPES = tuple(event_type for event_type in EVENT_TYPES if event_type != "impression")


def visitor_history(key, limit=HISTORY_LIMIT, event_types=None):
    """The visitor's events, newest first, of ``event_types`` (default: every
    type but impressions).

    Each item is an Event: event_id, visitor_key, event_type (one of
    events.records.EVENT_TYPES), movie_id (Movie.pk; None for an impression),
    rating (None unless a rating), timestamp and details ({} unless sent).
    """
    if not key:
        return []
    event_types = event_types or TASTE_TYPES
    keys = linked_keys(key)
    merged = {}
    for event in [*get_store().history_and_outbox(keys, limit, event_types), *recent.pending(keys, event_types)]:
        merged.setdefault((event.visitor_key, event.event_id), event)
    return newest_first(merged.values())[:limit]


def request_history(request):
    """``visitor_history`` of the requesting visitor, read once per request:
    a movie's page shows its rating and its "Not interested" state from it."""
    if not hasattr(request, "_visitor_history"):
        request._visitor_history = visitor_history(visitor_key(request, create=False))
    return request._visitor_history


def rating_in(history, key, movie_id):
    """The visitor's latest rating of ``movie_id``, from ``history`` (their
    newest HISTORY_LIMIT events) when it decides: it holds a rating event of
    the movie, or it is their whole history; else read as visitor_rating."""
    if any(event.event_type in RATING_TYPES and event.movie_id == movie_id for event in history):
        return latest_ratings(history).get(movie_id)
    if len(history) < HISTORY_LIMIT:
        return None
    return visitor_rating(key, movie_id)


def newest_first(events):
    return sorted(events, key=attrgetter("time_order"), reverse=True)


def latest_ratings(history):
    """{movie_id: latest rating} from events ordered newest first; a movie whose
    newest rating event is a rating_cleared has none."""
    ratings = {}
    for event in history:
        if event.event_type in RATING_TYPES:
            ratings.setdefault(event.movie_id, event.rating)
    return {movie_id: rating for movie_id, rating in ratings.items() if rating is not None}


def visitor_ratings(key):
    """{movie_id: the visitor's latest rating} (read-your-writes as above)."""
    return latest_ratings(visitor_history(key, RATINGS_LIMIT, event_types=RATING_TYPES))


def visitor_rating(key, movie_id):
    """The visitor's latest rating of one movie, or None (never rated, or
    cleared since): one read of the store and one of the outbox, however many
    movies they rated."""
    if not key:
        return None
    keys = linked_keys(key)
    found = outbox.pending(keys, 1, RATING_TYPES, movie_id=movie_id) + recent.pending(keys, RATING_TYPES, movie_id)
    try:
        stored = get_store().latest_rating(keys, movie_id)
    except StoreUnavailable as error:
        logger.warning("Rating read without the store (%s)", error)
        stored = None
    if stored is not None:
        found.append(stored)
    return newest_first(found)[0].rating if found else None


def delete_history(key, event_ids=None):
    """Delete the visitor's events with these ids (all when None) from the
    store, the outbox and the cache of acknowledged events, for the visitor's
    own keys (a user's include the sessions linked to them). Returns how many
    rows went, or when none did how many cached events went (one the page
    showed from the cache was deleted, not missing). An event still on the
    Kafka topic when this runs may be stored after it."""
    if not key:
        return 0
    store, deleted, cached = get_store(), 0, 0
    for own_key in linked_keys(key):
        deleted += outbox.discard(own_key, event_ids)
        deleted += store.delete_visitor_events(own_key, event_ids)
        cached += recent.discard(own_key, event_ids)
    return deleted or cached
