from django.apps import AppConfig


class MovieConfig(AppConfig):
    name = "movie"
    verbose_name = "Movie catalog"

    def ready(self):
        # Registers the login hook that attaches a session's events to the user.
        from movie import events  # noqa: F401
