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

    def previously_active(self, model_name):
        """The version served before the current one: the most recently
        activated version of ``model_name`` that is no longer active."""
        return (
            self.filter(model_name=model_name, activated_at__isnull=False)
            .exclude(status=ModelVersion.Status.ACTIVE)
            .order_by("-activated_at")
            .first()
        )

    def roll_back(self, model_name):
        """Serves again the version served before the current one; returns
        (the version it replaced or None, the version now served). The rolled-back
        version was served before, so the quality gate does not stop it; a
        damaged artifact does."""
        target = self.previously_active(model_name)
        if target is None:
            raise RegistryRuleError(f"{model_name} has no earlier active version to roll back to.")
        current = self.active(model_name)
        target.activate(force=True, verify_artifact=True)
        return current, target


class RegistryRuleError(Exception):
    """A registry change its rules refuse; the message is one sentence for the user."""


class ActivationRefused(RegistryRuleError):
    def __init__(self, version, reason):
        self.version, self.reason = version, reason
        super().__init__(f"Refused to activate {version.label}: {reason}")


def ndcg_at_10(metrics):
    """NDCG@10 of one set of metrics: the full-ranking protocol's, else the ncf protocol's."""
    for protocol in ("full", "ncf"):
        value = (metrics or {}).get(protocol, {}).get("ndcg@10")
        if isinstance(value, (int, float)):
            return value
    return None


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
    metrics = models.JSONField(
        default=dict, help_text="Per protocol: ncf, full, d2l; measured on the evaluation split."
    )
    baselines = models.JSONField(
        default=dict,
        blank=True,
        help_text="Popularity and implicit ALS on the same split: {baseline: {protocol: metrics}}.",
    )
    fitted_on = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the served artifact was fitted on: interactions, users, items, epochs.",
    )
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

    @property
    def ndcg_at_10(self):
        return ndcg_at_10(self.metrics)

    @property
    def popularity_ndcg_at_10(self):
        """Popularity's NDCG@10 on this version's split, None when it was not measured."""
        return ndcg_at_10((self.baselines or {}).get("popularity"))

    def below_popularity(self):
        own, popularity = self.ndcg_at_10, self.popularity_ndcg_at_10
        return own is not None and popularity is not None and own < popularity

    def worse_than(self, other):
        """True when ``other`` (say the active version) has the higher NDCG@10."""
        own, theirs = self.ndcg_at_10, other.ndcg_at_10 if other is not None else None
        return own is not None and theirs is not None and own < theirs

    def artifact_problem(self):
        """None when the artifact loads with its recorded sha256, else why not."""
        from predictors.artifacts import ArtifactError, load

        try:
            load(self.artifact_uri, self.artifact_sha256)
        except ArtifactError as error:
            return str(error)
        except Exception as error:  # an unreachable S3 store, a permission problem, ...
            return f"Artifact {self.artifact_uri} cannot be read: {error}"
        return None

    def activate(self, force=False, verify_artifact=False):
        """Makes this the served version; the previous active one is retired.
        Refuses (ActivationRefused) a version whose NDCG@10 is below
        popularity's on its own split unless ``force``, and with
        ``verify_artifact`` one whose artifact does not load."""
        if not force and self.below_popularity():
            raise ActivationRefused(
                self,
                f"its NDCG@10 ({self.ndcg_at_10:.4f}) is below popularity's ({self.popularity_ndcg_at_10:.4f}) "
                "on the same split",
            )
        problem = self.artifact_problem() if verify_artifact else None
        if problem:
            raise ActivationRefused(self, problem)
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

    def retire(self):
        """Takes this version out of service; True when it was the served one
        (its model then serves the popular list until another is activated)."""
        was_active = self.status == self.Status.ACTIVE
        self.status, self.active_flag = self.Status.RETIRED, None
        self.save(update_fields=["status", "active_flag"])
        return was_active


class TrainingRun(models.Model):
    """One training or re-evaluation and its progress. The admin's form queues
    one (the job worker runs it through django-tasks); train_model runs one at
    once. Either way the training service writes its progress here."""

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
    overrides = models.JSONField(
        default=dict, blank=True, help_text="Hyper-parameters asked for over the model's defaults."
    )
    hyperparameters = models.JSONField(default=dict, help_text="All the hyper-parameters it trained with.")
    target = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="evaluation_runs",
        help_text="The version to re-evaluate.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=32, blank=True, help_text="What is being trained, e.g. neumf/gmf.")
    epoch = models.PositiveIntegerField(default=0)
    max_epochs = models.PositiveIntegerField(default=0)
    last_loss = models.FloatField(null=True, blank=True)
    last_validation = models.FloatField(null=True, blank=True, help_text="Validation NDCG@10 of the last epoch.")
    epochs = models.JSONField(
        default=list, help_text="Per epoch of the evaluation fit: stage, loss, validation NDCG@10, seconds."
    )
    summary = models.TextField(blank=True)
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    task_id = models.CharField(max_length=64, blank=True, help_text="The django-tasks result that runs it, if queued.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    worker = models.CharField(max_length=120, blank=True, help_text="host:pid of the process running it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When it last reported progress.")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="trainingrun_status_idx")]

    def __str__(self):
        what = f"re-evaluate {self.target}" if self.kind == self.Kind.EVALUATE else f"train {self.model_name}"
        return f"{what} on {self.dataset} ({self.status})"

    def claim(self, worker):
        """Marks a queued run running for ``worker``; False when it is no longer
        queued (a conditional update, so two workers never run one run)."""
        now = timezone.now()
        claimed = TrainingRun.objects.filter(pk=self.pk, status=self.Status.QUEUED).update(
            status=self.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker
        )
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def record_epoch(self, entry, max_epochs):
        """A training ``on_epoch`` callback: the finished epoch as the run's progress."""
        TrainingRun.objects.filter(pk=self.pk).update(
            stage=entry["stage"][:32],
            epoch=entry["epoch"],
            max_epochs=max_epochs,
            last_loss=entry["loss"],
            last_validation=entry.get("val_ndcg@10"),
            heartbeat_at=timezone.now(),
        )

    def finish(self, status, summary, **fields):
        for name, value in {"status": status, "summary": summary, "finished_at": timezone.now(), **fields}.items():
            setattr(self, name, value)
        progress = ["stage", "epoch", "max_epochs", "last_loss", "last_validation", "heartbeat_at"]
        self.save(
            update_fields=[f.name for f in self._meta.concrete_fields if not f.primary_key and f.name not in progress]
        )

    @property
    def progress(self):
        """One phrase for the dashboard: waiting, starting, or the stage and epoch."""
        if self.status == self.Status.QUEUED:
            return "waiting for the worker"
        if self.status == self.Status.FAILED:
            return "failed"
        if not self.epoch:
            return "starting" if self.status == self.Status.RUNNING else "done"
        loss = "" if self.last_loss is None else f", loss {self.last_loss:.4f}"
        return f"{self.stage} epoch {self.epoch}/{self.max_epochs}{loss}"


# --- Dashboard: served recommendations, consumer heartbeats ---------------------------


class RecommendationImpression(models.Model):
    """One list a model page (or the API) served: what, to whom, how fast."""

    model_name = models.CharField(max_length=16)
    version_label = models.CharField(max_length=32, blank=True)
    fallback = models.CharField(max_length=16, blank=True, help_text="Why popularity stood in, if it did.")
    visitor_key = models.CharField(max_length=80, blank=True)
    movie_ids = models.JSONField(default=list)
    seconds = models.FloatField(help_text="Time serving.recommend took.")
    cached = models.BooleanField(
        default=False, help_text="Reused from a cache: seconds is the first answer's, so no latency of its own."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["model_name", "created_at"], name="impression_model_time_idx")]

    def __str__(self):
        return f"{self.version_label or self.model_name} -> {self.visitor_key or 'anonymous'}"
