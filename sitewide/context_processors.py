"""The top navigation bar: Home, Browse and Search first, Papers last.

The links between them (For you, and the "Compare models" group of model
pages) belong to the app that serves those pages, which adds them with a
context processor of its own built on ``nav_link``; the layout
(templates/base.html) shows the groups in order. Admin is shown to staff only.
"""

from django.urls import reverse


def nav_link(request, label, url):
    """One navigation entry, marked active when the request is in its section."""
    active = request.path == url if url == "/" else request.path.startswith(url)
    return {"label": label, "url": url, "active": active}


def site_navigation(request):
    return {
        "nav_links": [
            nav_link(request, "Home", reverse("movie:home")),
            nav_link(request, "Browse", reverse("movie:browse")),
            nav_link(request, "Search", reverse("movie:search")),
        ],
        "nav_end_links": [nav_link(request, "Papers", reverse("paper_review:index"))],
    }
