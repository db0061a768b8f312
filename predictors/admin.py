"""The model registry in the admin: versions (read-only, changed only through
the actions, which call the registry's rules on ModelVersion), training runs
(the add form queues one for the job worker), and the dashboard page.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from movie.models import Dataset
from predictors import jobs, zoo
from predictors.charts import training_curves_svg
from predictors.dashboard import KEY_METRICS, dashboard_context, metric
from predictors.models import ModelVersion, RegistryRuleError, TrainingRun
from predictors.names import PROTOCOLS
from predictors.tuning_chart import trial_rows, tuning_svg
from sitewide.admin_actions import CheckedSelectionAdmin
from sitewide.numbers import whole_number

# The admin index links to the dashboard.
admin.site.index_template = "admin/predictors/index.html"


def _metric_column(protocol, name, heading):
    def column(version):
        value = metric(version, protocol, name)
        return "–" if value is None else f"{value:.4f}"

    column.short_description = heading
    column.__name__ = f"{protocol}_{name}".replace("@", "_at_")
    return column


@admin.register(ModelVersion)
class ModelVersionAdmin(CheckedSelectionAdmin):
    list_display = [
        "label",
        "status_badge",
        "dataset",
        "created",
        "training_time",
        *[_metric_column(protocol, name, heading) for protocol, name, heading in KEY_METRICS],
        "artifact",
    ]
    list_filter = ["model_name", "status", "dataset"]
    search_fields = ["model_name", "dataset", "artifact_sha256", "artifact_uri"]
    list_per_page = 50
    actions = ["activate_selected", "rollback_selected", "retire_selected", "reevaluate_selected"]
    fields = [
        "model_name",
        "version",
        "status",
        "dataset",
        "created_at",
        "activated_at",
        "training_time",
        "artifact_uri",
        "artifact_size_display",
        "artifact_sha256",
    ]
    readonly_fields = ["training_time", "artifact_size_display"]
    change_form_template = "admin/predictors/modelversion/change_form.html"
    change_list_template = "admin/predictors/modelversion/change_list.html"

    # --- columns ---

    @admin.display(description="version", ordering="model_name")
    def label(self, version):
        return version.label

    @admin.display(description="created", ordering="created_at")
    def created(self, version):
        return version.created_at.strftime("%Y-%m-%d %H:%M")

    @admin.display(description="training time", ordering="training_seconds")
    def training_time(self, version):
        return f"{version.training_seconds:.0f} s"

    @admin.display(description="artifact size", ordering="artifact_size")
    def artifact_size_display(self, version):
        return f"{filesizeformat(version.artifact_size)} ({version.artifact_size} bytes)"

    @admin.display(description="artifact")
    def artifact(self, version):
        return format_html(
            '{}<br><code title="sha256 {}">{}…</code>',
            filesizeformat(version.artifact_size),
            version.artifact_sha256,
            version.artifact_sha256[:8],
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, version):
        return format_html('<span class="registry-status registry-{}">{}</span>', version.status, version.status)

    def get_search_results(self, request, queryset, search_term):
        """``gmf:3`` finds that version; anything else searches the text fields."""
        model_name, colon, number = search_term.strip().partition(":")
        if colon and whole_number(number) is not None:
            return queryset.filter(model_name=model_name.lower(), version=whole_number(number)), False
        return super().get_search_results(request, queryset, search_term)

    # --- permissions: versions are made by training, changed only by the actions ---

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == ModelVersion.Status.ACTIVE:
            return False  # retire or replace it first: the site serves it
        return super().has_delete_permission(request, obj)

    def has_manage_permission(self, request):
        return request.user.has_perm("predictors.change_modelversion")

    def has_reevaluate_permission(self, request):
        return request.user.has_perm("predictors.add_trainingrun")

    # --- actions: each one a registry rule of ModelVersion ---

    def _activate(self, request, version, force=False):
        try:
            version.activate(force=force, verify_artifact=True)
        except RegistryRuleError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.log_change(request, version, f"Activated {version.label}.")
        self.message_user(
            request, f"Activated {version.label}; every web process serves it within a second.", messages.SUCCESS
        )

    @admin.action(description="Activate the selected version (one per model)", permissions=["manage"])
    def activate_selected(self, request, queryset):
        chosen = {}
        for version in queryset.order_by("model_name", "version"):
            if version.model_name in chosen:
                self.message_user(
                    request,
                    f"Select one version of {version.model_name} to activate, not several; nothing was changed.",
                    messages.ERROR,
                )
                return None
            chosen[version.model_name] = version
        confirmed = request.POST.get("post") == "yes"
        doubtful = [row for row in map(activation_doubts, chosen.values()) if row["reasons"]]
        if doubtful and not confirmed:
            return TemplateResponse(
                request,
                "admin/predictors/modelversion/activate_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Activate a version that scores lower?",
                    "doubtful": doubtful,
                    "queryset": queryset,
                    "opts": self.model._meta,
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        for version in chosen.values():
            if version.status == ModelVersion.Status.ACTIVE:
                self.message_user(request, f"{version.label} is already active.", messages.INFO)
            else:
                self._activate(request, version, force=confirmed)
        return None

    @admin.action(
        description="Roll back the selected versions' models to the previously active version", permissions=["manage"]
    )
    def rollback_selected(self, request, queryset):
        for model_name in sorted(set(queryset.values_list("model_name", flat=True))):
            try:
                current, target = ModelVersion.objects.roll_back(model_name)
            except RegistryRuleError as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            verb = f"Rolled {model_name} back from {current.label} to" if current else f"Rolled {model_name} back to"
            self.log_change(request, target, f"{verb} {target.label}.")
            self.message_user(
                request, f"{verb} {target.label}; every web process serves it within a second.", messages.SUCCESS
            )

    @admin.action(description="Retire the selected versions", permissions=["manage"])
    def retire_selected(self, request, queryset):
        retired = []
        for version in queryset.exclude(status=ModelVersion.Status.RETIRED).order_by("model_name", "version"):
            if version.retire():
                self.message_user(
                    request,
                    f"{version.model_name} has no active version now: its page shows the popular movies "
                    "until another version is activated.",
                    messages.WARNING,
                )
            self.log_change(request, version, "Retired.")
            retired.append(version.label)
        if retired:
            self.message_user(request, f"Retired {', '.join(retired)}.", messages.SUCCESS)
        else:
            self.message_user(request, "The selected versions were already retired.", messages.INFO)

    @admin.action(
        description="Re-evaluate the selected versions (queued for the job worker)", permissions=["reevaluate"]
    )
    def reevaluate_selected(self, request, queryset):
        queued = [
            jobs.queue_evaluation(version, request.user) for version in queryset.order_by("model_name", "version")
        ]
        self.message_user(
            request,
            f"Queued re-evaluation of {', '.join(run.target.label for run in queued)}; "
            "`manage.py run_training_jobs` runs it and stores the new metrics.",
            messages.SUCCESS,
        )

    # --- detail page ---

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), **(version_details(version) if version else {})}
        return super().change_view(request, object_id, form_url, extra_context)


def activation_doubts(version):
    """Why activating ``version`` asks for a confirmation: it scores below the
    active version, or below popularity on its own split (numbers included)."""
    active = ModelVersion.objects.active(version.model_name)
    reasons = []
    if active is not None and active.pk != version.pk and version.worse_than(active):
        reasons.append(("active version " + active.label, active.ndcg_at_10))
    if version.below_popularity():
        reasons.append(("popularity on the same split", version.popularity_ndcg_at_10))
    return {"version": version, "ndcg": version.ndcg_at_10, "reasons": reasons}


def comparison_rows(version, active):
    """Every metric either version has: (protocol, metric, this, active, difference)."""
    rows = []
    protocols = dict.fromkeys([*(version.metrics or {}), *((active.metrics or {}) if active else {})])
    for protocol in protocols:
        names = dict.fromkeys(
            [*version.metrics.get(protocol, {}), *((active.metrics or {}).get(protocol, {}) if active else {})]
        )
        for name in names:
            mine, theirs = metric(version, protocol, name), metric(active, protocol, name)
            difference = mine - theirs if mine is not None and theirs is not None else None
            rows.append((protocol, name, mine, theirs, difference))
    return rows


def version_details(version):
    active = ModelVersion.objects.active(version.model_name)
    run = next((run for run in version.training_runs.order_by("-started_at") if run.epochs), None)
    tuning = (version.hyperparameters or {}).get("tuning")
    return {
        "version": version,
        "hyperparameters": sorted(
            (key, value) for key, value in (version.hyperparameters or {}).items() if key != "tuning"
        ),
        "tuning": tuning,
        "tuning_trials": trial_rows(tuning),
        "tuning_svg": tuning_svg(tuning),
        "fingerprint": sorted((version.dataset_fingerprint or {}).items()),
        "fitted_on": sorted((version.fitted_on or {}).items()),
        "baselines": [
            (name, protocol, values)
            for name, by_protocol in (version.baselines or {}).items()
            for protocol, values in by_protocol.items()
        ],
        "curves_svg": training_curves_svg(run.epochs) if run else "",
        "training_run": run,
        "active_version": active,
        "comparison": comparison_rows(version, active),
    }


# --- Training runs ---------------------------------------------------------------------------


def dataset_choices():
    return [(name, name) for name in Dataset.objects.order_by("name").values_list("name", flat=True)]


class TrainingRunForm(forms.ModelForm):
    """Start a training run: the model's defaults, with the fields filled in overriding them."""

    dataset = forms.ChoiceField(choices=dataset_choices)
    protocol = forms.ChoiceField(
        choices=[(p, p) for p in PROTOCOLS],
        initial="full",
        help_text="full: 75/25 random split ranked against all items; ncf/d2l: latest interaction held out.",
    )
    epochs = forms.IntegerField(
        required=False, min_value=1, max_value=500, help_text="Most epochs (early stopping may end sooner)."
    )
    lr = forms.FloatField(required=False, min_value=1e-7, max_value=1.0, label="Learning rate")
    dim = forms.IntegerField(
        required=False, min_value=1, max_value=1024, help_text="Embedding size / predictive factors."
    )
    layers = forms.IntegerField(
        required=False, min_value=1, max_value=8, help_text="MLP tower or NGCF propagation layers."
    )
    negatives = forms.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Sampled negatives per positive."
    )
    loss = forms.ChoiceField(
        required=False,
        choices=[
            ("", "default for the dataset"),
            ("softmax", "softmax (whole catalog)"),
            ("mse", "mse (whole catalog)"),
            ("bce", "bce (pointwise, sampled)"),
            ("bpr", "bpr (pairwise, sampled)"),
            ("wls", "wls (GMF: weighted least squares, solved per side)"),
        ],
    )
    confidence = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1000.0,
        help_text="mse and wls: an interaction's cell weighs 1 + this, an unseen one 1.",
    )
    l2 = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1e6,
        label="L2 weight",
        help_text="On the embeddings; EASE's lambda (default from the dataset's statistics).",
    )
    dropout = forms.FloatField(
        required=False, min_value=0.0, max_value=0.99, help_text="NGCF message or MLP tower dropout."
    )
    recent_positives = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=1000,
        help_text="Each user's latest interactions weighted more (ncf/d2l default 10, full 0).",
    )
    recent_weight = forms.IntegerField(
        required=False, min_value=1, max_value=100, help_text="How many times an epoch counts them."
    )
    batch_size = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    patience = forms.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Epochs without validation gain before stopping."
    )

    ratings = forms.ChoiceField(
        required=False,
        choices=[
            ("", "every rating an interaction (default)"),
            ("weighted", "weighted by stars"),
            ("threshold", "threshold: 2 stars or less left out"),
        ],
    )

    OVERRIDES = list(zoo.SETTINGS)

    class Meta:
        model = TrainingRun
        fields = ["model_name", "dataset", "protocol", "seed"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if settings.MOVIELENS_DATASET in dict(self.fields["dataset"].choices):
            self.fields["dataset"].initial = settings.MOVIELENS_DATASET

    def overrides(self):
        return {
            name: self.cleaned_data[name] for name in self.OVERRIDES if self.cleaned_data.get(name) not in (None, "")
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("model_name") and cleaned.get("protocol"):
            try:  # the settings a model does not take (EASE's epochs, say) are refused here, not by the worker
                zoo.hyperparameters(cleaned["model_name"], cleaned["protocol"], **self.overrides())
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
        return cleaned


@admin.register(TrainingRun)
class TrainingRunAdmin(CheckedSelectionAdmin):
    list_display = [
        "__str__",
        "kind",
        "model_name",
        "status",
        "progress",
        "version",
        "worker",
        "heartbeat_at",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "status", "model_name"]
    readonly_fields = ["epochs", "started_at", "finished_at"]
    add_form = TrainingRunForm
    add_fieldsets = [
        (None, {"fields": ["model_name", "dataset", "protocol", "seed"]}),
        ("Hyper-parameters (empty fields keep the model's defaults)", {"fields": TrainingRunForm.OVERRIDES}),
    ]

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # On the add form "epochs" is the staff's override (a number to type), not the run's per-epoch log.
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            # Only the form's own model fields are saved: the overrides go to the run's overrides,
            # and "epochs" names the run's per-epoch log too, which a typed number must not replace.
            kwargs.update(form=self.add_form, fields=self.add_form.Meta.fields)
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False  # the worker writes a run's progress; nobody edits it

    def save_model(self, request, obj, form, change):
        obj.overrides, obj.requested_by = form.overrides(), request.user
        jobs.queue(obj)

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {
            "title": "Start a training run",
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, extra_context)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            f"Queued job {obj.pk}: train {obj.model_name} on {obj.dataset}. "
            "The training worker starts it when it is free (no worker running? start one with "
            "manage.py run_training_jobs); its progress shows on this dashboard.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("registry_dashboard"))


# --- The dashboard page ------------------------------------------------------------------------

# Links the admins of apps above predictors add beside "All versions" (the experiments' list, say):
# predictors cannot import them, so they register here. {url name: (label, permission)}
_dashboard_links = {}


def register_dashboard_link(label, url_name, permission):
    """A link among the dashboard's tools, shown to staff who have ``permission``."""
    _dashboard_links[url_name] = (label, permission)


def dashboard_links(user):
    return [
        {"label": label, "url": reverse(url_name)}
        for url_name, (label, permission) in _dashboard_links.items()
        if user.has_perm(permission)
    ]


def dashboard_view(request):
    """/admin/dashboard/ (wrapped in admin.site.admin_view: staff only)."""
    if not request.user.has_perm("predictors.view_modelversion"):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        **dashboard_context(),
        "title": "Model registry dashboard",
        "can_train": request.user.has_perm("predictors.add_trainingrun"),
        "links": dashboard_links(request.user),
    }
    for row in context["serving"].values():
        row["click_through_percent"] = None if row["click_through"] is None else 100 * row["click_through"]
    context["refresh"] = any(
        run.status in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING) for run in context["jobs"]
    )
    return TemplateResponse(request, "admin/predictors/dashboard.html", context)
