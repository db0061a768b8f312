"""{% movie_card movie [extra] %}: a movie's card (movie/_movie_card_body.html),
and {% genre_chips [genre [listing]] %}: the genre chips, which keep the
listing's other filters; each is rendered once per catalog version
(movie/catalog.py) and reused by every page and thread of the process.
The cached card shows the movie only. What a page adds about the visitor
comes from the ``card_addon`` template in the context (``{% include
"movie/_movie_card.html" with card_addon=... %}``), rendered on every use
with the page's context and put at the end of the card's info block.

{% catalog_cached "name" value ... %}...{% endcatalog_cached %}: the block
rendered once per catalog version and values, for parts of a page that show
the catalog only (the block must use nothing else of its context)."""

from django import template
from django.template.loader import get_template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from movie.catalog import catalog_fragment, current_cache, genre_list
from sitewide.cached_blocks import cached_block_tag

register = template.Library()


# Where the card's info block ends (the last lines of movie/_movie_card_body.html).
CARD_END = "</div>\n</li>"


def card_html(movie, extra=""):
    """The movie's card, rendered once per catalog version and ``extra``."""
    return current_cache().cards.get_or_put(
        (movie.pk, str(extra)),
        lambda: get_template("movie/_movie_card_body.html").render({"movie": movie, "extra": extra}),
    )


def with_addon(html, addon_html):
    """A card's HTML with ``addon_html`` at the end of its info block."""
    head, end, tail = html.rpartition(CARD_END)
    return mark_safe(f"{head}{addon_html}{end}{tail}")


@register.simple_tag(takes_context=True)
def movie_card(context, movie, extra=""):
    html = card_html(movie, extra)
    addon = context.get("card_addon")
    if addon:
        with context.push(movie=movie):
            rendered = context.template.engine.get_template(addon).render(context)
        html = with_addon(html, rendered)
    return html


# Stands in the cached chips for the listing's query string, which varies by request.
FILTERS_SLOT = "__listing_filters__"


@register.simple_tag
def genre_chips(active=None, listing=None):
    """The genre chips (movie/_genre_chips_body.html), ``active`` marked, once
    per catalog version; each chip keeps ``listing``'s other filters and sort."""
    cache = current_cache()
    key = active.pk if hasattr(active, "pk") else None
    html = cache.value(("genre chips", key), lambda: _render_chips(active))
    filters = listing.without_genre().query_string() if listing is not None else ""
    return mark_safe(html.replace(FILTERS_SLOT, escape(f"?{filters}") if filters else ""))


def _render_chips(active):
    context = {"genres": genre_list(), "genre": active, "filters_slot": FILTERS_SLOT}
    return get_template("movie/_genre_chips_body.html").render(context)


FILTER_CONTEXT = ("query", "genre", "listing", "genres", "decades", "min_ratings", "min_counts", "sorts")


@register.simple_tag(takes_context=True)
def filter_form(context):
    """The filter and sort form (movie/_filters_body.html) for this listing and
    query, once per catalog version: dozens of options, the same for every visitor."""
    values = {name: context.get(name) for name in FILTER_CONTEXT}
    key = (values["query"] or "", values["listing"], bool(values["genre"]), tuple(values["sorts"] or ()))
    return current_cache().forms.get_or_put(key, lambda: get_template("movie/_filters_body.html").render(values))


register.tag(
    "catalog_cached", cached_block_tag("catalog_cached", lambda key, render: catalog_fragment(("block", *key), render))
)
