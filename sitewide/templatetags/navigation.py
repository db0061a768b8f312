"""{% nav_links links [item_tag] %}: the navigation bar's links (from the
context processors' ``nav_link`` dicts), the current section marked; one tag
rather than an include per link, which the header of every page paid for."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

ACTIVE = mark_safe(' class="active" aria-current="page"')


@register.simple_tag
def nav_links(links, item_tag=""):
    """``links``: a nav_link dict or a list of them; ``item_tag`` (say "li") wraps each link."""
    links = [links] if isinstance(links, dict) else links or []
    anchors = [
        format_html('<a href="{}"{}>{}</a>', link["url"], ACTIVE if link["active"] else "", link["label"])
        for link in links
    ]
    if item_tag:
        anchors = [format_html("<{0}>{1}</{0}>", item_tag, anchor) for anchor in anchors]
    return mark_safe("".join(anchors))
