from django.apps import AppConfig


class PredictorsConfig(AppConfig):
    name = "predictors"
    verbose_name = "Recommendation models"

    def ready(self):
        from predictors import related  # noqa: F401 -- registers its settings check
