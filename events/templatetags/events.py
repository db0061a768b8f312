"""{% rating_widget movie %}: the visitor's current rating, editable (static/js/events.js)."""

from django import template

from events.history import visitor_rating
from events.visitors import visitor_key

register = template.Library()

STARS = 5


@register.inclusion_tag("events/_rating_widget.html", takes_context=True)
def rating_widget(context, movie):
    request = context.get("request")
    key = visitor_key(request, create=False) if request is not None else None
    current = visitor_rating(key, movie.pk) if key else None
    stars = []
    for star in range(1, STARS + 1):
        if current is not None and current >= star:
            fill = "full"
        elif current is not None and current >= star - 0.5:
            fill = "half"
        else:
            fill = "empty"
        stars.append({"half": star - 0.5, "full": star, "fill": fill})
    return {"movie": movie, "current": current, "stars": stars}
