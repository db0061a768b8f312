from django.apps import AppConfig


class MovieConfig(AppConfig):
    name = "movie"
    verbose_name = "Movie catalog"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from movie import catalog
        from movie.models import Dataset, Genre, Movie, MovieTag, Tag

        # The per-process catalog caches start afresh after any change made here.
        for model in (Dataset, Genre, Movie, MovieTag, Tag):
            post_save.connect(catalog.catalog_changed, sender=model, dispatch_uid=f"catalog-saved-{model.__name__}")
            post_delete.connect(catalog.catalog_changed, sender=model, dispatch_uid=f"catalog-deleted-{model.__name__}")
        m2m_changed.connect(catalog.catalog_changed, sender=Movie.genres.through, dispatch_uid="catalog-genres")
