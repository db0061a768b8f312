"""The model registry: trained versions, their artifacts and metrics, and
which version of each model the site serves."""
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q
from django.utils import timezone

from predictors.names import MODEL_LABELS

MODEL_CHOICES = list(MODEL_LABELS.items())


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


# --- Dashboard: training jobs, served recommendations, consumer heartbeats ------------


class TrainingJob(models.Model):
    """Work an admin asked for in the dashboard, done by ``manage.py run_training_jobs``
    (training is far too slow for a web request)."""

    class Kind(models.TextChoices):
        TRAIN = "train"
        EVALUATE = "evaluate"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TRAIN)
    model_name = models.CharField(max_length=16, choices=MODEL_CHOICES)
    dataset = models.CharField(max_length=32)
    protocol = models.CharField(max_length=8, default="full")
    seed = models.IntegerField(default=0)
    hyperparameters = models.JSONField(default=dict, blank=True, help_text="Overrides of the model's defaults.")
    target = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="evaluation_jobs",
        help_text="The version to re-evaluate.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=32, blank=True, help_text="What is being trained, e.g. neumf/gmf.")
    epoch = models.PositiveIntegerField(default=0)
    max_epochs = models.PositiveIntegerField(default=0)
    last_loss = models.FloatField(null=True, blank=True)
    last_validation = models.FloatField(null=True, blank=True, help_text="Validation NDCG@10 of the last epoch.")
    message = models.TextField(blank=True)
    training_run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The registered candidate."
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True, help_text="host:pid of the worker that claimed it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When its worker last reported progress.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="trainingjob_queue_idx")]

    def __str__(self):
        what = f"re-evaluate {self.target}" if self.kind == self.Kind.EVALUATE else f"train {self.model_name}"
        return f"{what} ({self.status})"


class RecommendationImpression(models.Model):
    """One list a model page (or the API) served: what, to whom, how fast."""

    model_name = models.CharField(max_length=16)
    version_label = models.CharField(max_length=32, blank=True)
    fallback = models.CharField(max_length=16, blank=True, help_text="Why popularity stood in, if it did.")
    visitor_key = models.CharField(max_length=80, blank=True)
    movie_ids = models.JSONField(default=list)
    seconds = models.FloatField(help_text="Time serving.recommend took.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["model_name", "created_at"], name="impression_model_time_idx")]

    def __str__(self):
        return f"{self.version_label or self.model_name} -> {self.visitor_key or 'anonymous'}"


class ConsumerHeartbeat(models.Model):
    """What a running click-log consumer last reported: one row per consumer process."""

    worker = models.CharField(max_length=120, unique=True, help_text="host:pid")
    group_id = models.CharField(max_length=200)
    topic = models.CharField(max_length=200)
    lag = models.JSONField(default=dict, help_text="Per assigned partition.")
    total_lag = models.BigIntegerField(default=0)
    messages = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self):
        return f"{self.worker} ({self.group_id}): lag {self.total_lag}"
