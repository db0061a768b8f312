"""The pages keep movies and rendered cards per process; what visitors rely
on is that a re-import shows on the pages (another process's within
STATE_RECHECK_SECONDS, sitewide/recheck.py; inside a test's transaction at
once), and that a page's own part of a card stays its own."""

import copy

import pytest
from django.db import transaction
from django.template import engines
from django.test import RequestFactory

from movie.catalog import catalog_version, movies_by_ids
from movie.models import Dataset, Movie


def test_a_reimport_by_another_process_shows_on_the_next_page(client, catalog):
    assert "Movie 01" in client.get("/").content.decode()
    # What another process's import leaves behind: changed rows, a new fingerprint, no signal here.
    Movie.objects.filter(title="Movie 01").update(title="Renamed Classic")
    Dataset.objects.filter(pk=catalog.pk).update(fingerprint="1" * 64)
    html = client.get("/").content.decode()
    assert "Renamed Classic" in html and "Movie 01" not in html
    renamed = Movie.objects.get(title="Renamed Classic")
    assert "Renamed Classic" in client.get(f"/movie/{renamed.pk}/").content.decode()


def test_an_edit_in_this_process_shows_on_the_next_page(client, catalog):
    client.get("/")
    movie = Movie.objects.get(title="Movie 02")
    movie.title = "Edited Title"
    movie.save()
    assert "Edited Title" in client.get("/").content.decode()


def test_a_card_addon_is_rendered_with_each_page_context(catalog, settings, tmp_path):
    (tmp_path / "addon.html").write_text("<b>for {{ who }}</b>")
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0]["DIRS"], tmp_path]
    settings.TEMPLATES = templates
    page = engines["django"].from_string('{% include "movie/_movie_card.html" with card_addon="addon.html" %}')
    movie = catalog.movies.get(title="Movie 01")
    request = RequestFactory().get("/")
    first = page.render({"movie": movie, "who": "Ann"}, request)
    second = page.render({"movie": movie, "who": "Bob"}, request)
    assert "<b>for Ann</b>" in first and "<b>for Bob</b>" in second
    assert first.index("<b>for Ann</b>") < first.index("</li>") and "Movie 01" in second


def test_movies_by_ids_gives_each_caller_its_own_objects(catalog):
    ids = list(catalog.movies.order_by("pk").values_list("pk", flat=True)[:3])
    first = movies_by_ids(ids)
    first[0].visitor_rating = 4.5
    again = movies_by_ids(ids)
    assert [movie.pk for movie in again] == ids
    assert not hasattr(again[0], "visitor_rating")


def test_rendered_fragments_are_bounded_by_their_size_not_only_their_count(catalog, monkeypatch):
    from movie import catalog as catalog_module

    monkeypatch.setattr(catalog_module, "FRAGMENT_CHARACTERS", 110_000)
    monkeypatch.setattr(catalog_module, "_cache", catalog_module.CatalogCache(None))  # remade with that budget
    page = "x" * 35_000  # about a whole page's content
    for n in range(10):
        catalog_module.catalog_fragment(("page", n), lambda: page)
    fragments = catalog_module.current_cache().fragments
    assert fragments.weight <= 110_000  # three pages, of ten
    assert set(fragments.get_many([("page", n) for n in range(10)])) == {("page", 7), ("page", 8), ("page", 9)}


def test_a_bounded_cache_replacing_a_value_weighs_only_the_new_one():
    from sitewide.bounded_cache import BoundedCache

    cache = BoundedCache(10, max_weight=10)
    cache.put_many({"a": "12345"})
    cache.put_many({"a": "123456"})
    cache.put_many({"b": "1234"})
    assert cache.weight == 10 and set(cache.get_many(["a", "b"])) == {"a", "b"}
    cache.clear()
    assert cache.weight == 0


@pytest.mark.django_db(transaction=True)
def test_a_change_is_counted_again_when_its_transaction_commits(catalog):
    # Another thread may read the old rows between the change and the commit and
    # cache them under the version of the change; the commit retires that version.
    first = catalog.movies.order_by("pk")[0]
    with transaction.atomic():
        for title in ("First Edit", "Second Edit"):
            first.title = title
            first.save()
        during = catalog_version()
        hooks = [hook for _, hook, _ in transaction.get_connection().run_on_commit]
        assert len(hooks) == 1  # one for the run of changes, not one per change
    assert catalog_version() != during
