"""The site's addresses plus views that fail, to see the 500 and 503 answers."""

from django.db import OperationalError
from django.urls import path

from config.urls import handler400, handler404, handler500
from config.urls import urlpatterns as site_urlpatterns

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]


def broken(request):
    raise RuntimeError("a bug in a view")


def locked(request):
    raise OperationalError("database is locked")


def schema_bug(request):
    raise OperationalError("no such column: movie_movie.missing")


urlpatterns = [
    *site_urlpatterns,
    path("broken/", broken),
    path("api/broken", broken),
    path("locked/", locked),
    path("schema-bug/", schema_bug),
]
