"""Journeys in headless chromium against the live server: a visitor's clicks
make the home page personal, a dislike changes the top picks, and "Not
interested" removes a card that stays gone after a reload.

Each step leaves a screenshot in screenshots/foryou/rows-<viewport>/.
"""

import pytest
from playwright.sync_api import expect

from movie.models import Movie
from predictors.tests.test_browser_onboarding import page, shoot  # noqa: F401 (its page, on this module's site)
from predictors.tests.test_recommendation_pages import MODELS, train_version
from tests.factories import make_catalog

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_predictors")]


@pytest.fixture
def site(live_server, transactional_db, settings, tmp_path):
    settings.MOVIELENS_DATASET = "test-catalog"
    settings.MODEL_STORE_URI = str(tmp_path / "models")
    settings.PRIMARY_MODEL = "ease"
    make_catalog("test-catalog", n_movies=60)
    for name in MODELS:
        train_version(name)
    return live_server


def row_ids(page, kind):
    cards = page.locator(f'[data-row="{kind}"] li.movie-card')
    return [int(pk) for pk in cards.evaluate_all("cards => cards.map(c => c.dataset.movieId)")]


def rate(page, stars):
    """Rate the open movie page with the stars (desktop) or the list (phone)."""
    widget = page.locator("[data-rating-widget]")
    select = widget.locator("[data-rating-select]")
    if select.is_visible():
        select.select_option(str(stars))
    else:
        widget.locator(f'[data-rating="{stars}"]').click()
    expect(widget.locator(".rating-value")).to_have_text(f"{stars} / 5")  # shown once the server stored it


def test_clicks_make_home_personal_a_dislike_changes_it_and_not_interested_stays_gone(page):
    page.goto("/")
    expect(page.locator("[data-home-rows]")).to_have_count(0)
    first, second = Movie.objects.order_by("-rating_count", "pk").values_list("pk", flat=True)[:2]
    for movie_id in (first, second):
        page.goto("/")
        page.locator(f'.movie-card[data-movie-id="{movie_id}"] a.poster-link').first.click()
        page.wait_for_url(f"**/movie/{movie_id}/")
        rate(page, 5)

    page.goto("/")
    expect(page.locator('[data-row="top-picks"] li.movie-card')).to_have_count(10)
    expect(page.locator('[data-row="because-liked"]').first).to_be_visible()
    expect(page.locator('[data-row="top-picks"] .because').first).to_contain_text("Because you liked")
    shoot(page, "rows", "1-home-rows")
    before = row_ids(page, "top-picks")

    # A dislike of a popular movie (in no personal row) changes the top picks.
    disliked = row_ids(page, "popular")[0]
    page.goto(f"/movie/{disliked}/")
    rate(page, 1)
    page.goto("/")
    after = row_ids(page, "top-picks")
    assert after != before and disliked not in after
    shoot(page, "rows", "2-after-dislike")

    # "Not interested" takes the card off at once, and a reload does not bring it back.
    target = after[0]
    card = page.locator(f'[data-row="top-picks"] li.movie-card[data-movie-id="{target}"]')
    card.locator("[data-not-interested]").click()
    expect(card).to_have_count(0)  # removed once the server accepted the event (hidden at once before that)
    shoot(page, "rows", "3-not-interested")
    page.reload()
    expect(page.locator('[data-row="top-picks"] li.movie-card')).to_have_count(10)
    expect(page.locator(f'li.movie-card[data-movie-id="{target}"]')).to_have_count(0)
    shoot(page, "rows", "4-after-reload")

    page.goto("/compare/")
    for name in MODELS:
        expect(page.locator(f'[data-list="compare-{name}"] li.movie-card')).to_have_count(10)
    expect(page.locator(f'li.movie-card[data-movie-id="{target}"]')).to_have_count(0)
    shoot(page, "rows", "5-compare")
    page.goto("/movie/ngcf")
    expect(page.locator('[data-list="recommendations"] li.movie-card')).to_have_count(10)
    shoot(page, "rows", "6-model-page")
