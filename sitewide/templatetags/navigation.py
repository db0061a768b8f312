"""{% nav_links links [item_tag] %}: the navigation bar's links (from the
context processors' ``nav_link`` dicts), the current section marked; one tag
rather than an include per link, which the header of every page paid for.

{% layout_cached "name" value ... %}...{% endlayout_cached %}: a part of the
layout rendered once per process, values, script prefix and URL conf (the
static links, an anonymous visitor's header): every page paid for them
while bare Django pays nothing. The block may use nothing of its context
but what the values say (and no CSRF token)."""

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from sitewide.bounded_cache import BoundedCache
from sitewide.cached_blocks import cached_block_tag

register = template.Library()

LAYOUT_PARTS = 1024  # a header per section and query at most; most pages share a few
_layout_parts = BoundedCache(LAYOUT_PARTS)

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


def _layout_part(key, render):
    return _layout_parts.get_or_put((get_script_prefix(), get_urlconf(), *key), render)


register.tag("layout_cached", cached_block_tag("layout_cached", _layout_part))


@receiver(setting_changed, dispatch_uid="sitewide.navigation.forget_layout")
def forget_layout(**kwargs):
    """Forget the cached layout parts when a setting changes (tests: URLs, static files)."""
    _layout_parts.clear()
