from django.urls import reverse

from predictors.names import SERVED_MODELS


def site_navigation(request):
    """Links for the top navigation bar, with the current section marked."""
    path = request.path
    links = [("Home", reverse("movie:home"))]
    links += [(label, reverse("model_page", args=[name])) for name, label in SERVED_MODELS.items()]
    links += [("Papers", reverse("paper_review:index")), ("Admin", reverse("admin:index"))]
    nav = []
    for label, url in links:
        active = path == url if url == "/" else path.startswith(url)
        nav.append({"label": label, "url": url, "active": active})
    return {"nav_links": nav}
