"""The top navigation bar: Home first, Papers and Admin last.

The links between them (one per served model) belong to the apps that serve
those pages, which add them with a context processor of their own built on
``nav_link``; the layout (templates/base.html) shows the three groups in order.
"""

from django.urls import reverse


def nav_link(request, label, url):
    """One navigation entry, marked active when the request is in its section."""
    active = request.path == url if url == "/" else request.path.startswith(url)
    return {"label": label, "url": url, "active": active}


def site_navigation(request):
    return {
        "nav_links": [nav_link(request, "Home", reverse("movie:home"))],
        "nav_end_links": [
            nav_link(request, "Papers", reverse("paper_review:index")),
            nav_link(request, "Admin", reverse("admin:index")),
        ],
    }
