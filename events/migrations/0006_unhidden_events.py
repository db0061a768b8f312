from django.db import migrations, models

# The choices as events.models.EVENT_TYPES has them since "unhidden" (the
# Undo of "not interested"); choices only, no change to any table.
EVENT_TYPES = [
    ("click", "Poster click"), ("view", "Detail view"), ("rating", "Rating"), ("like", "Like"),
    ("not_interested", "Not interested"), ("rating_cleared", "Rating cleared"),
    ("unhidden", "Not interested taken back"), ("impression", "Impression"),
]  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("events", "0005_set_aside_events")]

    operations = [
        migrations.AlterField(
            model_name=model_name,
            name="event_type",
            field=models.CharField(choices=EVENT_TYPES, max_length=16),
        )
        for model_name in ("clickevent", "outboxevent")
    ]
