"""The top navigation bar: Home, Browse and Search first, Papers last.

The links between them (For you, and the "Compare models" group of model
pages) belong to the app that serves those pages, which adds them with a
context processor of its own built on ``nav_link``; the layout
(templates/base.html) shows the groups in order. Admin is shown to staff only.
"""

from functools import lru_cache

from django.urls import get_script_prefix, get_urlconf, reverse


def reversed_once(*names):
    """{name: reverse(name)}, computed once per script prefix and URL conf (not on every page)."""
    return _reversed(names, get_script_prefix(), get_urlconf())


@lru_cache(maxsize=64)
def _reversed(names, script_prefix, urlconf):
    return {name: reverse(name) for name in names}


def nav_link(request, label, url):
    """One navigation entry, marked active when the request is in its section."""
    active = request.path == url if url == "/" else request.path.startswith(url)
    return {"label": label, "url": url, "active": active}


def site_navigation(request):
    urls = reversed_once("movie:home", "movie:browse", "movie:search", "paper_review:index")
    return {
        "nav_links": [
            nav_link(request, "Home", urls["movie:home"]),
            nav_link(request, "Browse", urls["movie:browse"]),
            nav_link(request, "Search", urls["movie:search"]),
        ],
        "nav_end_links": [nav_link(request, "Papers", urls["paper_review:index"])],
    }
