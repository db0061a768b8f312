"""{% onboarding_panel %}: "Pick a few movies you like" for a new visitor
(groups from predictors/onboarding.py, clicks handled by static/js/onboarding.js).

Shown to a visitor with no history who has not dismissed it (the
``onboarding_dismissed`` cookie the script sets), and to anyone who opens it
from the menu (``?onboarding=open``). Each pick is posted as a ``like`` event;
pressing a picked movie again takes it back with a ``like_cleared``.
"""

from django import template
from django.template.loader import render_to_string

from events.history import HISTORY_LIMIT, request_history, visitor_history
from events.visitors import visitor_key
from movie.catalog import movies_by_ids
from predictors import fragments, onboarding, serving
from predictors.home_rows import active_versions, primary_model_name

register = template.Library()

DISMISSED_COOKIE = "onboarding_dismissed"
OPEN_PARAMETER = "onboarding"
LIKES_READ = 200
PICK_TYPES = ("like", "like_cleared")


def wants_panel(request, events):
    if request.GET.get(OPEN_PARAMETER) == "open":
        return True
    return not request.COOKIES.get(DISMISSED_COOKIE) and not events


def liked_movie_ids(request, events):
    """Movies the visitor liked and has not taken back, shown as picked when
    the menu reopens the panel. ``events`` (the newest HISTORY_LIMIT, as the
    page read them) hold them all only when shorter than that; else the likes
    are read alone, so that picks followed by many clicks or views stay picked."""
    if len(events) < HISTORY_LIMIT:
        picks = [event for event in events if event.event_type in PICK_TYPES]
    else:
        picks = visitor_history(visitor_key(request, create=False), LIKES_READ, event_types=PICK_TYPES)
    return {pk for pk, (_, kind) in serving.verdicts_from_events(picks).items() if kind == "like"}


@register.simple_tag(takes_context=True)
def onboarding_panel(context, events=None):
    """The panel's HTML; for a visitor without likes (every new visitor) the
    same for all of them, so rendered once per model version and catalog
    version (predictors.fragments). ``events``: the visitor's history as the
    page already read it ({% visitor_events %}); read here when not given.
    Either way it is read once, and the likes shown as picked come from it
    too unless it is a full HISTORY_LIMIT (then they are read apart)."""
    request = context.get("request")
    if request is None:
        return ""
    if not isinstance(events, list):
        events = request_history(request)
    if not wants_panel(request, events):
        return ""
    versions = active_versions()
    model_name = primary_model_name(versions)
    liked = liked_movie_ids(request, events)
    found = onboarding.site_groups(model_name)
    key = None if liked else fragments.onboarding_key(model_name, versions, found.source)
    return fragments.cached(key, lambda: render_to_string(PANEL_TEMPLATE, panel_context(liked, found)))


PANEL_TEMPLATE = "predictors/_onboarding_panel.html"


def panel_context(liked, found):
    """The template's context for ``found`` (onboarding.site_groups)."""
    movies = {movie.pk: movie for movie in movies_by_ids([pk for g in found.groups for pk in g.movie_ids])}
    groups = [
        {
            "group": group,
            "movies": [(movies[pk], pk in liked) for pk in group.movie_ids if pk in movies],
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
        "picked": len(liked),
        "group_picks": onboarding.GROUP_PICKS,
    }
