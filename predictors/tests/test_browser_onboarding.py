"""Journeys in headless chromium against the live server: a new visitor goes
from an empty history to personal picks through the onboarding panel, and
deleting their activity empties the personal rows of the home page again.

Each step leaves a screenshot in screenshots/foryou/<journey>-<viewport>/.
"""

import os

import pytest
from playwright.sync_api import expect

from events.models import ClickEvent
from movie.models import Movie
from predictors import onboarding
from predictors.tests.test_recommendation_pages import train_version
from tests.factories import make_catalog
from tests.services import REPO_DIR, VIEWPORTS, launch_chromium, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_predictors")]

SCREENSHOTS = REPO_DIR / "screenshots" / "foryou"


@pytest.fixture
def site(live_server, transactional_db, settings, tmp_path):
    settings.MOVIELENS_DATASET = "test-catalog"
    settings.MODEL_STORE_URI = str(tmp_path / "models")
    make_catalog("test-catalog", n_movies=40)
    train_version("ease")
    onboarding.clear_cache()
    return live_server


@pytest.fixture(params=list(VIEWPORTS))
def page(site, request):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # the test makes between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(base_url=site.url, viewport=VIEWPORTS[request.param])
        page.set_default_timeout(15000)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.viewport_name = request.param
        yield page
        browser.close()
        assert not errors, errors  # no script error (CSP violations included)
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shoot(page, journey, step, full_page=True):
    """``full_page=False`` keeps what the viewport shows (a full page is laid out anew, scroll positions lost)."""
    folder = SCREENSHOTS / f"{journey}-{page.viewport_name}"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{step}.png"), full_page=full_page)


def card_ids(locator):
    return [int(pk) for pk in locator.evaluate_all("cards => cards.map(c => c.dataset.movieId)")]


def pick_three(page):
    panel = page.locator("[data-onboarding]")
    picks = panel.locator("[data-pick]")
    picked = []
    for index in range(3):
        button = picks.nth(index)
        picked.append(int(button.get_attribute("data-movie-id")))
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
    return picked


def test_onboarding_from_an_empty_history_to_personal_picks(page):
    page.goto("/")
    panel = page.locator("[data-onboarding]")
    expect(panel).to_be_visible()
    expect(panel.locator("h2").first).to_have_text("Pick a few movies you like")
    expect(page.locator("h1")).to_have_text("Popular movies")
    shoot(page, "onboarding", "1-first-visit")
    page.evaluate("window.sameDocument = true")  # gone if anything reloads the page

    first = panel.locator("[data-pick]").first
    first.click()
    expect(panel.locator("[data-onboarding-progress]")).to_have_text("1 of 3 picks")
    shoot(page, "onboarding", "2-one-pick")
    # Two more, the second group's "more like this group" among them.
    panel.locator("[data-onboarding-group]").nth(1).locator("[data-pick-group]").click()
    # A pick is marked once the server has it, so wait for the marks before reading them.
    expect(panel.locator('[data-pick][aria-pressed="true"]')).to_have_count(1 + onboarding.GROUP_PICKS)
    picked = [
        int(pk)
        for pk in panel.locator('[data-pick][aria-pressed="true"]').evaluate_all(
            "buttons => buttons.map(b => b.dataset.movieId)"
        )
    ]
    assert len(set(picked)) == 1 + onboarding.GROUP_PICKS

    # Without a reload, the home page's personal rows take the popular grid's place under the panel.
    top_picks = page.locator('[data-home-content] [data-row="top-picks"] .movie-card')
    expect(top_picks).to_have_count(10)
    expect(page.locator("[data-home-content] h1")).to_have_text("For you")
    expect(page.locator('[data-row="recent"] .movie-card')).to_have_count(len(picked))
    expect(panel.locator("[data-onboarding-progress]")).to_have_text(
        f"{len(picked)} picks: your recommendations are below. Pick more to refine them."
    )
    assert not set(card_ids(top_picks)) & set(picked)  # never a movie they just picked
    assert page.evaluate("window.sameDocument === true")
    shoot(page, "onboarding", "3-picks-for-you")
    wait_until(lambda: ClickEvent.objects.filter(event_type="like").count() == len(set(picked)))
    # The rows that came in work like the page's own: "Not interested" takes a card off.
    hidden = card_ids(top_picks)[0]
    top_picks.first.locator("[data-not-interested]").click()
    expect(page.locator(f'[data-row="top-picks"] .movie-card[data-movie-id="{hidden}"]')).to_have_count(0)
    wait_until(lambda: ClickEvent.objects.filter(event_type="not_interested", movie_id=hidden).exists())

    # The picks are history now: the next visit opens on personal rows, without the panel.
    page.reload()
    expect(page.locator("[data-onboarding]")).to_have_count(0)
    top_picks = page.locator('[data-row="top-picks"] .movie-card')
    expect(top_picks.first).to_be_visible()
    assert not set(card_ids(top_picks)) & {*picked, hidden}
    shoot(page, "onboarding", "4-home-after-reload")
    page.goto("/for-you/")
    recommended = page.locator('[data-list="recommendations"] .movie-card')
    expect(recommended).to_have_count(10)
    assert page.locator("[data-fallback]").count() == 0
    shoot(page, "onboarding", "5-for-you")


# Each group's row of movies: its box, and the box of each card in it (left, right, width in px).
ROWS = """rows => rows.map(row => {
  const box = row.getBoundingClientRect();
  const width = row.clientWidth;
  return {left: box.left, right: box.left + width, width: width, scrolls: row.scrollWidth > width,
          cards: Array.from(row.children).map(card => {
            const r = card.getBoundingClientRect();
            return {left: r.left, right: r.right, width: r.width};
          })};
})"""


def test_each_group_shows_its_movies_in_a_row_that_a_phone_scrolls(page):
    page.goto("/")
    rows = page.locator("[data-onboarding] .onboarding-movies").evaluate_all(ROWS)
    assert any(len(row["cards"]) >= 4 for row in rows)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # no page-wide scroll
    for row in rows:
        if page.viewport_name == "desktop":  # three a line, nothing to scroll
            assert not row["scrolls"] and all(card["right"] <= row["right"] + 1 for card in row["cards"])
            continue
        # About 28% of the row each: three cards, and a slice of the fourth that says the row goes on.
        assert all(0.26 <= card["width"] / row["width"] <= 0.30 for card in row["cards"])
        assert row["cards"][0]["left"] >= row["left"] - 1
        if len(row["cards"]) >= 4:
            fourth = row["cards"][3]
            assert row["scrolls"] and fourth["left"] <= row["right"] - 16 and fourth["right"] > row["right"]
    shoot(page, "onboarding", "0-rows")
    if page.viewport_name == "phone":
        # Narrower still, each group's column stays in the panel (1fr's automatic minimum would let a group widen it).
        page.set_viewport_size({"width": 240, "height": 844})
        assert page.locator(".onboarding-groups").evaluate("grid => grid.scrollWidth <= grid.clientWidth")


def test_rows_the_worker_cannot_see_yet_are_asked_for_again(page):
    # The first answers are 204, as from a worker that has not the picks yet
    # (another took them and the consumer has not stored them).
    asked = []

    def not_yet(route):
        asked.append(route.request.url)
        if len(asked) <= 2:
            route.fulfill(status=204, body="")
        else:
            route.continue_()

    page.route("**/for-you/rows", not_yet)
    page.goto("/")
    pick_three(page)
    expect(page.locator('[data-home-content] [data-row="top-picks"] .movie-card')).to_have_count(10)
    assert len(asked) == 3
    expect(page.locator("[data-onboarding-progress]")).to_have_text(
        "3 picks: your recommendations are below. Pick more to refine them."
    )


def focused(page):
    """document.activeElement as (tag, text)."""
    return tuple(page.evaluate("() => [document.activeElement.tagName, document.activeElement.textContent.trim()]"))


def test_the_panel_can_be_dismissed_and_reopened_from_the_menu(page):
    page.goto("/")
    page.locator("[data-onboarding-dismiss]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-onboarding]")).to_be_hidden()
    # The keyboard goes on from the page's heading under the panel, not from the top of <body>.
    assert focused(page) == ("H1", "Popular movies")
    shoot(page, "dismiss", "0-just-dismissed")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('[data-home-content]') !== null")
    page.reload()
    expect(page.locator("[data-onboarding]")).to_have_count(0)
    shoot(page, "dismiss", "1-dismissed")
    if page.viewport_name == "phone":
        page.locator("[data-menu-button]").click()
    page.get_by_role("link", name="Pick movies").click()
    expect(page.locator("[data-onboarding]")).to_be_visible()
    shoot(page, "dismiss", "2-reopened")


def test_reopened_after_three_picks_the_panel_speaks_of_the_rows_that_are_there(page):
    page.goto("/")
    picked = pick_three(page)
    wait_until(lambda: ClickEvent.objects.filter(event_type="like").count() == 3)
    page.goto("/?onboarding=open")
    panel = page.locator("[data-onboarding]")
    expect(panel.locator('[data-pick][aria-pressed="true"]')).to_have_count(3)
    expect(panel.locator("[data-onboarding-progress]")).to_have_text(
        "3 picks: your recommendations are below. Pick more to refine them."
    )
    top_picks = page.locator('[data-row="top-picks"] .movie-card')
    expect(top_picks.first).to_be_visible()
    shoot(page, "reopened", "1-three-picks")
    # A fourth pick refines the rows in place.
    fourth = panel.locator('[data-pick][aria-pressed="false"]').first
    fourth_id = int(fourth.get_attribute("data-movie-id"))
    fourth.click()
    expect(panel.locator("[data-onboarding-progress]")).to_have_text(
        "4 picks: your recommendations are below. Pick more to refine them."
    )
    expect(page.locator(f'[data-row="recent"] .movie-card[data-movie-id="{fourth_id}"]')).to_have_count(1)
    assert fourth_id not in card_ids(top_picks) and not set(card_ids(top_picks)) & set(picked)
    # Pressed again, the fourth pick is taken back, and the rows in place forget it.
    fourth = panel.locator(
        f'[data-pick][data-movie-id="{fourth_id}"]'
    ).first  # the locator above now finds the next one
    fourth.click()
    expect(fourth).to_have_attribute("aria-pressed", "false")
    expect(panel.locator("[data-onboarding-progress]")).to_have_text(
        "3 picks: your recommendations are below. Pick more to refine them."
    )
    expect(page.locator(f'[data-row="recent"] .movie-card[data-movie-id="{fourth_id}"]')).to_have_count(0)
    shoot(page, "reopened", "2-fourth-taken-back")
    page.goto("/?onboarding=open")
    expect(page.locator(f'[data-pick][data-movie-id="{fourth_id}"]')).to_have_attribute("aria-pressed", "false")


def test_deleting_ones_activity_empties_the_personal_rows(page):
    page.goto("/")
    picked = pick_three(page)
    wait_until(lambda: ClickEvent.objects.filter(event_type="like").count() == 3)
    page.goto("/")
    expect(page.locator('[data-row="top-picks"] .movie-card').first).to_be_visible()
    expect(page.locator('[data-row="recent"] .movie-card')).to_have_count(3)
    shoot(page, "activity", "0-home-with-rows")
    page.goto("/for-you/")
    expect(page.locator('[data-list="recommendations"] .movie-card')).to_have_count(10)
    assert page.locator("[data-fallback]").count() == 0

    page.goto("/activity/")
    items = page.locator('[data-list="activity"] .activity-item')
    expect(items).to_have_count(3)
    assert sorted(card_ids(items)) == sorted(picked)
    shoot(page, "activity", "1-activity")
    items.first.get_by_role("button", name="Delete").click()
    expect(page.locator(".messages")).to_contain_text("Deleted the event")
    expect(page.locator(".messages")).to_be_focused()  # so that a screen reader says what happened
    expect(items).to_have_count(2)
    shoot(page, "activity", "2-one-deleted")
    # "Delete all" asks first: unticked, the browser keeps the form (no script needed) and nothing goes.
    stored = ClickEvent.objects.count()
    page.get_by_role("button", name="Delete all my activity").click()
    confirm = page.get_by_label("Yes, delete all my activity")
    assert confirm.evaluate("box => box.validity.valueMissing")
    expect(items).to_have_count(2)
    assert ClickEvent.objects.count() == stored
    confirm.check()
    shoot(page, "activity", "3-confirm-delete-all")
    page.get_by_role("button", name="Delete all my activity").click()
    expect(page.locator("[data-empty-activity]")).to_be_visible()
    shoot(page, "activity", "4-all-deleted")
    assert ClickEvent.objects.count() == 0

    # Nothing personal is left: the model's list gives way to the popular one, the history is empty.
    page.goto("/for-you/")
    expect(page.locator("[data-fallback]")).to_have_count(1)
    expect(page.locator('[data-list="history"] li')).to_have_count(0)
    shoot(page, "activity", "5-for-you-empty")
    # ... and the home page has no personal row left: a fresh start, the panel is back.
    page.goto("/")
    expect(page.locator("[data-home-rows]")).to_have_count(0)
    expect(page.locator("[data-onboarding]")).to_be_visible()
    shoot(page, "activity", "6-home-empty")


def test_a_rating_can_be_cleared_from_the_widget(page):
    movie = Movie.objects.order_by("pk").first()
    page.goto(f"/movie/{movie.pk}/")
    widget = page.locator("[data-rating-widget]")
    expect(widget.locator("[data-rating-clear]")).to_be_hidden()
    if page.viewport_name == "phone":
        widget.locator("[data-rating-select]").select_option("4")
    else:
        widget.locator('[data-rating="4"]').click()
    expect(widget.locator(".rating-value")).to_have_text("4 / 5")
    shoot(page, "clear-rating", "1-rated")
    widget.locator("[data-rating-clear]").click()
    expect(widget.locator(".rating-value")).to_have_text("Not rated yet")
    wait_until(lambda: ClickEvent.objects.filter(event_type="rating_cleared").count() == 1)
    page.reload()
    expect(widget.locator(".rating-value")).to_have_text("Not rated yet")
    expect(widget.locator("[data-rating-clear]")).to_be_hidden()
    shoot(page, "clear-rating", "2-cleared")
