"""The personal home page: rows from the primary model with their evidence,
"Popular now" that repeats nothing, "not interested" gone from every list,
the compare page, and the surface an experiment can take over."""

import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.history import visitor_history
from events.records import new_event
from events.stores import get_store
from predictors import home_rows, serving, surfaces
from predictors.tests.test_recommendation_pages import MODELS, movie_pks, train_version
from tests.factories import make_catalog
from tests.services import Browser

pytestmark = pytest.mark.usefixtures("fresh_predictors")


@pytest.fixture
def catalog(db, settings):
    """Enough movies for four full rows besides a history."""
    settings.MOVIELENS_DATASET = "test-catalog"
    return make_catalog("test-catalog", n_movies=60)


@pytest.fixture
def trained(catalog, settings, tmp_path, one_torch_thread):
    settings.MODEL_STORE_URI = str(tmp_path / "models")
    settings.PRIMARY_MODEL = "ease"
    return {name: train_version(name) for name in MODELS}


@pytest.fixture
def visitor(catalog):
    return Browser()


def rows_of(html):
    """{row kind: [movie ids]} in page order (a kind may repeat: "because-liked")."""
    rows = []
    for section in html.split('<section class="home-row"')[1:]:
        kind = re.search(r'data-row="([^"]+)"', section).group(1)
        cards = section.split("</ol>", 1)[0]
        rows.append((kind, [int(pk) for pk in re.findall(r'<li class="movie-card" data-movie-id="(\d+)"', cards)]))
    return rows


def test_a_new_visitor_gets_the_popular_page_as_before(trained, visitor):
    html = visitor.open("/").content.decode()
    assert "data-home-rows" not in html and "<h1>Popular movies</h1>" in html


def test_a_history_makes_home_personal_and_no_movie_is_in_two_rows(trained, visitor):
    liked = movie_pks(6)
    for pk in liked[:3]:
        visitor.click(pk)
    visitor.rate(liked[3], 5)
    html = visitor.open("/").content.decode()
    rows = rows_of(html)
    kinds = [kind for kind, _ in rows]
    assert kinds[0] == "top-picks" and kinds[-2:] == ["popular", "recent"]
    assert 1 <= kinds.count("because-liked") <= home_rows.BECAUSE_ROWS
    shown = [pk for _, ids in rows for pk in ids]
    assert len(shown) == len(set(shown)), "a movie is in two rows"
    recommended = [pk for kind, ids in rows if kind != "recent" for pk in ids]
    assert not set(recommended) & set(liked[:4])
    assert set(dict(rows)["recent"]) == set(liked[:4])
    # The most recently liked movie names the first "Because you liked" row.
    assert f'data-anchor="{liked[3]}"' in html
    # Top picks say why, naming movies of the history.
    named = {int(pk) for found in re.findall(r'data-because="([\d ]+)"', html) for pk in found.split()}
    assert named and named <= set(liked[:4])
    assert "Because you liked" in html and 'data-not-interested data-movie-id="' in html


def test_a_movie_only_looked_at_is_not_called_liked_until_the_visitor_says_so(trained, visitor):
    looked = movie_pks(3)
    for pk in looked:
        visitor.click(pk)
    html = visitor.open("/").content.decode()
    assert "Because you liked" not in html
    assert re.search(r'<div class="because" data-because="[\d ]+">Because you looked at <a ', html)
    assert f'Because you looked at <a href="/movie/{looked[-1]}/"' in html  # the newest one's row
    # A like of the same movie changes no weight (a view was a like to the model), only the words.
    assert visitor.post_events([{"type": "like", "movie_id": looked[-1]}]).status_code == 202
    html = visitor.open("/").content.decode()
    assert f'Because you liked <a href="/movie/{looked[-1]}/"' in html


def test_a_card_names_what_was_liked_apart_from_what_was_looked_at(catalog):
    from movie.models import Movie

    jaws, alien, pick = Movie.objects.order_by("pk")[:3]
    card = home_rows.Card(pick, [jaws, alien], None, stated=frozenset({alien.pk}))
    sentence = str(card.because_sentence)
    assert sentence.startswith(f'Because you liked <a href="{alien.get_absolute_url()}">')
    assert f'and looked at <a href="{jaws.get_absolute_url()}">' in sentence
    both = home_rows.Card(pick, [jaws, alien], None, stated=frozenset({jaws.pk, alien.pk}))
    assert str(both.because_sentence).count("liked") == 1 and "looked at" not in str(both.because_sentence)


def test_the_rows_fragment_is_the_home_pages_personal_part_for_the_onboarding_panel(trained, visitor):
    assert visitor.open("/for-you/rows").status_code == 204  # no history: nothing to put in place yet
    liked = movie_pks(3)
    assert visitor.post_events([{"type": "like", "movie_id": pk} for pk in liked]).status_code == 202
    response = visitor.open("/for-you/rows")
    fragment = response.content.decode()
    assert response.status_code == 200 and "no-cache" in response["Cache-Control"]
    assert "<html" not in fragment and "<h1>For you</h1>" in fragment
    home = visitor.open("/").content.decode()
    assert rows_of(fragment) == rows_of(home)  # the rows a reload would show
    assert 'href="/?page=1"' in fragment and "js/not_interested.js" in home


def event(kind, movie_id, rating=None):
    return new_event("session:test", kind, movie_id, rating)


def test_a_personal_home_page_reads_the_visitors_history_once(visitor):
    for pk in movie_pks(3):
        visitor.click(pk)
    with CaptureQueriesContext(connection) as queries:
        html = visitor.open("/").content.decode()
    assert "data-home-rows" in html
    # One read for the rows and the onboarding panel's "is there a history?" alike.
    history_reads = [q for q in queries if re.search(r"FROM [`\"]movie_clickevent[`\"]", q["sql"])]
    assert len(history_reads) == 1, history_reads


def test_not_interested_hides_a_movie_from_every_row(trained, rf):
    pks = movie_pks(3)
    events = [event("click", pks[0]), event("click", pks[1])][::-1]
    first = home_rows.personal_rows(rf.get("/"), "session:test", home_rows.Verdicts(events), "ease")
    target = first[0].movie_ids[0]
    events = [event("not_interested", target), *events]
    after = home_rows.personal_rows(rf.get("/"), "session:test", home_rows.Verdicts(events), "ease")
    assert all(target not in row.movie_ids for row in after)
    assert target not in home_rows.Verdicts(events).recent()


def test_popular_now_repeats_nothing_of_the_personal_rows(trained, rf):
    events = [event("click", pk) for pk in movie_pks(2)]
    rows = home_rows.personal_rows(rf.get("/"), "session:test", home_rows.Verdicts(events), "gmf")
    popular = next(row for row in rows if row.kind == home_rows.POPULAR)
    personal = {pk for row in rows if row.kind != home_rows.POPULAR for pk in row.movie_ids}
    assert popular.movie_ids and not set(popular.movie_ids) & personal


def test_an_experiment_provider_ranks_top_picks_and_its_details_reach_the_page(trained, visitor):
    pks = movie_pks(12)
    visitor.click(pks[0])
    seen = {}

    def provider(request, visitor_key, history, k, exclude):
        seen.update(history=history, exclude=set(exclude))
        return SimpleNamespace(movie_ids=pks[5:10], because={pks[5]: [pks[0]]}, details={"experiment": "t", "arm": 1})

    surfaces.register_provider(surfaces.TOP_PICKS, provider)
    try:
        html = visitor.open("/").content.decode()
    finally:
        surfaces.unregister_provider(surfaces.TOP_PICKS)
    assert seen["history"] == [(pks[0], 1.0)] and pks[0] in seen["exclude"]
    top_kind, top_ids = rows_of(html)[0]
    assert top_kind == "top-picks" and top_ids == pks[5:10]
    details = re.search(r'data-impression-details="([^"]+)"', html).group(1).replace("&quot;", '"')
    assert json.loads(details) == {"arm": 1, "experiment": "t"}


def test_the_api_gives_the_evidence_of_each_pick(trained, visitor):
    pks = movie_pks(3)
    for pk in pks:
        visitor.click(pk)
    for model_name in MODELS:
        answer = visitor.client.get("/api/recommendations", {"model": model_name}).json()
        because = [r["because"] for r in answer["recommendations"]]
        assert any(because) and all(set(named) <= set(pks) for named in because)


def test_the_compare_page_shows_the_four_lists_for_the_same_visitor(trained, visitor):
    visitor.click(movie_pks(1)[0])
    html = visitor.open("/compare/").content.decode()
    for model_name in MODELS:
        section = html.split(f'data-list="compare-{model_name}"', 1)[1].split("</ol>", 1)[0]
        assert section.count('<li class="movie-card') == 10
        assert trained[model_name].label in html


def test_the_compare_page_does_not_rename_the_home_pages_top_picks(trained, visitor):
    visitor.click(movie_pks(1)[0])
    assert visitor.open("/compare/").status_code == 200  # retitles its copy of the primary model's row "EASE"
    html = visitor.open("/").content.decode()
    heading = html.split('data-row="top-picks"', 1)[1].split("</h2>", 1)[0]
    assert "Top picks for you" in heading


def test_a_cached_model_row_is_a_fresh_copy_and_holds_no_movies(trained):
    exclude = frozenset(movie_pks(3))
    history = [(pk, 1.0) for pk in exclude]
    first, _ = home_rows.model_row("ease", history, exclude)
    home_rows.attach_movies([first])
    first.title = "renamed"
    again, result = home_rows.model_row("ease", history, exclude)
    assert again is not first and again.title == "Top picks for you" and again.movies == []
    assert result.cached and again.movie_ids == first.movie_ids
    for stored in serving.get_predictor("ease").derived._entries.values():
        assert stored.movies == [] and stored.anchor_movie is None


def test_a_cached_row_keeps_the_models_time(trained):
    exclude = frozenset(movie_pks(3))
    history = [(pk, 1.0) for pk in exclude]
    _, computed = home_rows.model_row("ease", history, exclude)
    _, reused = home_rows.model_row("ease", history, exclude)
    assert not computed.cached and reused.cached and reused.seconds == computed.seconds


def test_not_interested_through_the_endpoint_is_gone_from_every_list_at_once(trained, visitor):
    pks = movie_pks(3)
    for pk in pks:
        visitor.click(pk)
    top_kind, top_ids = rows_of(visitor.open("/").content.decode())[0]
    target = top_ids[0]
    answer = visitor.post_events([{"type": "not_interested", "movie_id": target}])
    assert answer.status_code == 202
    home = visitor.open("/").content.decode()
    assert all(target not in ids for _, ids in rows_of(home))
    for path in ("/movie/ease", "/movie/gmf", "/compare/", "/for-you/"):
        assert f'data-movie-id="{target}"' not in visitor.open(path).content.decode(), path
    api = visitor.client.get("/api/recommendations", {"model": "ngcf", "k": "50"}).json()
    assert target not in [r["movie_id"] for r in api["recommendations"]]


def test_a_later_like_brings_a_hidden_movie_back_to_recent_activity():
    events = [event("like", 7), event("not_interested", 7), event("click", 8)]  # newest first
    assert home_rows.Verdicts(events).hidden == set()
    assert home_rows.Verdicts(events[1:]).hidden == {7}


def test_the_movie_page_has_a_not_interested_control(trained, visitor):
    html = visitor.open(f"/movie/{movie_pks(1)[0]}/").content.decode()
    assert "data-not-interested-control" in html and "js/not_interested.js" in html


def control_state(html):
    """Which of the control's two parts shows: "open" (the button) or "marked" (the sentence and Undo)."""
    opened = re.search(r"<p [^>]*data-not-interested-open( hidden)?>", html)
    marked = re.search(r"<form [^>]*data-not-interested-marked[^>]*?( hidden)?>", html)
    assert bool(opened.group(1)) != bool(marked.group(1)), "exactly one part shows"
    return "marked" if opened.group(1) else "open"


def test_the_movie_page_says_it_is_marked_not_interested_until_undone(trained, visitor):
    target, other = movie_pks(2)
    page = f"/movie/{target}/"
    assert control_state(visitor.open(page).content.decode()) == "open"
    assert visitor.post_events([{"type": "not_interested", "movie_id": target}]).status_code == 202
    html = visitor.open(page).content.decode()
    assert control_state(html) == "marked" and "You marked this not interested" in html
    assert 'name="csrfmiddlewaretoken"' in html and 'action="/activity/not-interested/undo"' in html
    assert control_state(visitor.open(f"/movie/{other}/").content.decode()) == "open"
    # A later like is the movie's verdict, as in every list: no longer marked.
    assert visitor.post_events([{"type": "like", "movie_id": target}]).status_code == 202
    assert control_state(visitor.open(page).content.decode()) == "open"
    assert visitor.post_events([{"type": "not_interested", "movie_id": target}]).status_code == 202
    html = visitor.open(page).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    undone = visitor.client.post("/activity/not-interested/undo", {"movie_id": target, "csrfmiddlewaretoken": token})
    assert undone.status_code == 302
    assert control_state(visitor.open(page).content.decode()) == "open"
    assert target in dict(rows_of(visitor.open("/").content.decode()))["recent"]  # back in the lists


def hidden_from(browser):
    return home_rows.Verdicts(visitor_history(browser.visitor_key())).hidden


def test_a_movie_page_reads_the_visitors_events_once_for_rating_and_control(catalog, visitor):
    target, other = movie_pks(2)
    visitor.rate(target, 4.5)
    visitor.post_events([{"type": "not_interested", "movie_id": other}])
    for movie_id, rating, state in ((target, "4.5 / 5", "open"), (other, "Not rated yet", "marked")):
        with CaptureQueriesContext(connection) as queries:
            html = visitor.open(f"/movie/{movie_id}/").content.decode()
        assert rating in html and control_state(html) == state
        assert sum("movie_clickevent" in query["sql"] for query in queries.captured_queries) == 1


def test_a_movie_picked_as_liked_says_so_on_its_page_until_rated(catalog, visitor):
    (target,) = movie_pks(1)
    liked = "You picked this as a movie you like."
    assert liked not in visitor.open(f"/movie/{target}/").content.decode()
    visitor.post_events([{"type": "like", "movie_id": target}])  # an onboarding pick
    html = visitor.open(f"/movie/{target}/").content.decode()
    assert liked in html and "Not rated yet" in html
    visitor.rate(target, 2.0)  # a rating decides over the like, and the widget shows it
    assert liked not in visitor.open(f"/movie/{target}/").content.decode()


def test_a_rating_older_than_the_newest_events_is_still_on_the_movie_page(catalog, visitor):
    from events.history import HISTORY_LIMIT

    target, *others = movie_pks(6)
    visitor.rate(target, 2)
    clicks = [{"type": "click", "movie_id": others[n % len(others)]} for n in range(HISTORY_LIMIT)]
    for start in range(0, len(clicks), 10):
        assert visitor.post_events(clicks[start : start + 10]).status_code == 202
    assert "2 / 5" in visitor.open(f"/movie/{target}/").content.decode()


def test_undo_puts_the_movie_back_for_that_visitor_only(catalog):
    visitor, other = Browser(), Browser()
    target, kept = movie_pks(2)
    for browser, movie_id in ((visitor, target), (visitor, kept), (other, target)):
        assert browser.post_events([{"type": "not_interested", "movie_id": movie_id}]).status_code == 202
    # The Undo as static/js/not_interested.js sends it: an event, nothing deleted.
    assert visitor.post_events([{"type": "unhidden", "movie_id": target}]).status_code == 202
    assert hidden_from(visitor) == {kept} and hidden_from(other) == {target}
    # Marked again after the Undo: the newest word counts.
    assert visitor.post_events([{"type": "not_interested", "movie_id": target}]).status_code == 202
    assert hidden_from(visitor) == {kept, target}


def test_a_not_interested_stored_after_its_undo_stays_undone(catalog):
    """With Kafka the consumer may store the not_interested after the Undo's
    event (sent once the first was accepted, so it is the newer): the movie
    stays back in the lists, since the rule goes by the events' own times."""
    visitor = Browser()
    visitor.open("/")
    key, (target,), now = visitor.visitor_key(), movie_pks(1), timezone.now()
    get_store().write([new_event(key, "unhidden", target, now=now)])
    get_store().write([new_event(key, "not_interested", target, now=now - timedelta(seconds=2))])
    assert hidden_from(visitor) == set()


def test_hidden_and_recent_activity_follow_the_rule_fold_in_follows():
    # Newest first: the rating was cleared, so "not interested" is the movie's verdict.
    events = [event("rating_cleared", 7), event("rating", 7, 4.0), event("not_interested", 7), event("click", 8)]
    assert dict(home_rows.Verdicts(events).history)[7] < 0
    assert home_rows.Verdicts(events).hidden == {7}
    assert home_rows.Verdicts(events).recent() == [8]
    # A rated-then-cleared movie is no activity (and no history).
    cleared = [event("rating_cleared", 5), event("rating", 5, 4.0), event("click", 8)]
    assert home_rows.Verdicts(cleared).recent() == [8]
    # A pick taken back is no like any more, and picked again it is one.
    unpicked = [event("like_cleared", 6), event("like", 6), event("click", 8)]
    assert home_rows.Verdicts(unpicked).recent() == [8] and 6 not in home_rows.Verdicts(unpicked).stated
    repicked = [event("like", 6), *unpicked]
    assert home_rows.Verdicts(repicked).recent() == [6, 8] and 6 in home_rows.Verdicts(repicked).stated


def test_a_rated_then_cleared_movie_is_in_no_two_rows(trained, visitor):
    pks = movie_pks(4)
    for pk in pks[:3]:
        visitor.click(pk)
    visitor.rate(pks[3], 5)
    assert visitor.post_events([{"type": "rating_cleared", "movie_id": pks[3]}]).status_code == 202
    rows = rows_of(visitor.open("/").content.decode())
    shown = [pk for _, ids in rows for pk in ids]
    assert len(shown) == len(set(shown)), "a movie is in two rows"
    assert pks[3] not in dict(rows)["recent"]


def test_the_served_list_is_what_the_row_shows(trained):
    exclude = frozenset(movie_pks(5))
    row, result = home_rows.model_row("ease", [(pk, 1.0) for pk in exclude], exclude, k=3)
    assert result.movie_ids == row.movie_ids and len(row.movie_ids) == 3
    assert len(result.scores) == 3


def test_a_catalog_change_is_a_new_rows_cache_key(trained, rf, monkeypatch):
    from movie.models import Movie

    monkeypatch.setattr(surfaces, "_providers", {})  # rows are cached only while no experiment ranks top picks
    events = [event("click", pk) for pk in movie_pks(3)]
    before = home_rows.cached_personal_rows(rf.get("/"), "session:test", home_rows.Verdicts(events))[0]
    again = home_rows.cached_personal_rows(rf.get("/"), "session:test", home_rows.Verdicts(events))[0]
    assert again.cache_key == before.cache_key  # the same catalog reuses the rows and their HTML
    Movie.objects.get(pk=before.movie_ids[0]).save()  # any catalog edit (post_save) bumps its version
    after = home_rows.cached_personal_rows(rf.get("/"), "session:test", home_rows.Verdicts(events))[0]
    assert after.cache_key != before.cache_key


def test_a_registered_provider_that_is_not_live_leaves_the_row_to_the_site():
    from predictors import surfaces

    before = surfaces.provider_for(surfaces.TOP_PICKS)

    def provider(request, visitor_key, history, k, exclude):
        return None

    try:
        provider.live = lambda: False
        surfaces.register_provider(surfaces.TOP_PICKS, provider)
        assert not surfaces.taken_over(surfaces.TOP_PICKS)
        provider.live = lambda: True
        assert surfaces.taken_over(surfaces.TOP_PICKS)
    finally:
        surfaces.unregister_provider(surfaces.TOP_PICKS)
        if before is not None:
            surfaces.register_provider(surfaces.TOP_PICKS, before)


def test_the_rows_and_the_predictor_read_the_same_active_version(trained):
    versions = home_rows.active_versions()
    for model_name in MODELS:
        assert serving.get_predictor(model_name)._active_version() == versions[model_name]
        assert serving.active_versions([model_name]) == {model_name: versions[model_name]}


def test_cached_row_html_is_bounded_by_its_size(monkeypatch):
    from sitewide.bounded_cache import BoundedCache

    monkeypatch.setattr(home_rows, "_html_cache", BoundedCache(100, max_weight=50_000))
    for n in range(5):
        row = home_rows.Row(home_rows.TOP_PICKS, "Top picks for you", [], cache_key=("rows", n))
        assert home_rows.rendered_row(row, lambda r: "x" * 20_000) == "x" * 20_000
    assert home_rows._html_cache.weight == 40_000
    assert [n for n in range(5) if home_rows.is_rendered(home_rows.Row("", "", [], cache_key=("rows", n)))] == [3, 4]
