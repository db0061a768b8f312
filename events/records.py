"""The shape of one visitor event, shared by the endpoint, the producers, the
consumer and the stores, and its JSON form on the Kafka topic.

A message is a JSON object carrying ``schema`` (the version below), so the
consumer can recognise, and dead-letter, anything it does not understand.
"""

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

SCHEMA_VERSION = 1
EVENT_TYPES = ("click", "view", "rating")
MIN_RATING, MAX_RATING = 0.5, 5.0
# The largest primary key every supported database stores (signed 64-bit).
MAX_MOVIE_ID = 2**63 - 1


class InvalidEvent(ValueError):
    """The event breaks a rule; the message says which, in words a client can act on."""


@dataclass(frozen=True)
class Event:
    event_id: str
    visitor_key: str
    event_type: str
    movie_id: int
    rating: float | None
    timestamp: datetime  # aware, UTC, microseconds: two events in one second stay apart

    @property
    def sort_key(self):
        """Orders events in time, and apart when they share a timestamp."""
        return f"{format_timestamp(self.timestamp)}#{self.event_id}"


def new_event(visitor_key, event_type, movie_id, rating=None, now=None):
    return Event(
        event_id=str(uuid.uuid4()),
        visitor_key=visitor_key,
        event_type=event_type,
        movie_id=movie_id,
        rating=rating,
        timestamp=now or datetime.now(UTC),
    )


def format_timestamp(moment):
    # Fixed width, so the text sorts like the time (DynamoDB sort keys rely on it).
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def check_event_type(value):
    if value not in EVENT_TYPES:
        raise InvalidEvent(f"type must be one of {', '.join(EVENT_TYPES)}; got {value!r}.")
    return value


def check_movie_id(value):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_MOVIE_ID:
        raise InvalidEvent(f"movie_id must be a positive whole number; got {value!r}.")
    return value


def check_rating(event_type, value):
    """A rating event needs 0.5 to 5 in half steps; other events carry none."""
    if event_type != "rating":
        if value is not None:
            raise InvalidEvent(f"a {event_type} event carries no rating.")
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidEvent(f"rating must be a number from {MIN_RATING} to {MAX_RATING:g}; got {value!r}.")
    if not MIN_RATING <= value <= MAX_RATING or (value * 2) != int(value * 2):
        raise InvalidEvent(f"rating must be from {MIN_RATING} to {MAX_RATING:g} in steps of 0.5; got {value!r}.")
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
    }
    return event.visitor_key.encode(), json.dumps(body, separators=(",", ":")).encode()


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
        event_id = str(uuid.UUID(str(body["event_id"])))
        visitor_key = body["visitor_key"]
        timestamp = parse_timestamp(body["timestamp"])
        event_type = check_event_type(body["event_type"])
        movie_id = check_movie_id(body["movie_id"])
        rating = check_rating(event_type, body.get("rating"))
    except KeyError as missing:
        raise InvalidEvent(f"missing field {missing}.") from None
    except (TypeError, ValueError) as error:
        raise InvalidEvent(str(error)) from None
    if not isinstance(visitor_key, str) or not 0 < len(visitor_key) <= 80 or visitor_key.startswith("#"):
        # Keys starting with "#" name the DynamoDB store's own counter items.
        raise InvalidEvent("visitor_key must be a short non-empty string not starting with '#'.")
    return Event(event_id, visitor_key, event_type, movie_id, rating, timestamp)
