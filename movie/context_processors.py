from django.urls import reverse

# Model pages shown in the navigation, in the order a reader meets them.
MODEL_PAGES = [("gmf", "GMF"), ("neumf", "NeuMF"), ("ngcf", "NGCF"), ("ease", "EASE")]


def site_navigation(request):
    """Links for the top navigation bar, with the current section marked."""
    path = request.path
    links = [("Home", reverse("movie:home"))]
    links += [(label, reverse("model_page", args=[name])) for name, label in MODEL_PAGES]
    links += [("Papers", reverse("paper_review:index")), ("Admin", reverse("admin:index"))]
    nav = []
    for label, url in links:
        active = path == url if url == "/" else path.startswith(url)
        nav.append({"label": label, "url": url, "active": active})
    return {"nav_links": nav}
