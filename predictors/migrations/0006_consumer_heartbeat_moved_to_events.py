"""ConsumerHeartbeat moved to the events app. State only: the table keeps its
name (events' model sets db_table) and its rows."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("predictors", "0005_training_runs_as_jobs"),
        ("events", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ConsumerHeartbeat")],
            database_operations=[],
        ),
    ]
