from django.apps import AppConfig


class PredictorsConfig(AppConfig):
    name = "predictors"
    verbose_name = "Recommendation models"

    def ready(self):
        from predictors import checks  # noqa: F401 -- registers the settings checks
