from django.db import migrations, models

# The choices as events.models.EVENT_TYPES has them since "like_cleared" (the
# Undo of an onboarding pick); choices only, no change to any table.
EVENT_TYPES = [
    ("click", "Poster click"), ("view", "Detail view"), ("rating", "Rating"), ("like", "Like"),
    ("not_interested", "Not interested"), ("rating_cleared", "Rating cleared"),
    ("unhidden", "Not interested taken back"), ("like_cleared", "Like taken back"), ("impression", "Impression"),
]  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("events", "0006_unhidden_events")]

    operations = [
        migrations.AlterField("clickevent", "event_type", models.CharField(choices=EVENT_TYPES, max_length=16)),
        migrations.AlterField("outboxevent", "event_type", models.CharField(choices=EVENT_TYPES, max_length=16)),
    ]
