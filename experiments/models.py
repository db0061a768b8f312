"""Online experiments: two served models (or two versions of one) compared
on a surface of the site, and the visitors who took part.

At most one experiment runs per surface: ``running_flag`` is True on the
running one and NULL on all others, and is unique with the surface, the
registry's trick for one active version per model (no partial index needed,
SQLite and MariaDB alike).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from predictors.models import ModelVersion
from predictors.names import SERVED_MODELS
from predictors.surfaces import TOP_PICKS

SURFACES = [(TOP_PICKS, "Top picks for you")]
MODEL_CHOICES = list(SERVED_MODELS.items())


class ExperimentRuleError(Exception):
    """A change the experiment rules refuse; the message is one sentence for the user."""


def _one_arm(side):
    model, version = f"arm_{side}_model", f"arm_{side}_version__isnull"
    return (Q(**{model: ""}) & Q(**{version: False})) | (~Q(**{model: ""}) & Q(**{version: True}))


class ExperimentQuerySet(models.QuerySet):
    def running(self, surface):
        """The experiment running on ``surface``, or None."""
        return (
            self.filter(surface=surface, status=Experiment.Status.RUNNING)
            .select_related("arm_a_version", "arm_b_version")
            .first()
        )


class Experiment(models.Model):
    class Method(models.TextChoices):
        TEAM_DRAFT = "team_draft", "Team-draft interleaving"
        AB = "ab", "A/B split by visitor"

    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        STOPPED = "stopped"

    name = models.CharField(max_length=120)
    surface = models.CharField(max_length=32, choices=SURFACES, default=TOP_PICKS)
    arm_a_model = models.CharField(
        "arm A: model",
        max_length=16,
        choices=MODEL_CHOICES,
        blank=True,
        help_text="Its active version, whichever it is.",
    )
    arm_a_version = models.ForeignKey(
        ModelVersion, verbose_name="arm A: version", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    arm_b_model = models.CharField("arm B: model", max_length=16, choices=MODEL_CHOICES, blank=True)
    arm_b_version = models.ForeignKey(
        ModelVersion, verbose_name="arm B: version", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.TEAM_DRAFT)
    traffic_percent = models.PositiveSmallIntegerField(
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of the visitors with a history who take part.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    running_flag = models.BooleanField(null=True, default=None, editable=False)
    winner = models.CharField(max_length=1, blank=True, help_text="The side activated when it was stopped, if any.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["surface", "running_flag"], name="one_running_experiment_per_surface"),
            models.CheckConstraint(
                condition=(
                    Q(status="running", running_flag__isnull=False, running_flag=True)
                    | (~Q(status="running") & Q(running_flag__isnull=True))
                ),
                name="running_flag_matches_status",
            ),
            models.CheckConstraint(
                condition=_one_arm("a") & _one_arm("b"),
                name="each_arm_one_model_or_version",
                # Shown by the admin form (full_clean validates constraints) instead of the constraint's name.
                violation_error_message=(
                    "Each side of the experiment names either a model or a version of a model, "
                    "not both and not neither."
                ),
            ),
        ]

    def __str__(self):
        return self.name

    def arm_label(self, side):
        model, version = getattr(self, f"arm_{side}_model"), getattr(self, f"arm_{side}_version")
        return version.label if version is not None else f"{SERVED_MODELS.get(model, model)} (active version)"

    @property
    def arm_a_label(self):
        return self.arm_label("a")

    @property
    def arm_b_label(self):
        return self.arm_label("b")

    def arm(self, side):
        """(model name, ModelVersion or None) of side "a" or "b"."""
        version = getattr(self, f"arm_{side}_version")
        return (version.model_name if version else getattr(self, f"arm_{side}_model")), version

    def clean(self):
        # A model or a version per arm is the each_arm_one_model_or_version constraint's to say (once).
        if self.arm_a_version_id and self.arm_a_version.model_name not in SERVED_MODELS:
            raise ValidationError("Arm A's version is of a model the site does not serve.")
        if self.arm_b_version_id and self.arm_b_version.model_name not in SERVED_MODELS:
            raise ValidationError("Arm B's version is of a model the site does not serve.")
        same_model = self.arm_a_model and self.arm_a_model == self.arm_b_model
        same_version = self.arm_a_version_id and self.arm_a_version_id == self.arm_b_version_id
        if same_model or same_version:
            raise ValidationError("The two arms are the same; compare two models or two versions.")

    @property
    def traffic_share(self):
        return self.traffic_percent / 100

    def other_running(self):
        return Experiment.objects.filter(surface=self.surface, status=self.Status.RUNNING).exclude(pk=self.pk).first()

    def start(self):
        """Runs it; ExperimentRuleError when another one runs on the surface (the database refuses it too)."""
        if self.status == self.Status.RUNNING:
            return
        if self.status == self.Status.STOPPED:
            raise ExperimentRuleError(f"{self} was stopped; start a new experiment instead.")
        running = self.other_running()
        if running is not None:
            raise ExperimentRuleError(f"{running} is already running on {self.get_surface_display()}; stop it first.")
        self.status, self.running_flag, self.started_at = self.Status.RUNNING, True, timezone.now()
        try:
            with transaction.atomic():
                self.save()
        except IntegrityError:
            self.status, self.running_flag, self.started_at = self.Status.DRAFT, None, None
            raise ExperimentRuleError(
                f"Another experiment started on {self.get_surface_display()} just now; stop it first."
            ) from None

    def stop(self, winner=""):
        if self.status != self.Status.RUNNING:
            raise ExperimentRuleError(f"{self} is not running.")
        self.status, self.running_flag, self.stopped_at, self.winner = self.Status.STOPPED, None, timezone.now(), winner
        self.save(update_fields=["status", "running_flag", "stopped_at", "winner"])


class Participant(models.Model):
    """A visitor the experiment showed a list to: whose stored events the dashboard reads."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="participants")
    visitor_key = models.CharField(max_length=80)
    first_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "visitor_key"], name="participant_once_per_experiment")
        ]

    def __str__(self):
        return f"{self.visitor_key} in {self.experiment_id}"
