"""The site's URLs plus POST /bench/bare-post: a view that answers "ok" through
the same middleware (the CSRF check included), bench_clicks.py's baseline.
Not part of the production URL conf."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as site_urlpatterns


@require_POST
def bare_post(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/bare-post", bare_post), *site_urlpatterns]
