"""Run the click-log writer: Kafka topic -> click-log store (see events/consumer.py)."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from kafka.errors import KafkaError

from events.consumer import ClickLogConsumer
from events.stores import StoreUnavailable


class Command(BaseCommand):
    help = "Consume visitor events from Kafka into the click-log store until SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="Most messages per poll.")
        parser.add_argument(
            "--progress-seconds", type=float, default=10.0, help="How often to report progress and lag."
        )
        parser.add_argument(
            "--max-seconds", type=float, default=None, help="Stop after this long (default: run until signalled)."
        )
        parser.add_argument("--group", default=None, help="Consumer group (default: KAFKA_CONSUMER_GROUP).")

    def handle(self, *args, **options):
        if not settings.KAFKA_BOOTSTRAP_SERVERS:
            raise CommandError(
                "KAFKA_BOOTSTRAP_SERVERS is not set: without a broker events are written inline "
                "and there is nothing to consume."
            )
        consumer = ClickLogConsumer(
            group_id=options["group"],
            max_records=options["batch_size"],
            progress_seconds=options["progress_seconds"],
            report=lambda line: self.stdout.write(line),
        )
        previous = {sig: signal.signal(sig, lambda *_: consumer.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(
            f"Consuming {consumer.topic} as group {consumer.group_id} into the {consumer.store.name} store."
        )
        try:
            stats = consumer.run(max_seconds=options["max_seconds"])
        except (StoreUnavailable, DatabaseError) as error:
            raise CommandError(
                f"Stopped while the store was unavailable ({error}); the uncommitted batch will be consumed again."
            ) from None
        except KafkaError as error:
            raise CommandError(
                f"Kafka at {', '.join(settings.KAFKA_BOOTSTRAP_SERVERS)} is unreachable ({error})."
            ) from None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(self.style.SUCCESS(f"Stopped: {stats.summary()}."))
