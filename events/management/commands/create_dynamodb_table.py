from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.stores.dynamodb import DynamoDbClickLogStore


class Command(BaseCommand):
    help = "Create the DynamoDB click-log table (pk = visitor key, sk = timestamp#event id)."

    def add_arguments(self, parser):
        parser.add_argument("--table", default=None, help="Table name (default: DYNAMODB_TABLE).")

    def handle(self, *args, **options):
        from botocore.exceptions import BotoCoreError, ClientError

        store = DynamoDbClickLogStore(options["table"] or settings.DYNAMODB_TABLE)
        try:
            created = store.create_table()
        except (BotoCoreError, ClientError) as error:
            raise CommandError(f"Could not create table {store.table_name}: {error}") from None
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created DynamoDB table {store.table_name}."))
        else:
            self.stdout.write(f"DynamoDB table {store.table_name} already exists; nothing to do.")
