from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    verbose_name = "Online experiments"

    def ready(self):
        from experiments.provider import provide
        from predictors import surfaces

        surfaces.register_provider(surfaces.TOP_PICKS, provide(surfaces.TOP_PICKS))
