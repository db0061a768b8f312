"""System checks of the predictors settings, registered by the app's ready().

A module of its own, without torch: every management command runs the checks,
and only the processes that serve a model should load it.
"""

from django.conf import settings
from django.core import checks

from predictors.names import SERVED_MODELS


@checks.register()
def check_also_watched_model(app_configs, **kwargs):
    model_name = settings.ALSO_WATCHED_MODEL
    if model_name and model_name not in SERVED_MODELS:
        return [
            checks.Error(
                f"ALSO_WATCHED_MODEL is {model_name!r}, which is not a served model.",
                hint=f"Use one of {', '.join(SERVED_MODELS)}, or leave it empty to show no such section.",
                id="predictors.E001",
            )
        ]
    return []
