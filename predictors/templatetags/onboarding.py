"""{% onboarding_panel %}: "Pick a few movies you like" for a new visitor
(groups from predictors/onboarding.py, clicks handled by static/js/onboarding.js).

Shown to a visitor with no history who has not dismissed it (the
``onboarding_dismissed`` cookie the script sets), and to anyone who opens it
from the menu (``?onboarding=open``). Each pick is posted as a ``like`` event.
"""

from django import template
from django.urls import reverse

from events.history import visitor_history
from events.visitors import visitor_key
from movie.catalog import movies_by_ids
from predictors import onboarding
from predictors.home_rows import primary_model_name

register = template.Library()

DISMISSED_COOKIE = "onboarding_dismissed"
OPEN_PARAMETER = "onboarding"


def wants_panel(request):
    if request.GET.get(OPEN_PARAMETER) == "open":
        return True
    if request.COOKIES.get(DISMISSED_COOKIE):
        return False
    return not visitor_history(visitor_key(request, create=False), limit=1)


@register.inclusion_tag("predictors/_onboarding_panel.html", takes_context=True)
def onboarding_panel(context):
    request = context.get("request")
    if request is None or not wants_panel(request):
        return {"show": False}
    model_name = primary_model_name()
    found = onboarding.site_groups(model_name)
    movies = {movie.pk: movie for movie in movies_by_ids([pk for g in found.groups for pk in g.movie_ids])}
    groups = [
        {
            "group": group,
            "movies": [movies[pk] for pk in group.movie_ids if pk in movies],
            "movie_ids": ",".join(str(pk) for pk in group.movie_ids if pk in movies),
        }
        for group in found.groups
    ]
    return {
        "show": bool(groups),
        "groups": groups,
        "source": found.source,
        "from_genres": found.source == onboarding.FROM_GENRES,
        "picks_needed": onboarding.PICKS_FOR_LIST,
        "group_picks": onboarding.GROUP_PICKS,
        "recommendations_url": f"{reverse('recommendations_api')}?model={model_name}&k=10",
    }
