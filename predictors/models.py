"""The model registry: trained versions, their artifacts and metrics, and
which version of each model the site serves."""
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q
from django.utils import timezone

MODEL_CHOICES = [("gmf", "GMF"), ("mlp", "MLP"), ("neumf", "NeuMF"), ("ngcf", "NGCF")]


class ModelVersionQuerySet(models.QuerySet):
    def active(self, model_name):
        """The version of ``model_name`` the site serves, or None."""
        return self.filter(model_name=model_name, status=ModelVersion.Status.ACTIVE).first()

    def register(self, **fields):
        """Creates the next version number of ``fields['model_name']``."""
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    latest = self.filter(model_name=fields["model_name"]).aggregate(latest=Max("version"))["latest"]
                    return self.create(version=(latest or 0) + 1, **fields)
            except IntegrityError:  # another process took that number; take the next one
                continue
        raise IntegrityError(f"Could not allocate a version number for {fields['model_name']}.")


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        ACTIVE = "active"
        RETIRED = "retired"

    model_name = models.CharField(max_length=16, choices=MODEL_CHOICES)
    version = models.PositiveIntegerField()
    dataset = models.CharField(max_length=32, help_text="Dataset name, e.g. ml-100k.")
    dataset_fingerprint = models.JSONField(default=dict, help_text="Counts and sha256 of the training interactions.")
    hyperparameters = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, help_text="Per protocol: ncf, full, d2l.")
    training_seconds = models.FloatField(default=0.0)
    artifact_uri = models.CharField(max_length=1000)
    artifact_size = models.PositiveBigIntegerField(default=0)
    artifact_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    # True on the active version and NULL on all others: unique with model_name,
    # it lets the database (SQLite and MariaDB alike, no partial index needed)
    # refuse a second active version.
    active_flag = models.BooleanField(null=True, default=None, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["model_name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model_name", "version"], name="model_version_unique"),
            models.UniqueConstraint(fields=["model_name", "active_flag"], name="one_active_version_per_model"),
            models.CheckConstraint(
                condition=(
                    Q(status="active", active_flag__isnull=False, active_flag=True)
                    | (~Q(status="active") & Q(active_flag__isnull=True))
                ),
                name="active_flag_matches_status",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self):
        """How commands name a version: ``ngcf:3``."""
        return f"{self.model_name}:{self.version}"

    def activate(self):
        """Makes this the served version; the previous active one is retired."""
        with transaction.atomic():
            previous = (
                ModelVersion.objects.select_for_update()
                .filter(model_name=self.model_name, status=self.Status.ACTIVE)
                .exclude(pk=self.pk)
            )
            for version in previous:
                version.status, version.active_flag = self.Status.RETIRED, None
                version.save(update_fields=["status", "active_flag"])
            self.status, self.active_flag, self.activated_at = self.Status.ACTIVE, True, timezone.now()
            self.save(update_fields=["status", "active_flag", "activated_at"])


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    model_name = models.CharField(max_length=16, choices=MODEL_CHOICES)
    dataset = models.CharField(max_length=32)
    protocol = models.CharField(max_length=8)
    hyperparameters = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    epochs = models.JSONField(default=list, help_text="Per epoch: stage, loss, validation NDCG@10, seconds.")
    summary = models.TextField(blank=True)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.model_name} on {self.dataset} ({self.status})"
