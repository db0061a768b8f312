"""Accepting a request's events: parse and validate the body, hold the
visitor to their rate limit, give each event an id and the server's time, and
publish them. ``accept`` is the one entry the endpoint calls.
"""

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches

from events import catalog_ids
from events.producers import get_producer
from events.records import (
    InvalidEvent,
    check_details,
    check_event_id,
    check_event_type,
    check_movie_id,
    check_rating,
    new_event,
)

logger = logging.getLogger(__name__)

REQUEST_FIELDS = {"type", "movie_id", "rating", "event_id", "details"}


class RateLimited(Exception):
    """The visitor sent too many events; ``retry_after`` seconds until the window turns."""

    def __init__(self, retry_after):
        super().__init__(f"Too many events; try again in {retry_after} s.")
        self.retry_after = retry_after


def accept(body, key, address=None):
    """The accepted Events of a request body sent by visitor ``key`` from
    client ``address``, published.

    Raises InvalidEvent (nothing is stored) or RateLimited.
    """
    parsed = parse_events(body)
    retry_after = rate_limit_retry_after(key, address, len(parsed))
    if retry_after:
        raise RateLimited(retry_after)
    # One microsecond apart: a request's events keep their order in time (an
    # event and the one taking it back, say), whatever the clock's resolution.
    now = datetime.now(UTC)
    events = [new_event(key, now=now + timedelta(microseconds=i), **fields) for i, fields in enumerate(parsed)]
    get_producer().publish(events)
    return events


def accept_one(key, event_type, movie_id, address=None):
    """One event sent by a plain form rather than the JSON endpoint, checked,
    rate-limited and published as ``accept`` does."""
    return accept(json.dumps({"type": event_type, "movie_id": movie_id}), key, address)


def parse_events(body):
    """The events of a request body as new_event keyword arguments (event_type,
    movie_id, rating, event_id, details), or InvalidEvent.

    The body is one event object, a list of them or {"events": [...]}, at most EVENTS_MAX_BATCH
    events; every movie must be in the site's catalog, and an event_id (the
    client's, so a retry is stored once) appears once per request.
    """
    if len(body) > settings.EVENTS_MAX_BODY_BYTES:
        raise InvalidEvent(f"body is larger than {settings.EVENTS_MAX_BODY_BYTES} bytes.")
    try:
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise InvalidEvent("body must be JSON (UTF-8).") from None
    # A body with no more opening brackets than the limit cannot nest deeper
    # (a click's has two): counting them is cheaper than the scan.
    opening = text.count("[") + text.count("{")
    if opening > MAX_BODY_DEPTH and _nesting(text) > MAX_BODY_DEPTH:
        raise InvalidEvent(f"body may nest objects and lists at most {MAX_BODY_DEPTH} levels deep.")
    try:
        data = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError:
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
    ids = [fields["event_id"] for fields in parsed if fields["event_id"]]
    if len(ids) != len(set(ids)):
        raise InvalidEvent("each event_id may appear once per request.")
    wanted = {fields["movie_id"] for fields in parsed if fields["movie_id"] is not None}
    unknown = wanted - catalog_ids.known(wanted)
    if unknown:
        raise InvalidEvent(f"unknown movie_id: {', '.join(map(str, sorted(unknown)))}.")
    return parsed


# {"events": [{..., "details": {3 levels}}]} is 6 deep; 16,000 "[" would blow Python's recursion limit.
MAX_BODY_DEPTH = 8
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
BRACKETS = str.maketrans("", "", "".join(chr(c) for c in range(128) if chr(c) not in "[]{}"))


def _nesting(text):
    """How deep objects and lists nest in JSON ``text``, counted before parsing (strings skipped)."""
    depth = deepest = 0
    for char in JSON_STRING.sub("", text).translate(BRACKETS):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


MAX_INT_DIGITS = 64  # far above any id (19 digits), far below int()'s 4,300-digit limit


def _bounded_int(text):
    # Before int(): a 5,000-digit number would raise past Python's conversion limit.
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidEvent(f"numbers may have at most {MAX_INT_DIGITS} digits.")
    return int(text)


def _no_constant(name):
    raise InvalidEvent(f"{name} is not a JSON number.")


def _parse_one(index, item):
    if not isinstance(item, dict):
        raise InvalidEvent(f"event {index}: must be a JSON object.")
    unknown = set(item) - REQUEST_FIELDS
    if unknown:
        raise InvalidEvent(f"event {index}: unknown field(s) {', '.join(sorted(unknown))}.")
    try:
        event_type = check_event_type(item.get("type"))
        return {
            "event_type": event_type,
            "movie_id": check_movie_id(item.get("movie_id"), event_type),
            "rating": check_rating(event_type, item.get("rating")),
            "event_id": check_event_id(item["event_id"]) if "event_id" in item else None,
            "details": check_details(item.get("details")),
        }
    except InvalidEvent as error:
        raise InvalidEvent(f"event {index}: {error}") from None


def rate_limit_retry_after(key, address, count):
    """Seconds to wait when ``count`` more events would pass the visitor's
    limit (EVENTS_RATE_LIMIT) or the client address's (EVENTS_RATE_LIMIT_PER_ADDRESS),
    else None. Counted per fixed window in the cache, which REDIS_URL shares
    between processes; a cache that is down lets events through (logged)
    rather than losing them."""
    window = settings.EVENTS_RATE_WINDOW_SECONDS
    now = time.time()
    limits = [(f"events-rate:{key}", settings.EVENTS_RATE_LIMIT)]
    if address:
        limits.append((f"events-rate-address:{address}", settings.EVENTS_RATE_LIMIT_PER_ADDRESS))
    current, elapsed = int(now // window), (now % window) / window
    # The backend once per request: each ``cache.<method>`` looks it up again.
    cache = caches[DEFAULT_CACHE_ALIAS]
    used = [_count(cache, f"{name}:{current}", count, window * 2) for name, _ in limits]
    # One read for every limit's previous window (one round trip to Redis).
    previous = _read(cache, [f"{name}:{current - 1}" for name, _ in limits])
    over = False
    for (name, limit), used_now in zip(limits, used, strict=True):
        # A sliding window: the previous window's count weighs as much of it
        # as still overlaps the last ``window`` seconds, so a burst across a
        # window's turn gets no second allowance.
        over = used_now + previous.get(f"{name}:{current - 1}", 0) * (1 - elapsed) > limit or over
    return max(1, int(window - now % window)) if over else None


def _read(cache, buckets):
    """{bucket: count} of the buckets the cache holds ({} when it cannot say)."""
    try:
        return cache.get_many(buckets)
    except Exception:  # noqa: BLE001 - Redis down or unreachable
        return {}


def _count(cache, bucket, count, window):
    """The bucket's total after adding ``count`` (0 when the cache cannot count)."""
    try:
        # incr first: the bucket exists for all but a window's first event, so that is one cache call, not two.
        try:
            return cache.incr(bucket, count)
        except ValueError:  # no bucket yet (or it just expired)
            if cache.add(bucket, count, timeout=window + 1):
                return count
            return cache.incr(bucket, count)  # another request created it meanwhile
    except Exception as error:  # noqa: BLE001 - Redis down or unreachable
        logger.warning("Rate limit not counted (%s)", error)
        return 0
