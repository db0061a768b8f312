"""The site's addresses plus one view that fails, to see the 500 answers."""

from django.urls import path

from config.urls import handler400, handler404, handler500
from config.urls import urlpatterns as site_urlpatterns

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]


def broken(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [*site_urlpatterns, path("broken/", broken), path("api/broken", broken)]
