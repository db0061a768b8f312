"""EASE joins the site's models, and its review ships: a site migrated before
gets the new review; the ones it has, edited or not, are left as they are."""
from django.db import migrations, models

import paper_review.models


def load_new_reviews(apps, schema_editor):
    from paper_review.shipped import load_shipped_reviews

    load_shipped_reviews(apps.get_model("paper_review", "Paper"), apps.get_model("paper_review", "Review"), only_missing=True)


class Migration(migrations.Migration):
    dependencies = [("paper_review", "0002_ship_reviews")]

    operations = [
        migrations.AlterField(
            model_name="paper",
            name="site_models",
            field=models.CharField(blank=True, help_text="Comma list of the site's models that implement this paper: gmf, mlp, neumf, ngcf, ease",
                                   max_length=100, validators=[paper_review.models.validate_site_models]),
        ),
        migrations.RunPython(load_new_reviews, migrations.RunPython.noop),
    ]
