"""Experiments in the admin: start one (the add form), stop it (an action),
and read it on its dashboard page, whose "stop and activate the winner"
goes through the registry's rules and the confirmation the registry's own
activate action asks for."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from experiments.charts import preference_svg
from experiments.decisions import decided_version, stop_and_activate
from experiments.models import Experiment, ExperimentRuleError
from experiments.results import results
from predictors.admin import activation_doubts, register_dashboard_link
from predictors.models import RegistryRuleError
from sitewide.admin_actions import CheckedSelectionAdmin

ARM_FIELDS = ["arm_a_model", "arm_a_version", "arm_b_model", "arm_b_version"]


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["name", "surface", *ARM_FIELDS, "method", "traffic_percent"]

    def clean(self):
        cleaned = super().clean()
        surface = cleaned.get("surface")
        running = Experiment.objects.filter(surface=surface, status=Experiment.Status.RUNNING).first()
        if running is not None:
            raise forms.ValidationError(
                f"{running} is already running on this surface; stop it before starting another."
            )
        return cleaned


def percent(value):
    return "–" if value is None else f"{100 * value:.1f}%"


@admin.register(Experiment)
class ExperimentAdmin(CheckedSelectionAdmin):
    form = ExperimentForm
    list_display = [
        "name",
        "surface",
        "arm_a_label",
        "arm_b_label",
        "method",
        "traffic",
        "status",
        "started_at",
        "stopped_at",
        "dashboard_link",
    ]
    list_filter = ["status", "surface", "method"]
    actions = ["stop_selected"]

    @admin.display(description="traffic")
    def traffic(self, experiment):
        return f"{experiment.traffic_percent}%"

    @admin.display(description="arm A")
    def arm_a_label(self, experiment):
        return experiment.arm_a_label

    @admin.display(description="arm B")
    def arm_b_label(self, experiment):
        return experiment.arm_b_label

    @admin.display(description="dashboard")
    def dashboard_link(self, experiment):
        url = reverse("admin:experiments_experiment_dashboard", args=[experiment.pk])
        return format_html('<a href="{}">results</a>', url)

    def has_change_permission(self, request, obj=None):
        # A started experiment's arms and share are what its numbers mean: nobody edits them.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == Experiment.Status.RUNNING:
            return False  # stop it first
        return super().has_delete_permission(request, obj)

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {
            "title": "Start an experiment",
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        obj.save()
        try:
            obj.start()
        except ExperimentRuleError as error:
            self.message_user(request, f"Saved {obj} as a draft: {error}", messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.status == Experiment.Status.RUNNING:
            self.message_user(request, f"Started {obj} on {obj.get_surface_display()}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:experiments_experiment_dashboard", args=[obj.pk]))

    @admin.action(description="Stop the selected experiments (nothing is activated)", permissions=["change"])
    def stop_selected(self, request, queryset):
        for experiment in queryset.filter(status=Experiment.Status.RUNNING):
            experiment.stop()
            self.log_change(request, experiment, "Stopped.")
            self.message_user(request, f"Stopped {experiment}.", messages.SUCCESS)

    # --- the dashboard page and its decision ---

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:object_id>/dashboard/", wrap(self.dashboard_view), name="experiments_experiment_dashboard"),
            path(
                "<int:object_id>/stop-and-activate/",
                wrap(self.stop_and_activate_view),
                name="experiments_experiment_stop_and_activate",
            ),
            path("<int:object_id>/stop/", wrap(self.stop_view), name="experiments_experiment_stop"),
            *super().get_urls(),
        ]

    def _experiment(self, request, object_id, permission="view"):
        if not request.user.has_perm(f"experiments.{permission}_experiment"):
            raise PermissionDenied
        return get_object_or_404(Experiment.objects.select_related("arm_a_version", "arm_b_version"), pk=object_id)

    def dashboard_view(self, request, object_id):
        experiment = self._experiment(request, object_id)
        summary = results(experiment)
        sides = [
            {
                "side": side,
                "label": experiment.arm_label(side),
                "shown": summary.shown[side],
                "clicks": summary.clicks[side],
                "wins": summary.wins[side],
                "ctr": percent(summary.click_through(side)),
            }
            for side in "ab"
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Experiment: {experiment}",
            "opts": self.model._meta,
            "experiment": experiment,
            "summary": summary,
            "sides": sides,
            "chart": preference_svg(summary.series),
            "winner_label": experiment.arm_label(summary.winner) if summary.winner else None,
            "can_decide": request.user.has_perm("experiments.change_experiment")
            and request.user.has_perm("predictors.change_modelversion"),
        }
        return TemplateResponse(request, "admin/experiments/experiment/dashboard.html", context)

    def stop_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        experiment = self._experiment(request, object_id, "change")
        try:
            experiment.stop()
        except ExperimentRuleError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.log_change(request, experiment, "Stopped.")
            self.message_user(request, f"Stopped {experiment}; nothing was activated.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:experiments_experiment_dashboard", args=[experiment.pk]))

    def stop_and_activate_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        experiment = self._experiment(request, object_id, "change")
        if not request.user.has_perm("predictors.change_modelversion"):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:experiments_experiment_dashboard", args=[experiment.pk]))
        summary = results(experiment)
        confirmed = request.POST.get("confirmed") == "yes"
        try:
            version = decided_version(experiment, summary)
            doubts = activation_doubts(version)
            if doubts["reasons"] and not confirmed:
                context = {
                    **self.admin_site.each_context(request),
                    "title": "Activate a version that scores lower?",
                    "opts": self.model._meta,
                    "experiment": experiment,
                    "doubts": doubts,
                }
                return TemplateResponse(request, "admin/experiments/experiment/activate_confirmation.html", context)
            version = stop_and_activate(experiment, summary, force=confirmed)
        except (ExperimentRuleError, RegistryRuleError) as error:
            self.message_user(request, str(error), messages.ERROR)
            return back
        self.log_change(request, experiment, f"Stopped; activated the winner {version.label}.")
        self.message_user(
            request,
            f"Stopped {experiment}; {version.label} (arm {summary.winner.upper()}) is the served version.",
            messages.SUCCESS,
        )
        return back


# The registry dashboard is where staff look after their models; the experiments comparing them are a click away.
register_dashboard_link("Experiments", "admin:experiments_experiment_changelist", "experiments.view_experiment")
