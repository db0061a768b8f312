from django.contrib import admin

from predictors.models import ModelVersion, TrainingRun


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["label", "dataset", "status", "training_seconds", "artifact_size", "created_at"]
    list_filter = ["model_name", "status"]
    readonly_fields = ["active_flag", "created_at", "activated_at"]


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["model_name", "dataset", "protocol", "status", "started_at", "finished_at"]
    list_filter = ["model_name", "status"]
