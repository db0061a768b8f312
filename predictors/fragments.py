"""Rendered pieces of the recommendation pages (a model page's content, an
API answer's body, the onboarding panel), kept per process and catalog
version (movie.catalog.catalog_fragment) on everything they show: the same
visitor's next view with nothing changed reuses them, and any change (a new
event, an activation, a new "Popular now", a catalog edit) is a new key.

Rendering, not choosing, was most of a warm page's time (issue 20: 60% of
/movie/ngcf in templates). A key holds only values (ids, labels, versions),
so a hit needs no Movie objects at all.
"""

from movie.catalog import catalog_fragment, clear_fragments


def cached(key, render):
    """render() kept under ``key``; ``key`` None renders every time."""
    return render() if key is None else catalog_fragment(("predictors", *key), render)


def reset():
    """Forget every fragment (tests, whose databases reuse primary keys)."""
    clear_fragments()
