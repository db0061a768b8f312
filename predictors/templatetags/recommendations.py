"""Recommendation pieces that pages of lower apps show:

- {% also_watched movie %}: the "Viewers also watched" section of a movie's page;
- {% rec_card card row_kind dismissable %}: a recommended movie's card (a home_rows.Card) with its addon;
- {% visitor_events as history_events %}: the visitor's history, read once for the page's rows and onboarding panel;
- {% personal_rows history_events as rows %}: the home page's rows for the visitor (predictors.home_rows),
  each shown by {% home_row row number %};
- {% not_interested_control movie %}: the "Not interested" button of a movie's page, or its Undo;
- {% onboarding_available as flag %}: whether the onboarding tag library is installed;
- ``value|as_json``: a value as JSON text, for a data- attribute (autoescaped there).
"""

import json

from django import template
from django.template.loader import render_to_string

from events.history import request_history
from movie.catalog import movies_by_ids
from movie.templatetags.movie_cards import card_html, with_addon
from predictors import fragments, home_rows, related

register = template.Library()

ALSO_WATCHED_COUNT = 6
ROW_TEMPLATE = "predictors/_home_row.html"
ONBOARDING_LIBRARY = "onboarding"  # predictors/templatetags/onboarding.py, {% onboarding_panel %}


@register.simple_tag
def also_watched(movie):
    """Left out (no label) when the configured model is off, missing or failing;
    rendered once per movie and answer (the answer is the model version's)."""
    found = related.also_watched_ids(movie.pk, ALSO_WATCHED_COUNT)
    if found is None:
        return ""
    label, movie_ids = found

    def render():
        context = {"watched": movie, "label": label, "movies": movies_by_ids(movie_ids)}
        return render_to_string("predictors/_also_watched.html", context)

    return fragments.cached(("also watched", movie.pk, label, tuple(movie_ids)), render)


@register.simple_tag
def rec_card(card, row_kind, dismissable):
    """The movie's cached card plus what the recommendation adds (home_rows.Card.addon_html)."""
    return with_addon(card_html(card.movie), card.addon_html(row_kind, dismissable))


@register.simple_tag(takes_context=True)
def visitor_events(context):
    """The requesting visitor's events, newest first (events.history.request_history: read once per request)."""
    return request_history(context["request"])


@register.simple_tag(takes_context=True)
def personal_rows(context, events):
    """The visitor's personal rows from their ``events`` ({% visitor_events %}); empty without a history."""
    return home_rows.home_rows_for(context["request"], events)


@register.simple_tag
def home_row(row, number):
    """One row of the home page (predictors/_home_row.html), its HTML reused
    while the row comes from the rows cache (home_rows.rendered_row)."""
    return home_rows.rendered_row(row, lambda r: render_to_string(ROW_TEMPLATE, {"row": r, "number": number}))


@register.inclusion_tag("predictors/_not_interested.html", takes_context=True)
def not_interested_control(context, movie):
    """ "Not interested", or once the visitor said so, that and its Undo: by
    the rule every list hides movies by (home_rows.Verdicts), from the
    history a list would read."""
    verdicts = home_rows.Verdicts(request_history(context["request"]))
    deciding = verdicts.by_movie.get(movie.pk, (None, None))[1]
    # A like (an onboarding pick) has no stars to show in the rating widget: the control says it.
    return {"movie": movie, "hidden": movie.pk in verdicts.hidden, "liked": deciding == "like"}


@register.simple_tag(takes_context=True)
def onboarding_available(context):
    """True once the onboarding library exists, so a page can leave a slot for
    {% onboarding_panel %} that renders nothing before it does."""
    return ONBOARDING_LIBRARY in context.template.engine.template_libraries


@register.filter
def as_json(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
