"""Load the reviews that ship with the site (paper_review/reviews/*.md).

Later edits to those files reach the database with `manage.py load_reviews`.
"""
from django.db import migrations


def load_reviews(apps, schema_editor):
    from paper_review.shipped import load_shipped_reviews

    load_shipped_reviews(apps.get_model("paper_review", "Paper"), apps.get_model("paper_review", "Review"))


class Migration(migrations.Migration):
    dependencies = [("paper_review", "0001_initial")]

    # Reversing keeps the rows: they may have comments by then.
    operations = [migrations.RunPython(load_reviews, migrations.RunPython.noop)]
