"""Visitor events: who the visitor is, what a valid event is, how an accepted
event travels (``EventProducer``), and a visitor's history with
read-your-writes.

Other areas call ``visitor_key(request)``, ``visitor_history(key)`` and
``visitor_ratings(key)``; the endpoint calls ``parse_events``,
``rate_limit_retry_after`` and ``record_events``.
"""
import json
import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver

from movie import outbox, visitors
from movie.clicklog import StoreUnavailable, get_store, reset_store
from movie.event_record import InvalidEvent, check_event_type, check_movie_id, check_rating, new_event
from movie.models import Movie, VisitorLink

logger = logging.getLogger(__name__)

REQUEST_FIELDS = {"type", "movie_id", "rating"}
HISTORY_LIMIT = 50
RATINGS_LIMIT = 2000


# --- Who ---------------------------------------------------------------------------


def visitor_key(request, create=True):
    """The visitor's key: "user:<id>" when logged in, else "session:<visitor id>"
    from the visitor-id cookie (movie/visitors.py).

    With ``create`` an anonymous visitor without the cookie gets a new id (the
    response sets the cookie); without it such a visitor has no key (None)
    and so no history.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return visitors.anonymous_key(request, create)


def _linked_keys(key):
    """A user's own key plus the sessions they used before logging in."""
    if key and key.startswith("user:"):
        links = VisitorLink.objects.filter(user_id=key.removeprefix("user:"))
        return [key, *links.values_list("session_visitor_key", flat=True)]
    return [key]


# --- What --------------------------------------------------------------------------


def parse_events(body):
    """The (type, movie_id, rating) triples in a request body, or InvalidEvent.

    The body is one event object, a list of them or {"events": [...]}, at most EVENTS_MAX_BATCH
    events; every movie must be in the site's catalog.
    """
    if len(body) > settings.EVENTS_MAX_BODY_BYTES:
        raise InvalidEvent(f"body is larger than {settings.EVENTS_MAX_BODY_BYTES} bytes.")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidEvent("body must be JSON.") from None
    if isinstance(data, dict):
        items = data["events"] if set(data) == {"events"} else [data]
    else:
        items = data
    if not isinstance(items, list) or not items:
        raise InvalidEvent('"events" must be a non-empty list.')
    if len(items) > settings.EVENTS_MAX_BATCH:
        raise InvalidEvent(f"at most {settings.EVENTS_MAX_BATCH} events per request; got {len(items)}.")
    parsed = [_parse_one(index, item) for index, item in enumerate(items)]
    wanted = {movie_id for _, movie_id, _ in parsed}
    known = set(
        Movie.objects.filter(dataset__name=settings.MOVIELENS_DATASET, pk__in=wanted).values_list("pk", flat=True)
    )
    if wanted - known:
        raise InvalidEvent(f"unknown movie_id: {', '.join(map(str, sorted(wanted - known)))}.")
    return parsed


def _parse_one(index, item):
    if not isinstance(item, dict):
        raise InvalidEvent(f"event {index}: must be a JSON object.")
    unknown = set(item) - REQUEST_FIELDS
    if unknown:
        raise InvalidEvent(f"event {index}: unknown field(s) {', '.join(sorted(unknown))}.")
    try:
        event_type = check_event_type(item.get("type"))
        return event_type, check_movie_id(item.get("movie_id")), check_rating(event_type, item.get("rating"))
    except InvalidEvent as error:
        raise InvalidEvent(f"event {index}: {error}") from None


def rate_limit_retry_after(key, count):
    """Seconds to wait when ``count`` more events would pass the visitor's
    limit, else None. Counted in Django's cache, per fixed window."""
    window = settings.EVENTS_RATE_WINDOW_SECONDS
    now = time.time()
    bucket = f"events-rate:{key}:{int(now // window)}"
    cache.add(bucket, 0, timeout=window + 1)
    try:
        used = cache.incr(bucket, count)
    except ValueError:  # expired between add and incr
        cache.set(bucket, count, timeout=window + 1)
        used = count
    if used > settings.EVENTS_RATE_LIMIT:
        return max(1, int(window - now % window))
    return None


# --- How it travels -------------------------------------------------------------------


class EventProducer:
    """Takes accepted events; when ``publish`` returns they are durable
    (in the store or in the outbox) and on their way to the store."""

    def publish(self, events):
        raise NotImplementedError

    def close(self):
        pass


class InlineProducer(EventProducer):
    """No broker: write straight to the store. A store that is down (DynamoDB)
    leaves the events in the outbox for ``drain_outbox``."""

    def publish(self, events):
        try:
            get_store().write(events)
        except StoreUnavailable as error:
            logger.warning("Store unavailable (%s); %d event(s) wait in the outbox", error, len(events))
            outbox.save(events)


class KafkaEventProducer(EventProducer):
    """Outbox row first (durable, local), then a background hand-over to Kafka."""

    def __init__(self, topic=None):
        from movie.kafka_io import BackgroundPublisher

        self.publisher = BackgroundPublisher(topic or settings.KAFKA_TOPIC)

    def publish(self, events):
        outbox.save(events)
        self.publisher.submit(events)

    def flush(self, timeout=10):
        self.publisher.flush(timeout)

    def close(self):
        self.publisher.close()


_producer = None
_producer_lock = threading.Lock()


def get_producer():
    global _producer
    with _producer_lock:
        if _producer is None:
            _producer = KafkaEventProducer() if settings.KAFKA_BOOTSTRAP_SERVERS else InlineProducer()
        return _producer


@receiver(setting_changed, dispatch_uid="movie.events.reset")
def reset_producer(setting=None, **kwargs):
    """Rebuild producer and store when their settings change (tests do that)."""
    global _producer
    if setting is not None and not setting.startswith(("KAFKA_", "CLICKLOG_", "DYNAMODB_", "AWS_")):
        return
    with _producer_lock:
        if _producer is not None:
            _producer.close()
        _producer = None
    reset_store()


def record_events(key, parsed):
    """Give each parsed event an id and the server's time, and publish them."""
    events = [new_event(key, event_type, movie_id, rating) for event_type, movie_id, rating in parsed]
    get_producer().publish(events)
    return events


# --- History -------------------------------------------------------------------------


def visitor_history(key, limit=HISTORY_LIMIT, event_type=None):
    """The visitor's events, newest first: what the store holds plus what they
    produced that the consumer has not stored yet (read-your-writes).

    Each item has event_id, visitor_key, event_type ("click", "view" or
    "rating"), movie_id (Movie.pk), rating (None unless a rating) and timestamp.
    """
    if not key:
        return []
    keys = _linked_keys(key)
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
