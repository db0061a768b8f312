"""A visitor's newest acknowledged events in the cache, until the consumer
has stored them: read-your-writes for the Kafka path without a database
write per event (the outbox is written only when the broker does not
acknowledge).

Best effort: with the per-process default cache another web process does
not see them (with REDIS_URL every process does), and a cache that is down
only delays what a page shows until the consumer stores the events.
"""

import logging

from django.conf import settings
from django.core.cache import cache

from events.records import from_message, to_messages, well_formed_ids

logger = logging.getLogger(__name__)

KEEP = 100  # per visitor: more than any page reads from the newest end


def _key(visitor_key):
    return f"events-recent:{visitor_key}"


def remember(events, messages=None):
    """Add acknowledged ``events`` (``messages``: their to_message pairs, when
    the caller has them) to their visitors' recent lists."""
    per_visitor = {}
    for event, (_, value) in zip(events, to_messages(events, messages), strict=True):
        per_visitor.setdefault(event.visitor_key, []).append(value.decode())
    try:
        for visitor_key, messages in per_visitor.items():
            kept = cache.get(_key(visitor_key)) or []
            cache.set(_key(visitor_key), (kept + messages)[-KEEP:], timeout=settings.EVENTS_RECENT_SECONDS)
    except Exception as error:  # noqa: BLE001 - any cache failure: the store will have them soon
        logger.warning("Recent events not cached (%s); pages show them once stored", error)


def discard(visitor_key, event_ids=None):
    """Forget this visitor's recent events with these ids (all when None), as
    a deletion must: else a page would show them again until they expire.
    Returns how many went; 0 when the cache is down (logged)."""
    try:
        kept = cache.get(_key(visitor_key)) or []
        if event_ids is None:
            cache.delete(_key(visitor_key))
            return len(kept)
        doomed = set(well_formed_ids(event_ids))
        left = [text for text in kept if from_message(text).event_id not in doomed]
        if len(left) < len(kept):
            cache.set(_key(visitor_key), left, timeout=settings.EVENTS_RECENT_SECONDS)
        return len(kept) - len(left)
    except Exception as error:  # noqa: BLE001 - any cache failure
        logger.warning("Recent events not discarded (%s); pages may show them until they expire", error)
        return 0


def pending(visitor_keys, event_types=None, movie_id=None):
    """These visitors' recent events (of ``event_types``, about ``movie_id`` when given)."""
    try:
        found = cache.get_many([_key(key) for key in visitor_keys])
    except Exception as error:  # noqa: BLE001
        logger.warning("Recent events not read (%s)", error)
        return []
    events = [from_message(text) for messages in found.values() for text in messages]
    return [
        event
        for event in events
        if (not event_types or event.event_type in event_types) and (movie_id is None or event.movie_id == movie_id)
    ]
