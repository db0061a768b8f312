"""The site's URLs plus the benchmarks' baselines: GET /bench/bare and POST
/bench/bare-post, views that answer "ok" through the same middleware (the POST
one through the CSRF check too), for bench_pages.py and bench_clicks.py. Not
part of the production URL conf."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as site_urlpatterns


def bare(request):
    return HttpResponse("ok")


@require_POST
def bare_post(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/bare", bare), path("bench/bare-post", bare_post), *site_urlpatterns]
