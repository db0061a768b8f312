from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


@cache
def _favicon_bytes():
    with open(finders.find("favicon.svg"), "rb") as icon:
        return icon.read()


@require_safe
@cache_control(public=True, max_age=7 * 86400)
def favicon(request):
    """/favicon.ico, which browsers ask for on every page without an icon link
    (a JSON answer, say); modern browsers take an SVG there."""
    return HttpResponse(_favicon_bytes(), content_type="image/svg+xml")
