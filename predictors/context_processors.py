from functools import lru_cache

from django.urls import get_script_prefix, get_urlconf, reverse

from predictors.names import SERVED_MODELS
from sitewide.context_processors import nav_link, reversed_once


def model_navigation(request):
    """ "For you", the visitor's own links (the onboarding panel, reopened on
    the home page, and their activity) and, in the "Compare models" group, one
    entry per served model page and the side-by-side view."""
    return {
        "nav_for_you": nav_link(request, "For you", reversed_once("for_you")["for_you"]),
        "nav_visitor_links": [
            nav_link(request, "Pick movies", reversed_once("movie:home")["movie:home"] + "?onboarding=open"),
            nav_link(request, "Your activity", reversed_once("activity")["activity"]),
        ],
        "nav_model_links": [
            *(nav_link(request, label, url) for (label, url) in _model_page_urls(get_script_prefix(), get_urlconf())),
            nav_link(request, "Side by side", reversed_once("compare_models")["compare_models"]),
        ],
    }


@lru_cache(maxsize=64)
def _model_page_urls(script_prefix, urlconf):
    return [(label, reverse("model_page", args=[name])) for name, label in SERVED_MODELS.items()]
