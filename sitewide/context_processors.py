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


# The layout's own links (templates/base.html), by a short name a template can look up.
LAYOUT_URLS = (
    ("home", "movie:home"),
    ("search", "movie:search"),
    ("suggestions", "movie:search_suggestions"),
    ("events", "post_events"),
    ("login", "login"),
    ("logout", "logout"),
    ("signup", "signup"),
    ("admin", "admin:index"),
)


def layout_urls():
    """{short name: URL} of LAYOUT_URLS, reversed once like ``reversed_once``."""
    return _layout_urls(get_script_prefix(), get_urlconf())


@lru_cache(maxsize=64)
def _layout_urls(script_prefix, urlconf):
    return {short: reverse(name) for short, name in LAYOUT_URLS}


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
        "layout_urls": layout_urls(),
    }
