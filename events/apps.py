from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Visitor events"

    def ready(self):
        # Signal receivers: login links a visitor's history to the user, and a
        # changed broker or store setting rebuilds the producer and the store.
        # The system checks register on import.
        from events import catalog_ids, checks, producers, visitors  # noqa: F401
        from events.data_folder import report_read_only_data_folder

        report_read_only_data_folder()
