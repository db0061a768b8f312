from django.urls import reverse

from predictors.names import SERVED_MODELS
from sitewide.context_processors import nav_link


def model_navigation(request):
    """A navigation entry per served model page, between Home and Papers."""
    return {
        "nav_model_links": [
            nav_link(request, label, reverse("model_page", args=[name])) for name, label in SERVED_MODELS.items()
        ]
    }
