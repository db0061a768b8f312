"""{% also_watched movie %}: the "Viewers also watched" section of a movie's page."""

from django import template

from predictors import related

register = template.Library()

ALSO_WATCHED_COUNT = 6


@register.inclusion_tag("predictors/_also_watched.html")
def also_watched(movie):
    """Left out (no label) when the configured model is off, missing or failing."""
    found = related.also_watched(movie.pk, ALSO_WATCHED_COUNT)
    label, movies = found if found is not None else (None, [])
    return {"watched": movie, "label": label, "movies": movies}
