"""{% rating_widget movie %}: the visitor's current rating, editable (static/js/events.js)."""

from django import template
from django.template.loader import render_to_string

from events.history import rating_in, request_history
from events.visitors import visitor_key
from movie.catalog import catalog_fragment

register = template.Library()

STARS = 5
WIDGET_TEMPLATE = "events/_rating_widget.html"


@register.simple_tag(takes_context=True)
def rating_widget(context, movie):
    """Its HTML depends only on the movie and the rating: rendered once per
    catalog version and pair (a visitor without a rating sees the common one)."""
    request = context.get("request")
    key = visitor_key(request, create=False) if request is not None else None
    current = rating_in(request_history(request), key, movie.pk) if key else None
    return catalog_fragment(("rating widget", movie.pk, current), lambda: render_widget(movie, current))


def render_widget(movie, current):
    stars = []
    for star in range(1, STARS + 1):
        if current is not None and current >= star:
            fill = "full"
        elif current is not None and current >= star - 0.5:
            fill = "half"
        else:
            fill = "empty"
        stars.append({"half": star - 0.5, "full": star, "fill": fill})
    return render_to_string(WIDGET_TEMPLATE, {"movie": movie, "current": current, "stars": stars})
