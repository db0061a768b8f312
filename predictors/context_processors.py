from functools import lru_cache

from django.urls import get_script_prefix, get_urlconf, reverse

from predictors.names import SERVED_MODELS
from sitewide.context_processors import nav_link, reversed_once


def model_navigation(request):
    """ "For you" and, in the "Compare models" group, one entry per served model page."""
    return {
        "nav_for_you": nav_link(request, "For you", reversed_once("for_you")["for_you"]),
        "nav_model_links": [
            nav_link(request, label, url) for (label, url) in _model_page_urls(get_script_prefix(), get_urlconf())
        ],
    }


@lru_cache(maxsize=64)
def _model_page_urls(script_prefix, urlconf):
    return [(label, reverse("model_page", args=[name])) for name, label in SERVED_MODELS.items()]
