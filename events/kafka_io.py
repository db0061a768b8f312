"""kafka-python plumbing shared by the web producer, the consumer and the
outbox drain. Every client is created on first use, never at import time.
"""

import logging
import queue
import threading
import time

from django.conf import settings

from events.records import to_message

logger = logging.getLogger(__name__)


def client_options():
    return {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "security_protocol": settings.KAFKA_SECURITY_PROTOCOL,
        "client_id": "movie-events",
        "bootstrap_timeout_ms": settings.KAFKA_CONNECT_TIMEOUT_MS,
    }


def new_producer(max_block_ms=5000):
    from kafka import KafkaProducer

    return KafkaProducer(
        acks="all",
        retries=settings.KAFKA_SEND_RETRIES,
        retry_backoff_ms=200,
        request_timeout_ms=5000,
        delivery_timeout_ms=15000,
        max_block_ms=max_block_ms,
        linger_ms=5,
        # One request in flight per partition keeps a visitor's events in order across retries.
        max_in_flight_requests_per_connection=1,
        # Not idempotent: the store already drops a second copy by event id, and
        # an idempotent producer turns a broker that forgot its producer ids (a
        # restart that lost data) into a fatal "InitProducerId UnknownError"
        # that fails every later send of that producer.
        enable_idempotence=False,
        **client_options(),
    )


def ensure_topic(topic=None):
    """Create the topic when the cluster does not have it yet."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    topic = topic or settings.KAFKA_TOPIC
    admin = KafkaAdminClient(request_timeout_ms=5000, **client_options())
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


def send_now(producer, events, topic=None, timeout=10):
    """Send and wait for the broker's acknowledgement of every event."""
    topic = topic or settings.KAFKA_TOPIC
    futures = []
    for event in events:
        key, value = to_message(event)
        futures.append(producer.send(topic, key=key, value=value))
    producer.flush(timeout=timeout)
    for future in futures:
        future.get(timeout=timeout)


class BackgroundPublisher:
    """Hands events to Kafka from a thread of its own.

    The web request only puts events on an in-memory queue (after they are in
    the outbox), so a broker that is down or slow never slows a page. When the
    broker cannot be reached the queued events are dropped here; their outbox
    rows are sent again by the consumer or ``drain_outbox``.
    """

    def __init__(self, topic, queue_size=10000):
        self.topic = topic
        self._queue = queue.Queue(maxsize=queue_size)
        self._producer = None
        self._failed_producer = None
        self._retry_at = 0.0
        self._thread = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, events):
        self._start()
        for event in events:
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                logger.warning("Kafka hand-over queue full; the event waits in the outbox")
                return

    def _start(self):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kafka-publisher", daemon=True)
                self._thread.start()

    def _run(self):
        while not self._closed:
            try:
                batch = [self._queue.get(timeout=0.5)]
            except queue.Empty:
                continue
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._send(batch)
            for _ in batch:
                self._queue.task_done()
        if self._producer is not None:
            close_quietly(self._producer, timeout=2)

    def _send(self, batch):
        producer = self._connected_producer()
        if producer is None:
            return  # the outbox keeps them
        try:
            for event in batch:
                key, value = to_message(event)
                producer.send(self.topic, key=key, value=value).add_errback(self._send_failed, producer)
        except Exception as error:  # broker gone mid-batch; the outbox keeps them
            self._send_failed(producer, error)

    def _send_failed(self, producer, error):
        """A send that failed for good: the event waits in the outbox. A
        non-retriable error may have left the producer unusable (a fatal
        state fails every later send), so the next batch gets a new one."""
        logger.warning("Kafka did not take an event (%s); it waits in the outbox", error)
        if not getattr(error, "retriable", False):
            self._failed_producer = producer

    def _connected_producer(self):
        if self._producer is not None and self._failed_producer is self._producer:
            logger.warning("Replacing the Kafka producer after a non-retriable error")
            close_quietly(self._producer, timeout=0)
            self._producer = self._failed_producer = None
        if self._producer is None and time.monotonic() >= self._retry_at:
            try:
                self._producer = new_producer()
            except Exception as error:
                self._retry_at = time.monotonic() + 5
                logger.warning("Kafka unreachable (%s); events wait in the outbox", error)
        return self._producer

    def flush(self, timeout=10):
        """Wait until the queue is handed over and acknowledged (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._producer is not None:
            self._producer.flush(timeout=max(0.1, deadline - time.monotonic()))

    def close(self):
        self._closed = True
        if self._thread is not None:
            self._thread.join(timeout=5)
