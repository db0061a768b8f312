"""The site's URLs plus /bench/bare: a view that answers "ok" through the same
middleware, bench_pages.py's baseline. Not part of the production URL conf."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def bare(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/bare", bare), *site_urlpatterns]
