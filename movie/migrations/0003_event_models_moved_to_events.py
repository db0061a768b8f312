"""The click-log models moved to the events app. State only: the tables keep
their names (events' models set db_table) and their rows."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("movie", "0002_visitor_events"),
        ("events", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ClickEvent"),
                migrations.DeleteModel(name="OutboxEvent"),
                migrations.DeleteModel(name="DeadLetter"),
                migrations.DeleteModel(name="VisitorLink"),
            ],
            database_operations=[],
        ),
    ]
