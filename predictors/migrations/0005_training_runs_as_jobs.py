"""Training jobs go through django-tasks; TrainingRun keeps what a job row kept
(who asked, progress, the worker) and a version keeps its baselines and what
its served artifact was fitted on."""
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def created_when_started(apps, schema_editor):
    TrainingRun = apps.get_model("predictors", "TrainingRun")
    TrainingRun.objects.filter(started_at__isnull=False).update(created_at=models.F("started_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("predictors", "0004_ease_model_choice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="modelversion",
            name="metrics",
            field=models.JSONField(default=dict, help_text="Per protocol: ncf, full, d2l; measured on the evaluation split."),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="baselines",
            field=models.JSONField(
                blank=True, default=dict,
                help_text="Popularity and implicit ALS on the same split: {baseline: {protocol: metrics}}.",
            ),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="fitted_on",
            field=models.JSONField(
                blank=True, default=dict,
                help_text="What the served artifact was fitted on: interactions, users, items, epochs.",
            ),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="kind",
            field=models.CharField(choices=[("train", "Train"), ("evaluate", "Evaluate")], default="train", max_length=16),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="protocol",
            field=models.CharField(default="full", max_length=8),
        ),
        migrations.AddField(model_name="trainingrun", name="seed", field=models.IntegerField(default=0)),
        migrations.AddField(
            model_name="trainingrun",
            name="overrides",
            field=models.JSONField(blank=True, default=dict, help_text="Hyper-parameters asked for over the model's defaults."),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="hyperparameters",
            field=models.JSONField(default=dict, help_text="All the hyper-parameters it trained with."),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="target",
            field=models.ForeignKey(
                blank=True, help_text="The version to re-evaluate.", null=True,
                on_delete=django.db.models.deletion.CASCADE, related_name="evaluation_runs", to="predictors.modelversion",
            ),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="status",
            field=models.CharField(
                choices=[("queued", "Queued"), ("running", "Running"), ("finished", "Finished"), ("failed", "Failed")],
                default="queued", max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="stage",
            field=models.CharField(blank=True, help_text="What is being trained, e.g. neumf/gmf.", max_length=32),
        ),
        migrations.AddField(model_name="trainingrun", name="epoch", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="trainingrun", name="max_epochs", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="trainingrun", name="last_loss", field=models.FloatField(blank=True, null=True)),
        migrations.AddField(
            model_name="trainingrun",
            name="last_validation",
            field=models.FloatField(blank=True, help_text="Validation NDCG@10 of the last epoch.", null=True),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="epochs",
            field=models.JSONField(
                default=list, help_text="Per epoch of the evaluation fit: stage, loss, validation NDCG@10, seconds."
            ),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="task_id",
            field=models.CharField(blank=True, help_text="The django-tasks result that runs it, if queued.", max_length=64),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="requested_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="worker",
            field=models.CharField(blank=True, help_text="host:pid of the process running it.", max_length=120),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, help_text="When it last reported progress.", null=True),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(created_when_started, migrations.RunPython.noop),
        migrations.AlterModelOptions(name="trainingrun", options={"ordering": ["-created_at", "-pk"]}),
        migrations.AddIndex(
            model_name="trainingrun",
            index=models.Index(fields=["status", "created_at"], name="trainingrun_status_idx"),
        ),
        # Its rows were requests; each one that ran has its TrainingRun.
        migrations.DeleteModel(name="TrainingJob"),
    ]
