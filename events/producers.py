"""How an accepted event travels: straight into the click-log store
(``InlineProducer``, no broker) or through the outbox to Kafka
(``KafkaEventProducer``), chosen by KAFKA_BOOTSTRAP_SERVERS.
"""

import logging
import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from events import outbox
from events.stores import StoreUnavailable, get_store, reset_store

logger = logging.getLogger(__name__)


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
        from events.kafka_io import BackgroundPublisher

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


@receiver(setting_changed, dispatch_uid="events.producers.reset")
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
