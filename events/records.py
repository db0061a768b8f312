"""The shape of one visitor event, shared by the endpoint, the producers, the
consumer and the stores, and its JSON form on the Kafka topic.

A message is a JSON object carrying ``schema`` (the version below), so the
consumer can recognise, and dead-letter, anything it does not understand.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sitewide.numbers import MAX_ID

SCHEMA_VERSION = 1
# like: a positive without stars (onboarding picks); not_interested: hide the
# movie, a negative; rating_cleared: the visitor took their rating back;
# unhidden: the Undo of a "not interested" (appended rather than deleting it,
# so that a not_interested still on its way to the store cannot hide the
# movie again); like_cleared: the Undo of a like, appended for the same
# reason; impression: what an experiment showed (its list is in
# details, no movie_id).
EVENT_TYPES = (
    "click",
    "view",
    "rating",
    "like",
    "not_interested",
    "rating_cleared",
    "unhidden",
    "like_cleared",
    "impression",
)
# The events that count as a visitor's engagement with a movie for "Popular now".
VOTING_TYPES = frozenset({"click", "view", "rating", "like"})
# Events about the visitor's rating of a movie; the newest one decides it.
RATING_TYPES = ("rating", "rating_cleared")
MOVIE_OPTIONAL_TYPES = frozenset({"impression"})
MIN_RATING, MAX_RATING = 0.5, 5.0
MAX_MOVIE_ID = MAX_ID
MAX_DETAILS_BYTES = 2048
MAX_DETAILS_DEPTH = 3  # the details object itself is depth 1
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class InvalidEvent(ValueError):
    """The event breaks a rule; the message says which, in words a client can act on."""


@dataclass(frozen=True)
class Event:
    event_id: str
    visitor_key: str
    event_type: str
    movie_id: int | None  # None only for an impression
    rating: float | None
    timestamp: datetime  # aware, UTC, microseconds: two events in one second stay apart
    details: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def sort_key(self):
        """Orders events in time, and apart when they share a timestamp (text, for DynamoDB's sort keys)."""
        return f"{format_timestamp(self.timestamp)}#{self.event_id}"

    @property
    def time_order(self):
        """sort_key's order without formatting the time: what in-process sorts compare."""
        return (self.timestamp, self.event_id)


def new_event(visitor_key, event_type, movie_id, rating=None, now=None, event_id=None, details=None):
    """An Event accepted now; ``event_id`` is the client's when it sent one."""
    return Event(
        event_id=event_id or str(uuid.uuid4()),
        visitor_key=visitor_key,
        event_type=event_type,
        movie_id=movie_id,
        rating=rating,
        timestamp=now or datetime.now(UTC),
        details=details or {},
    )


TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_timestamp(moment):
    # Fixed width, so the text sorts like the time (DynamoDB sort keys rely on
    # it): TIMESTAMP_FORMAT with the year always four digits, by isoformat,
    # which costs a tenth of strftime (once per message on the topic).
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text):
    """The aware UTC datetime of TIMESTAMP_FORMAT ``text``; ValueError otherwise."""
    # format_timestamp's own form by fromisoformat (60x faster than strptime,
    # once per consumed message); anything else gets strptime's exact rules.
    if len(text) == 27 and text[10] == "T" and text[19] == "." and text[26] == "Z" and text[20:26].isdigit():
        parsed = datetime.fromisoformat(text[:26])
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def check_event_type(value):
    if value not in EVENT_TYPES:
        raise InvalidEvent(f"type must be one of {', '.join(EVENT_TYPES)}; got {_shown(value)}.")
    return value


def check_movie_id(value, event_type=None):
    """A positive whole number; an impression may have none (None)."""
    if value is None and event_type in MOVIE_OPTIONAL_TYPES:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_MOVIE_ID:
        raise InvalidEvent(f"movie_id must be a positive whole number; got {_shown(value)}.")
    return value


def check_event_id(value):
    """A client's event id: a UUID in its usual 8-4-4-4-12 hex form, returned lower-case."""
    if not isinstance(value, str) or not UUID_PATTERN.fullmatch(value):
        raise InvalidEvent(f"event_id must be a UUID (8-4-4-4-12 hex digits); got {_shown(value)}.")
    return value.lower()


def canonical_uuid(value):
    """``value`` as a UUID's lower-case 8-4-4-4-12 text; ValueError when it names none."""
    if isinstance(value, str) and UUID_PATTERN.fullmatch(value) and value.islower():
        return value  # the form every producer writes: uuid.UUID would only rebuild it (once per consumed message)
    return str(uuid.UUID(str(value)))


def well_formed_ids(event_ids):
    """The ids in ``event_ids`` that could name a stored event (UUIDs), lower-case; others cannot match any."""
    return sorted({str(event_id).lower() for event_id in event_ids if UUID_PATTERN.fullmatch(str(event_id))})


def check_details(value):
    """An optional JSON object of at most MAX_DETAILS_BYTES serialized and
    MAX_DETAILS_DEPTH levels of nesting; None means {}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidEvent("details must be a JSON object.")
    if not value:
        return value  # most events carry none: no need to serialize them to measure
    if _depth(value) > MAX_DETAILS_DEPTH:
        raise InvalidEvent(f"details may nest at most {MAX_DETAILS_DEPTH} levels deep.")
    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode())
    except UnicodeEncodeError:
        # Half of a UTF-16 pair ("\ud800"): no text, and MySQL's JSON check refuses it.
        raise InvalidEvent("details must hold only text that is valid Unicode.") from None
    except ValueError:
        raise InvalidEvent("details must hold only finite numbers.") from None
    if size > MAX_DETAILS_BYTES:
        raise InvalidEvent(f"details must be at most {MAX_DETAILS_BYTES} bytes as JSON; got {size}.")
    return value


def _depth(value):
    """Levels of objects and lists in ``value`` (a scalar is 0); stops counting past the limit."""
    if isinstance(value, dict):
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return 0
    deepest = 0
    for child in children:
        deepest = max(deepest, _depth(child))
        if deepest >= MAX_DETAILS_DEPTH:
            break
    return 1 + deepest


def _shown(value):
    """A client's value for an error message, cut short (a 5,000-digit number stays readable)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for str()
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def check_rating(event_type, value):
    """A rating event needs 0.5 to 5 in half steps; other events carry none."""
    if event_type != "rating":
        if value is not None:
            raise InvalidEvent(f"a {event_type} event carries no rating.")
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidEvent(f"rating must be a number from {MIN_RATING} to {MAX_RATING:g}; got {_shown(value)}.")
    # The range first: it compares a huge int without converting it, and refuses NaN and infinity.
    if not MIN_RATING <= value <= MAX_RATING or (value * 2) != int(value * 2):
        raise InvalidEvent(f"rating must be from {MIN_RATING} to {MAX_RATING:g} in steps of 0.5; got {_shown(value)}.")
    return float(value)


def to_message(event):
    """(key, value) bytes for the topic; the key keeps a visitor on one partition."""
    body = {
        "schema": SCHEMA_VERSION,
        "event_id": event.event_id,
        "visitor_key": event.visitor_key,
        "event_type": event.event_type,
        "movie_id": event.movie_id,
        "rating": event.rating,
        "timestamp": format_timestamp(event.timestamp),
        "details": event.details,
    }
    return event.visitor_key.encode(), json.dumps(body, separators=(",", ":")).encode()


def to_messages(events, messages=None):
    """``messages`` when the caller already has the events' to_message pairs, else them."""
    return [to_message(event) for event in events] if messages is None else messages


def from_message(value):
    """The Event in a topic message; InvalidEvent says why a message is unusable."""
    try:
        body = json.loads(value)
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEvent(f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidEvent("not a JSON object.")
    if body.get("schema") != SCHEMA_VERSION:
        raise InvalidEvent(f"unknown schema version {body.get('schema')!r}.")
    try:
        event_id = canonical_uuid(body["event_id"])
        visitor_key = body["visitor_key"]
        timestamp = parse_timestamp(body["timestamp"])
        event_type = check_event_type(body["event_type"])
        movie_id = check_movie_id(body.get("movie_id"), event_type)
        rating = check_rating(event_type, body.get("rating"))
        details = check_details(body.get("details"))
    except KeyError as missing:
        raise InvalidEvent(f"missing field {missing}.") from None
    except (TypeError, ValueError) as error:
        raise InvalidEvent(str(error)) from None
    if not isinstance(visitor_key, str) or not 0 < len(visitor_key) <= 80 or visitor_key.startswith("#"):
        # Keys starting with "#" name the DynamoDB store's own counter items.
        raise InvalidEvent("visitor_key must be a short non-empty string not starting with '#'.")
    return Event(event_id, visitor_key, event_type, movie_id, rating, timestamp, details)
