"""Send (or, without a broker, store) the outbox rows that are overdue.

The consumer does this by itself whenever it has caught up; run this when no
consumer is running, e.g. after a store outage in inline mode.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from kafka.errors import KafkaError

from events import outbox
from events.kafka_io import new_producer, send_now
from events.stores import StoreUnavailable, get_store


class Command(BaseCommand):
    help = "Send overdue outbox events to Kafka, or write them to the store when no broker is configured."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Include rows handed over only moments ago.")

    def handle(self, *args, **options):
        # A fixed cutoff: rows this run sends are not picked up again by it.
        wait = 0 if options["all"] else settings.EVENTS_OUTBOX_RESEND_SECONDS
        cutoff = timezone.now() - timedelta(seconds=wait)
        before = outbox.size()
        total = 0
        try:
            if settings.KAFKA_BOOTSTRAP_SERVERS:
                producer = new_producer()
                try:
                    send = lambda due: send_now(producer, due, from_outbox=True)  # noqa: E731
                    while count := outbox.resend_due(send, sent_before=cutoff):
                        total += count
                finally:
                    producer.close(timeout=5)
                verb = "sent to Kafka (they leave the outbox once the consumer stores them)"
            else:
                while count := outbox.store_due(get_store(), sent_before=cutoff):
                    total += count
                verb = "written to the store"
        except StoreUnavailable as error:
            raise CommandError(
                f"The store is still unavailable ({error}); {total} of {before} events were drained."
            ) from None
        except KafkaError as error:
            raise CommandError(f"Kafka is still unreachable ({error}); {total} of {before} events were sent.") from None
        self.stdout.write(self.style.SUCCESS(f"{total} of {before} outbox events {verb}."))
