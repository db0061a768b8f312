"""Run the click-log writer: Kafka topic -> click-log store (see events/consumer.py).

A broker that is down or unreachable is waited for, however long; a setting
that no wait can fix (a malformed address, an unknown security protocol)
ends the command at once with a sentence and exit status 1.
"""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from kafka.cluster import collect_hosts
from kafka.errors import KafkaError

from events.consumer import ClickLogConsumer
from events.stores import StoreUnavailable

# What kafka-python accepts; anything else is never answered and times out on every attempt.
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def configuration_error():
    """The sentence for a Kafka setting that retrying cannot heal, else None.
    (A host name that does not resolve is waited for: DNS and brokers come and go.)"""
    protocol = settings.KAFKA_SECURITY_PROTOCOL
    if protocol not in SECURITY_PROTOCOLS:
        return f"KAFKA_SECURITY_PROTOCOL is {protocol!r}, which is not one of {', '.join(SECURITY_PROTOCOLS)}."
    for address in settings.KAFKA_BOOTSTRAP_SERVERS:
        try:
            [(host, port, _)] = collect_hosts([address])  # kafka-python's own reading of it
        except ValueError:
            host, port = None, None
        if not host or not 0 < port < 65536:
            return (
                f"KAFKA_BOOTSTRAP_SERVERS has {address!r}, which is not host:port "
                "(a host name or IP address, a port from 1 to 65535)."
            )
    return None


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
        problem = configuration_error()
        if problem:
            raise CommandError(problem)
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
