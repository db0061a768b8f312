"""The click log in DynamoDB (boto3).

The partition key is the visitor key and the sort key timestamp#event id, so
a visitor's history is one Query, newest first. DynamoDB cannot count a time
range without a table scan, so for the dashboard's counts this store also
keeps one counter item per event type and 10-minute bucket, incremented once
per batch for the events first stored in it (a redelivery does not count
again).
"""
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from django.conf import settings

from events.records import EVENT_TYPES, Event, format_timestamp, parse_timestamp
from events.stores.base import ClickLogStore, StoreUnavailable, zero_counts

logger = logging.getLogger(__name__)


COUNT_BUCKET = timedelta(minutes=10)
# Counter items share the table; no visitor key starts with "#".
COUNTER_KEY_PREFIX = "#counts#"


def bucket_start(moment):
    """The start of the 10-minute bucket ``moment`` falls in (UTC)."""
    moment = moment.astimezone(timezone.utc)
    return moment.replace(minute=moment.minute - moment.minute % 10, second=0, microsecond=0)


def count_bucket(moment):
    """The partition key of the counters of ``moment``'s bucket."""
    return COUNTER_KEY_PREFIX + format_timestamp(bucket_start(moment))


def count_buckets(since, now):
    """The counter keys of every bucket from the one holding ``since`` to the one holding ``now``."""
    keys, start = [], bucket_start(since)
    while start <= now:
        keys.append(count_bucket(start))
        start += COUNT_BUCKET
    return keys


class DynamoDbClickLogStore(ClickLogStore):
    name = "dynamodb"

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

    def write(self, events):
        events = list(events)
        if not events:
            return
        stored = [event for event, new in zip(events, self._pool.map(self._put_once, events)) if new]
        # One counter update per (bucket, type) of the batch, for the events stored just now.
        batch_counts = Counter((count_bucket(event.timestamp), event.event_type) for event in stored)
        for (bucket, event_type), count in batch_counts.items():
            self._count(bucket, event_type, count)

    def _put_once(self, event):
        """Store one event; True when it is new, False when it was stored before."""
        from botocore.exceptions import ClientError

        item = {
            "pk": {"S": event.visitor_key},
            "sk": {"S": event.sort_key},
            "event_id": {"S": event.event_id},
            "event_type": {"S": event.event_type},
            "movie_id": {"N": str(event.movie_id)},
            "ts": {"S": format_timestamp(event.timestamp)},
            "stored_at": {"S": format_timestamp(datetime.now(timezone.utc))},
        }
        if event.rating is not None:
            item["rating"] = {"N": str(event.rating)}
        try:
            self._request("write", "put_item", TableName=self.table_name, Item=item,
                          ConditionExpression="attribute_not_exists(sk)")
        except ClientError:  # the condition failed: stored before, a redelivery
            return False
        return True

    def _request(self, what, operation, **request):
        """One DynamoDB call, retried by botocore (throttling, server and
        connection errors, DYNAMODB_RETRY_MODE). A failed condition comes back
        as ClientError; any other failure is StoreUnavailable naming how many
        attempts botocore made."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client
        self._attempts.count = 0
        try:
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

    def _count(self, bucket, event_type, count):
        """Add newly stored events to a bucket's counter. Best effort: the events
        are stored already, and the dashboard's counts may only run short."""
        try:
            self._request(
                "counter update", "update_item",
                TableName=self.table_name,
                Key={"pk": {"S": bucket}, "sk": {"S": event_type}},
                UpdateExpression="ADD n :count",
                ExpressionAttributeValues={":count": {"N": str(count)}},
            )
        except StoreUnavailable as error:
            logger.warning("%d %s event(s) stored, but counter %s was not updated: %s", count, event_type, bucket, error)

    def event_counts(self, windows, now):
        """From the bucket counters: whole buckets, so a window may start up to
        10 minutes before its start. The widest window's counters are read
        once (one BatchGetItem per 100) and each counts toward every window
        its bucket falls in."""
        from botocore.exceptions import BotoCoreError, ClientError

        first_bucket = {label: count_bucket(since) for label, since in windows.items()}
        keys = [{"pk": {"S": bucket}, "sk": {"S": event_type}}
                for bucket in count_buckets(min(windows.values()), now) for event_type in EVENT_TYPES]
        counts = zero_counts(windows)
        try:
            while keys:
                request, keys = keys[:100], keys[100:]
                pending = {self.table_name: {"Keys": request, "ProjectionExpression": "pk, sk, n"}}
                while pending:
                    answer = self.client.batch_get_item(RequestItems=pending)
                    for item in answer.get("Responses", {}).get(self.table_name, []):
                        for label, first in first_bucket.items():
                            if item["pk"]["S"] >= first:  # bucket keys sort like their times
                                counts[label][item["sk"]["S"]] += int(item["n"]["N"])
                    pending = answer.get("UnprocessedKeys") or {}
        except (BotoCoreError, ClientError) as error:
            raise StoreUnavailable(f"DynamoDB read failed: {error}") from error
        return counts

    def history(self, visitor_keys, limit, event_type=None):
        from botocore.exceptions import BotoCoreError, ClientError

        found = []
        try:
            for key in visitor_keys:
                found += self._query(key, limit, event_type)
        except (BotoCoreError, ClientError) as error:
            raise StoreUnavailable(f"DynamoDB read failed: {error}") from error
        found.sort(key=lambda event: event.sort_key, reverse=True)
        return found[:limit]

    def _query(self, visitor_key, limit, event_type):
        request = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": visitor_key}},
            "ScanIndexForward": False,
        }
        if event_type:
            request["FilterExpression"] = "event_type = :type"
            request["ExpressionAttributeValues"][":type"] = {"S": event_type}
        events = []
        while len(events) < limit:
            page = self.client.query(Limit=max(limit - len(events), 1), **request)
            events += [_event_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return events[:limit]

    def create_table(self):
        """Create the table (on-demand capacity); False when it already exists."""
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
        except client.exceptions.ResourceInUseException:
            return False
        client.get_waiter("table_exists").wait(TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return True


def _event_from_item(item):
    rating = item.get("rating")
    return Event(
        event_id=item["event_id"]["S"],
        visitor_key=item["pk"]["S"],
        event_type=item["event_type"]["S"],
        movie_id=int(item["movie_id"]["N"]),
        rating=float(Decimal(rating["N"])) if rating else None,
        timestamp=parse_timestamp(item["ts"]["S"]),
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
