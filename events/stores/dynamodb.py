"""The click log in DynamoDB (boto3).

The partition key is the visitor key and the sort key timestamp#event id, so
a visitor's history is one Query, newest first. DynamoDB cannot count or
group without a scan, so the store keeps its own small items beside the
events, under partition keys starting with "#" (no visitor key does):

- ``#counts#<10-minute bucket>`` / event type: the dashboard's counters,
  incremented once per batch for the events first stored in it;
- ``#vote#<visitor>`` / ``<bucket>#<movie>``: a visitor's vote for "Popular
  now", written only if absent and expiring (TTL) once past the window;
- ``#popular#<bucket>`` / movie: distinct visitors, one more per new vote, so
  a window is one Query per bucket;
- ``#rating#<visitor>`` / movie: the visitor's newest rating (or that they
  cleared it), replaced only by a newer one, so the rating widget reads one item;
- ``#eid#<visitor>`` / event id: the sort key of the visitor's event with that
  id, written first and only if absent, so a client's retry (same id, a new
  server time, so a new sort key) is stored once.
"""

import json
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter

from django.conf import settings

from events.records import (
    EVENT_TYPES,
    RATING_TYPES,
    Event,
    format_timestamp,
    parse_timestamp,
    well_formed_ids,
)
from events.stores.base import (
    ClickLogStore,
    StoreUnavailable,
    bucket_start,
    bucket_starts,
    popularity_bucket,
    popularity_window,
    votes,
    zero_counts,
)

logger = logging.getLogger(__name__)

COUNT_BUCKET = timedelta(minutes=10)
COUNTS_PREFIX, VOTE_PREFIX, POPULAR_PREFIX, RATING_PREFIX = "#counts#", "#vote#", "#popular#", "#rating#"
EVENT_ID_PREFIX = "#eid#"
TTL_ATTRIBUTE = "expires_at"


def count_bucket(moment):
    """The partition key of the dashboard counters of ``moment``'s bucket."""
    return COUNTS_PREFIX + format_timestamp(bucket_start(moment, COUNT_BUCKET))


def key(pk, sk):
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DynamoDbClickLogStore(ClickLogStore):
    name = "dynamodb"
    approximate_counts = True

    def __init__(self, table_name=None, client=None):
        self.table_name = table_name or settings.DYNAMODB_TABLE
        self._client = None
        self._given_client = client
        self._client_lock = threading.Lock()
        self._attempts = threading.local()  # per pool thread: botocore's attempts at the current call
        # Threads start on first use; PutItem (not BatchWriteItem) because only
        # it takes a condition, so several are kept in flight.
        self._pool = ThreadPoolExecutor(settings.DYNAMODB_WRITE_CONCURRENCY, thread_name_prefix="dynamodb-put")

    @property
    def client(self):
        # Created on first use: nothing contacts AWS at import time.
        with self._client_lock:
            if self._client is None:
                client = self._given_client or dynamodb_client()
                client.meta.events.register("request-created.dynamodb", self._count_attempt)
                self._client = client
            return self._client

    def _request(self, what, operation, **request):
        """One DynamoDB call, retried by botocore (throttling, server and
        connection errors, DYNAMODB_RETRY_MODE). A failed condition comes back
        as ClientError; any other failure is StoreUnavailable naming how many
        attempts botocore made."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client
        self._attempts.count = 0
        try:
            if operation != "batch_get_item":  # the one call naming its tables in the request
                request["TableName"] = self.table_name
            return getattr(client, operation)(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise
            problem, cause = code, error
        except BotoCoreError as error:  # connection refused, timeouts
            problem, cause = type(error).__name__, error
        raise StoreUnavailable(f"DynamoDB {what} failed {self._attempts.count} times ({problem}).") from cause

    def _count_attempt(self, **kwargs):
        self._attempts.count = getattr(self._attempts, "count", 0) + 1

    def _put_if_absent(self, item):
        """True when ``item`` was written, False when its key was there already."""
        from botocore.exceptions import ClientError

        try:
            self._request("write", "put_item", Item=item, ConditionExpression="attribute_not_exists(sk)")
        except ClientError:
            return False
        return True

    def _add(self, what, pk, sk, count):
        """Add ``count`` to a counter item. Best effort: what it counts is
        stored already, and a count may only run short."""
        try:
            self._request(
                "counter update",
                "update_item",
                Key=key(pk, sk),
                UpdateExpression="ADD n :count",
                ExpressionAttributeValues={":count": {"N": str(count)}},
            )
        except StoreUnavailable as error:
            logger.warning("%d %s stored, but counter %s %s was not updated: %s", count, what, pk, sk, error)

    # --- writing ---

    def write(self, events):
        events = list(events)
        if not events:
            return
        stored = [event for event, new in zip(events, self._pool.map(self._put_event, events), strict=True) if new]
        # One counter update per (bucket, type) of the batch, for the events stored just now.
        batch_counts = Counter((count_bucket(event.timestamp), event.event_type) for event in stored)
        for (bucket, event_type), count in batch_counts.items():
            self._add(f"{event_type} event(s)", bucket, event_type, count)
        # Votes for every event, not only the new ones: a batch that failed
        # half-way and comes again still gets its votes counted, once.
        batch_votes = votes(events)
        new_votes = Counter(
            (bucket, movie_id)
            for (bucket, movie_id, _), new in zip(batch_votes, self._pool.map(self._put_vote, batch_votes), strict=True)
            if new
        )
        for (bucket, movie_id), count in new_votes.items():
            self._add("vote(s)", POPULAR_PREFIX + format_timestamp(bucket), str(movie_id), count)
        # The newest rating per visitor and movie of the batch only: fewer writes,
        # and no two conditional updates of one item in flight at once.
        newest = {}
        ratings = [event for event in events if event.event_type in RATING_TYPES]
        for event in sorted(ratings, key=attrgetter("sort_key")):
            newest[(event.visitor_key, event.movie_id)] = event
        list(self._pool.map(self._remember_rating, newest.values()))

    def _put_event(self, event):
        """True when ``event`` is stored now. The id marker goes first: when it
        is there already with another sort key, the visitor's event of that id
        was accepted before (a client retry) and this copy is dropped; with the
        same sort key this is a redelivery, and the event item is put (only if
        absent) in case the first try stopped between the two writes."""
        marker = {**key(EVENT_ID_PREFIX + event.visitor_key, event.event_id), "sort_key": {"S": event.sort_key}}
        if not self._put_if_absent(marker):
            found = self._request(
                "read",
                "get_item",
                Key=key(EVENT_ID_PREFIX + event.visitor_key, event.event_id),
                ConsistentRead=True,
                ProjectionExpression="sort_key",
            ).get("Item")
            if found and found["sort_key"]["S"] != event.sort_key:
                return False
        item = {
            **key(event.visitor_key, event.sort_key),
            "event_id": {"S": event.event_id},
            "event_type": {"S": event.event_type},
            "ts": {"S": format_timestamp(event.timestamp)},
            "stored_at": {"S": format_timestamp(datetime.now(UTC))},
        }
        if event.movie_id is not None:
            item["movie_id"] = {"N": str(event.movie_id)}
        if event.rating is not None:
            item["rating"] = {"N": str(event.rating)}
        if event.details:
            item["details"] = {"S": json.dumps(event.details, separators=(",", ":"))}
        return self._put_if_absent(item)

    def _put_vote(self, vote):
        bucket, movie_id, visitor_key = vote
        expires = bucket + popularity_window() + popularity_bucket()
        return self._put_if_absent(
            {
                **key(VOTE_PREFIX + visitor_key, f"{format_timestamp(bucket)}#{movie_id}"),
                TTL_ATTRIBUTE: {"N": str(int(expires.timestamp()))},
            }
        )

    def _remember_rating(self, event):
        """Keep ``event`` (a rating or rating_cleared) as the visitor's rating
        of its movie unless a newer one is kept."""
        from botocore.exceptions import ClientError

        values = {
            ":id": {"S": event.event_id},
            ":ts": {"S": format_timestamp(event.timestamp)},
            ":type": {"S": event.event_type},
            ":sort_key": {"S": event.sort_key},
        }
        update = "SET event_id = :id, ts = :ts, event_type = :type, sort_key = :sort_key"
        if event.rating is None:
            update += " REMOVE rating"
        else:
            update += ", rating = :rating"
            values[":rating"] = {"N": str(event.rating)}
        try:
            self._request(
                "write",
                "update_item",
                Key=key(RATING_PREFIX + event.visitor_key, str(event.movie_id)),
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(sort_key) OR sort_key < :sort_key",
                ExpressionAttributeValues=values,
            )
        except ClientError:
            pass  # a newer rating (or this one) is kept already

    # --- reading ---

    def history(self, visitor_keys, limit, event_types=None, since=None):
        found = []
        for visitor_key in visitor_keys:
            found += self._query(visitor_key, limit, event_types, since)
        found.sort(key=lambda event: event.sort_key, reverse=True)
        return found[:limit]

    def _query(self, visitor_key, limit, event_types, since):
        request = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": visitor_key}},
            "ScanIndexForward": False,
        }
        if since is not None:  # sort keys start with the time, fixed width, so they sort like it
            request["KeyConditionExpression"] += " AND sk >= :since"
            request["ExpressionAttributeValues"][":since"] = {"S": format_timestamp(since)}
        if event_types:
            names = [f":type{i}" for i in range(len(event_types))]
            request["FilterExpression"] = f"event_type IN ({', '.join(names)})"
            request["ExpressionAttributeValues"].update(
                {name: {"S": t} for name, t in zip(names, event_types, strict=True)}
            )
        events = []
        while len(events) < limit:
            page = self._request("read", "query", Limit=max(limit - len(events), 1), **request)
            events += [_event_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return events[:limit]

    def latest_rating(self, visitor_keys, movie_id):
        keys = [key(RATING_PREFIX + visitor_key, str(movie_id)) for visitor_key in dict.fromkeys(visitor_keys)]
        items = self._batch_get(keys, "pk, sk, event_id, ts, rating, sort_key, event_type")
        if not items:
            return None
        item = max(items, key=lambda found: found["sort_key"]["S"])
        rating = item.get("rating")
        return Event(
            event_id=item["event_id"]["S"],
            visitor_key=item["pk"]["S"].removeprefix(RATING_PREFIX),
            event_type=item.get("event_type", {"S": "rating"})["S"],
            movie_id=movie_id,
            rating=float(Decimal(rating["N"])) if rating else None,
            timestamp=parse_timestamp(item["ts"]["S"]),
        )

    def _batch_get(self, keys, projection):
        """The items of ``keys`` that exist, one BatchGetItem per 100 keys."""
        items = []
        while keys:
            request, keys = keys[:100], keys[100:]
            pending = {self.table_name: {"Keys": request, "ProjectionExpression": projection}}
            while pending:
                answer = self._request("read", "batch_get_item", RequestItems=pending)
                items += answer.get("Responses", {}).get(self.table_name, [])
                pending = answer.get("UnprocessedKeys") or {}
        return items

    def popular_counts(self, since, now):
        counts = Counter()
        for bucket in bucket_starts(since, now, popularity_bucket()):
            request = {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": POPULAR_PREFIX + format_timestamp(bucket)}},
            }
            while True:
                page = self._request("read", "query", **request)
                for item in page.get("Items", []):
                    counts[int(item["sk"]["S"])] += int(item["n"]["N"])
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return {movie_id: n for movie_id, n in counts.items() if n > 0}

    def event_counts(self, windows, now):
        """From the bucket counters: whole buckets, so a window may start up to
        10 minutes before its start. The widest window's counters are read
        once (one BatchGetItem per 100) and each counts toward every window
        its bucket falls in."""
        first_bucket = {label: count_bucket(since) for label, since in windows.items()}
        keys = [
            key(COUNTS_PREFIX + format_timestamp(bucket), event_type)
            for bucket in bucket_starts(min(windows.values()), now, COUNT_BUCKET)
            for event_type in EVENT_TYPES
        ]
        counts = zero_counts(windows)
        for item in self._batch_get(keys, "pk, sk, n"):
            for label, first in first_bucket.items():
                if item["pk"]["S"] >= first:  # bucket keys sort like their times
                    counts[label][item["sk"]["S"]] += int(item["n"]["N"])
        return counts

    # --- deleting ---

    def delete_visitor_events(self, visitor_key, event_ids=None):
        """See ClickLogStore. The visitor's partition is read once (their
        events, filtered to ``event_ids``), each event item deleted with its id
        marker, and the counters, votes and kept ratings adjusted."""
        if event_ids is not None:
            event_ids = set(well_formed_ids(event_ids))
            if not event_ids:
                return 0
        doomed = [
            event for event in self._whole_partition(visitor_key) if event_ids is None or event.event_id in event_ids
        ]
        gone = self._pool.map(self._delete_event, doomed)
        deleted = [event for event, removed in zip(doomed, gone, strict=True) if removed]
        for (bucket, event_type), count in Counter(
            (count_bucket(event.timestamp), event.event_type) for event in deleted
        ).items():
            self._add(f"{event_type} event(s) deleted", bucket, event_type, -count)
        remaining = [] if event_ids is None else self._whole_partition(visitor_key)
        backed = set(votes(remaining))
        for vote in votes(deleted):
            if vote not in backed and self._delete_vote(vote):
                bucket, movie_id, _ = vote
                self._add("vote(s) withdrawn", POPULAR_PREFIX + format_timestamp(bucket), str(movie_id), -1)
        self._refresh_ratings(visitor_key, deleted, remaining)
        return len(deleted)

    def _whole_partition(self, visitor_key):
        request = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": visitor_key}}}
        events = []
        while True:
            page = self._request("read", "query", **request)
            events += [_event_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return events
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete_event(self, event):
        """True when this call removed the event item (its id marker goes too)."""
        answer = self._request(
            "write", "delete_item", Key=key(event.visitor_key, event.sort_key), ReturnValues="ALL_OLD"
        )
        self._request("write", "delete_item", Key=key(EVENT_ID_PREFIX + event.visitor_key, event.event_id))
        return "Attributes" in answer

    def _delete_vote(self, vote):
        bucket, movie_id, visitor_key = vote
        answer = self._request(
            "write",
            "delete_item",
            Key=key(VOTE_PREFIX + visitor_key, f"{format_timestamp(bucket)}#{movie_id}"),
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in answer

    def _refresh_ratings(self, visitor_key, deleted, remaining):
        """The kept rating of every movie whose rating events were deleted: the
        newest remaining one, or none."""
        movies = {event.movie_id for event in deleted if event.event_type in RATING_TYPES}
        for movie_id in movies:
            self._request("write", "delete_item", Key=key(RATING_PREFIX + visitor_key, str(movie_id)))
            left = [event for event in remaining if event.event_type in RATING_TYPES and event.movie_id == movie_id]
            if left:
                self._remember_rating(max(left, key=lambda event: event.sort_key))

    # --- the table ---

    def create_table(self):
        """Create the table (on-demand capacity) with the vote items' expiry;
        False when it already exists (its expiry is switched on all the same)."""
        client = self.client
        try:
            client.create_table(
                TableName=self.table_name,
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            created = True
        except client.exceptions.ResourceInUseException:
            created = False
        client.get_waiter("table_exists").wait(TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        ttl = client.describe_time_to_live(TableName=self.table_name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=self.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
        return created


def _event_from_item(item):
    rating, movie_id, details = item.get("rating"), item.get("movie_id"), item.get("details")
    return Event(
        event_id=item["event_id"]["S"],
        visitor_key=item["pk"]["S"],
        event_type=item["event_type"]["S"],
        movie_id=int(movie_id["N"]) if movie_id else None,
        rating=float(Decimal(rating["N"])) if rating else None,
        timestamp=parse_timestamp(item["ts"]["S"]),
        details=json.loads(details["S"]) if details else {},
    )


def dynamodb_client():
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=2,
        read_timeout=5,
        # Standard mode backs off from 25 ms on errors and from 1 s on throttling, with jitter.
        retries={"mode": settings.DYNAMODB_RETRY_MODE, "total_max_attempts": settings.DYNAMODB_MAX_ATTEMPTS},
        max_pool_connections=max(10, settings.DYNAMODB_WRITE_CONCURRENCY * 2),
    )
    return boto3.client(
        "dynamodb",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=config,
    )


Store = DynamoDbClickLogStore
