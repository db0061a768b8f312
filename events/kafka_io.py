"""kafka-python plumbing shared by the web producer, the consumer and the
outbox drain. Every client is created on first use, never at import time.
"""

import logging
import threading
import time

from django.conf import settings

from events.records import to_message, to_messages

logger = logging.getLogger(__name__)


def client_options():
    return {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "security_protocol": settings.KAFKA_SECURITY_PROTOCOL,
        "client_id": "movie-events",
        "bootstrap_timeout_ms": settings.KAFKA_CONNECT_TIMEOUT_MS,
    }


def new_producer(max_block_ms=5000, bootstrap_timeout_ms=None, linger_ms=None):
    """kafka-python's idempotent producer (acks=all): its own retries after a
    lost acknowledgement do not put an event on the topic twice. The tansu
    broker supports it (InitProducerId); a broker that forgot its producer ids
    (a restart that lost data) makes it fail for good, and ConfirmedSender
    then replaces it. ``linger_ms`` defaults to KAFKA_LINGER_MS."""
    from kafka import KafkaProducer

    options = client_options()
    if bootstrap_timeout_ms is not None:
        options["bootstrap_timeout_ms"] = bootstrap_timeout_ms
    return KafkaProducer(
        acks="all",
        retries=settings.KAFKA_SEND_RETRIES,
        retry_backoff_ms=100,
        # kafka-python wants the delivery timeout above linger + request timeout.
        request_timeout_ms=min(5000, settings.KAFKA_DELIVERY_TIMEOUT_MS // 2),
        delivery_timeout_ms=settings.KAFKA_DELIVERY_TIMEOUT_MS,
        max_block_ms=max_block_ms,
        linger_ms=settings.KAFKA_LINGER_MS if linger_ms is None else linger_ms,
        enable_idempotence=True,
        # With idempotence up to 5 requests in flight keep a partition's order.
        max_in_flight_requests_per_connection=5,
        **options,
    )


def ensure_topic(topic=None, timeout_ms=None):
    """Create the topic when the cluster does not have it yet."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    topic = topic or settings.KAFKA_TOPIC
    options = client_options()
    if timeout_ms is not None:
        options["bootstrap_timeout_ms"] = timeout_ms
    admin = KafkaAdminClient(request_timeout_ms=min(5000, timeout_ms or 5000), **options)
    try:
        if topic not in admin.list_topics():
            admin.create_topics([NewTopic(topic, settings.KAFKA_TOPIC_PARTITIONS, settings.KAFKA_TOPIC_REPLICATION)])
            logger.info("Created Kafka topic %s", topic)
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def close_quietly(producer, timeout):
    """Close a producer without raising. kafka-python's close() first flushes
    and raises KafkaTimeoutError while records are still pending (broker down),
    leaving its network thread running; stop that thread the way close()
    itself does when its own timeout runs out."""
    from kafka.errors import KafkaError

    try:
        producer.close(timeout=timeout)
    except KafkaError as error:
        logger.warning("Kafka producer closed with records undelivered (%s); they wait in the outbox", error)
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()


OUTBOX_HEADER = "outbox"


def send_now(producer, events, topic=None, timeout=10, from_outbox=False):
    """Send and wait for the broker's acknowledgement of every event; raises
    KafkaError (KafkaTimeoutError after ``timeout`` s) when one is not
    acknowledged. Messages re-sent from the outbox carry the "outbox" header,
    so the consumer deletes outbox rows only for them."""
    topic = topic or settings.KAFKA_TOPIC
    headers = [(OUTBOX_HEADER, b"1")] if from_outbox else None
    deadline = time.monotonic() + timeout
    futures = []
    for event in events:
        key, value = to_message(event)
        futures.append(producer.send(topic, key=key, value=value, headers=headers))
    for future in futures:
        future.get(timeout=max(0.001, deadline - time.monotonic()))


def failed_within_retry(failed_at):
    """Whether a failure at monotonic time ``failed_at`` (None: none) is less than KAFKA_RETRY_SECONDS old."""
    return failed_at is not None and time.monotonic() - failed_at < settings.KAFKA_RETRY_SECONDS


class ConfirmedSender:
    """The one path by which events reach the topic, for the web request and
    for the outbox resend: one idempotent producer per process, each send
    waiting for the broker's acknowledgement (or failing within ``timeout``).

    After a failure the sender reports ``recently_failed`` for
    KAFKA_RETRY_SECONDS, so a request does not wait on a broker known to be
    down (its events go to the outbox at once), and a producer that failed
    with a non-retriable error is replaced before the next send.
    """

    def __init__(self, topic=None, timeout=None, linger_ms=None):
        self.topic = topic or settings.KAFKA_TOPIC
        self.timeout = timeout if timeout is not None else settings.KAFKA_ACK_TIMEOUT_MS / 1000
        self.linger_ms = linger_ms
        self._producer = None
        self._lock = threading.Lock()
        self._failed_at = None
        self._broken = None
        self.failures = 0

    def recently_failed(self):
        return failed_within_retry(self._failed_at)

    def send(self, events, from_outbox=False, timeout=None):
        """Every event acknowledged, or KafkaError (nothing is known to be on the topic)."""
        from kafka.errors import KafkaError

        producer = self._connected()
        try:
            send_now(producer, events, self.topic, timeout or self.timeout, from_outbox=from_outbox)
        except KafkaError as error:
            self._failed(producer, error)
            raise
        except Exception as error:  # a closed producer raises plain errors; report it like Kafka's
            self._failed(producer, error)
            raise KafkaError(str(error)) from error
        self._failed_at = None

    def hand_off(self, events, settled, messages=None):
        """Queue ``events`` (``messages``: their to_message pairs, when the
        caller has them) for the topic without waiting. ``settled(event,
        error)`` is called once per event handed over, from the producer's
        thread: error None once acknowledged. Raises KafkaError with the index
        of the first event not handed over (``error.unsent_from``)."""
        from kafka.errors import KafkaError

        producer = self._connected()
        messages = to_messages(events, messages)
        for index, (event, (key, value)) in enumerate(zip(events, messages, strict=True)):
            try:
                future = producer.send(self.topic, key=key, value=value)
            except Exception as error:  # noqa: BLE001 - a closed producer raises plain errors
                self._failed(producer, error)
                failure = error if isinstance(error, KafkaError) else KafkaError(str(error))
                failure.unsent_from = index
                raise failure from error
            future.add_callback(lambda _metadata, event=event: settled(event, None))
            future.add_errback(
                lambda error, event=event, producer=producer: self._refused(producer, event, error, settled)
            )

    def _refused(self, producer, event, error, settled):
        # In the producer's own thread: note the failure, leave replacing a
        # broken producer to the next request (closing it here would join this thread).
        self._failed_at = time.monotonic()
        self.failures += 1
        logger.warning("Kafka did not acknowledge a handed-off event (%r); it goes to the outbox", error)
        if not getattr(error, "retriable", False):
            self._broken = producer
        settled(event, error)

    def _connected(self):
        from kafka.errors import KafkaError

        with self._lock:
            broken, self._broken = self._broken, None
            if broken is not None and broken is self._producer:
                logger.warning("Kafka producer failed for good; replacing it")
                self._producer = None
                close_quietly(broken, timeout=0)
            if self._producer is None:
                timeout_ms = int(self.timeout * 1000)
                try:
                    self._producer = new_producer(
                        max_block_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms, linger_ms=self.linger_ms
                    )
                except Exception as error:
                    self._failed_at = time.monotonic()
                    self.failures += 1
                    if isinstance(error, KafkaError):
                        raise
                    raise KafkaError(str(error)) from error
            return self._producer

    def _failed(self, producer, error):
        self._failed_at = time.monotonic()
        self.failures += 1
        logger.warning("Kafka did not acknowledge an event (%s); it waits in the outbox", error)
        if not getattr(error, "retriable", False):
            with self._lock:
                if self._producer is producer:
                    self._producer = None
            close_quietly(producer, timeout=0)

    def close(self):
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            close_quietly(producer, timeout=2)
