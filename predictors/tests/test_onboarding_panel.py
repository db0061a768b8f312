"""The onboarding panel on the home page: shown to a visitor without history,
hidden once dismissed or once they have one, reopened from the menu."""

import pytest

from predictors import onboarding
from predictors.tests.test_recommendation_pages import movie_pks, store, train_version  # noqa: F401
from tests.services import Browser

pytestmark = pytest.mark.usefixtures("fresh_predictors")

PANEL = "data-onboarding "


@pytest.fixture(autouse=True)
def no_cached_groups():
    onboarding.clear_cache()
    yield
    onboarding.clear_cache()


def test_a_new_visitor_gets_the_panel_with_groups_and_the_menu_can_reopen_it(catalog):
    visitor = Browser()
    html = visitor.open("/").content.decode()
    assert PANEL in html and "Pick a few movies you like" in html
    assert html.count("data-onboarding-group") == len(onboarding.site_groups("ease").groups) >= 1
    assert 'src="/static/js/onboarding.js' in html and "<script>" not in html  # CSP: no inline script
    assert 'href="/?onboarding=open"' in html  # the menu's entry


def test_the_panel_stays_away_once_dismissed_or_once_there_is_history(catalog):
    dismissed = Browser()
    dismissed.client.cookies["onboarding_dismissed"] = "1"
    assert PANEL not in dismissed.open("/").content.decode()
    assert PANEL in dismissed.open("/?onboarding=open").content.decode()

    active = Browser()
    assert active.click(movie_pks(1)[0]).status_code == 202
    assert PANEL not in active.open("/").content.decode()
    assert PANEL in active.open("/?onboarding=open").content.decode()


def test_groups_come_from_the_trained_model_and_each_pick_button_is_a_catalog_movie(catalog, store):
    version = train_version("ease")
    html = Browser().open("/").content.decode()
    groups = onboarding.site_groups("ease")
    assert groups.source == version.label
    for group in groups.groups:
        assert group.genres[0] in html and group.examples[0] in html
        for pk in group.movie_ids:
            assert f'data-pick data-movie-id="{pk}"' in html


def test_reopened_from_the_menu_the_panel_shows_earlier_picks_as_picked(catalog):
    visitor = Browser()
    shown = onboarding.site_groups("ease").groups[0].movie_ids[0]
    assert visitor.post_events([{"type": "like", "movie_id": shown}]).status_code == 202
    html = visitor.open("/?onboarding=open").content.decode()
    assert f'data-pick data-movie-id="{shown}" aria-pressed="true"' in html
    assert "1 of 3 picks" in html and html.count('aria-pressed="true"') == 1


def test_a_pick_taken_back_is_not_picked_when_the_panel_reopens(catalog):
    visitor = Browser()
    first, second = onboarding.site_groups("ease").groups[0].movie_ids[:2]
    for pick in ({"type": "like", "movie_id": first}, {"type": "like", "movie_id": second}):
        assert visitor.post_events([pick]).status_code == 202
    # As static/js/onboarding.js sends it when a picked movie is pressed again.
    assert visitor.post_events([{"type": "like_cleared", "movie_id": first}]).status_code == 202
    html = visitor.open("/?onboarding=open").content.decode()
    assert f'data-pick data-movie-id="{first}" aria-pressed="false"' in html
    assert f'data-pick data-movie-id="{second}" aria-pressed="true"' in html
    assert "1 of 3 picks" in html
    assert "You picked this as a movie you like." in visitor.open(f"/movie/{second}/").content.decode()
    assert "You picked this as a movie you like." not in visitor.open(f"/movie/{first}/").content.decode()


def test_reopened_the_panel_takes_the_likes_from_the_history_the_page_read(catalog, monkeypatch):
    from events.stores.sql import SqlClickLogStore

    visitor = Browser()
    shown = onboarding.site_groups("ease").groups[0].movie_ids[0]
    assert visitor.post_events([{"type": "like", "movie_id": shown}]).status_code == 202
    reads, read = [], SqlClickLogStore.history_and_outbox

    def counted(store, keys, limit, event_types=None):
        reads.append(event_types)
        return read(store, keys, limit, event_types)

    monkeypatch.setattr(SqlClickLogStore, "history_and_outbox", counted)
    html = visitor.open("/?onboarding=open").content.decode()
    assert f'data-pick data-movie-id="{shown}" aria-pressed="true"' in html
    assert len(reads) == 1  # the history once, for the rows and the panel


def test_picks_stay_picked_after_more_clicks_than_the_page_reads(catalog):
    visitor = Browser()
    shown = onboarding.site_groups("ease").groups[0].movie_ids[0]
    assert visitor.post_events([{"type": "like", "movie_id": shown}]).status_code == 202
    clicked = movie_pks(1)[0]
    for _ in range(2):  # 60 clicks: more than the page's HISTORY_LIMIT newest events
        assert visitor.post_events([{"type": "click", "movie_id": clicked}] * 30).status_code == 202
    html = visitor.open("/?onboarding=open").content.decode()
    assert f'data-pick data-movie-id="{shown}" aria-pressed="true"' in html
    assert "1 of 3 picks" in html


def test_genres_standing_in_for_a_failing_model_are_not_kept_once_it_loads(catalog, store, monkeypatch):
    from predictors import serving

    version = train_version("ease")
    predictor = serving.get_predictor("ease")

    def fails():
        raise RuntimeError("artifact unreadable")

    monkeypatch.setattr(predictor, "current", fails)
    assert "Grouped by genre" in Browser().open("/").content.decode()
    monkeypatch.undo()
    html = Browser().open("/").content.decode()
    assert "Grouped by genre" not in html and onboarding.site_groups("ease").source == version.label
