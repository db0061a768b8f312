from django.apps import AppConfig


class MovieConfig(AppConfig):
    name = "movie"
    verbose_name = "Movie catalog"
