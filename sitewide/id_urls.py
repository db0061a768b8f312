"""URLs of one object by id ("/movie/50/") without a ``reverse`` per link.

A page links to dozens of movies; Django's ``reverse`` costs about as much
as the rest of such a link's rendering. The URL pattern is reversed once per
name, script prefix and URL conf with a marker id, and each link is that
string with the marker replaced.
"""

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

MARKER = 987654321  # an id no real URL contains elsewhere


def url_for_id(name, object_id):
    """reverse(name, args=[object_id]) for an integer id."""
    prefix, marker_text = _pattern(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{prefix}{int(object_id)}{marker_text}"


@lru_cache(maxsize=64)
def _pattern(name, script_prefix, urlconf):
    url = reverse(name, args=[MARKER])
    head, _, tail = url.partition(str(MARKER))
    return head, tail
