"""The site's addresses plus views that fail, to see the 500 and 503 answers."""

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import HttpResponse
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as site_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def broken(request):
    raise RuntimeError("a bug in a view")


def forbidden(request):
    raise PermissionDenied


def locked(request):
    raise OperationalError("database is locked")


def schema_bug(request):
    raise OperationalError("no such column: movie_movie.missing")


def changes_the_session(request):
    request.session["seen"] = True  # saved by SessionMiddleware on the way out
    return HttpResponse("ok")


class LockedOnTheWayOut:
    """Middleware inside DatabaseBusyMiddleware whose response phase meets a
    locked database, as SessionMiddleware's save of a changed session does."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.session.modified:
            raise OperationalError("database is locked")
        return response


urlpatterns = [
    *site_urlpatterns,
    path("broken/", broken),
    path("api/broken", broken),
    path("forbidden/", forbidden),
    path("api/forbidden", forbidden),
    path("locked/", locked),
    path("changes-the-session/", changes_the_session),
    path("schema-bug/", schema_bug),
]
