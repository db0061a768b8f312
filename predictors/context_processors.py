from django.urls import reverse

from predictors.names import SERVED_MODELS
from sitewide.context_processors import nav_link


def model_navigation(request):
    """ "For you", the visitor's own links (the onboarding panel, reopened on
    the home page, and their activity) and, in the "Compare models" group, one
    entry per served model page and the side-by-side view."""
    return {
        "nav_for_you": nav_link(request, "For you", reverse("for_you")),
        "nav_visitor_links": [
            nav_link(request, "Pick movies", reverse("movie:home") + "?onboarding=open"),
            nav_link(request, "Your activity", reverse("activity")),
        ],
        "nav_model_links": [
            *(nav_link(request, label, reverse("model_page", args=[name])) for name, label in SERVED_MODELS.items()),
            nav_link(request, "Side by side", reverse("compare_models")),
        ],
    }
