"""Journeys in headless chromium against the live server: a visitor's clicks
make the home page personal, a dislike changes the top picks, and "Not
interested" removes a card that stays gone after a reload; its Undo, on a
card and on a movie's page, brings it back, and the keyboard's focus stays
where the visitor was.

Each step leaves a screenshot in screenshots/foryou/<journey>-<viewport>/.
"""

import time

import pytest
from playwright.sync_api import expect

from events.models import ClickEvent
from movie.models import Movie
from predictors.tests.test_browser_onboarding import page, shoot  # noqa: F401 (its page, on this module's site)
from predictors.tests.test_recommendation_pages import MODELS, train_version
from tests.factories import make_catalog
from tests.services import VIEWPORTS, wait_until

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
    if page.viewport_name == "phone":  # one model at a time; its name above brings it into view
        last = MODELS[-1]
        page.locator(f'.compare-jump a[href="#compare-{last}"]').click()
        page.wait_for_function(
            """name => {
                const box = document.querySelector(`[data-model='${name}']`).getBoundingClientRect();
                return box.left >= 0 && box.right <= window.innerWidth + 1;
            }""",
            arg=last,
        )
        assert page.evaluate("document.documentElement.scrollWidth") == VIEWPORTS["phone"]["width"]
        shoot(page, "rows", "5-compare-last-model", full_page=False)
    page.goto("/movie/ngcf")
    expect(page.locator('[data-list="recommendations"] li.movie-card')).to_have_count(10)
    shoot(page, "rows", "6-model-page")


def active_element(page):
    """What has the keyboard focus: (tag, the element's own data-* flags, its text)."""
    return tuple(
        page.evaluate(
            """() => {
                const e = document.activeElement;
                return [e.tagName, Object.keys(e.dataset).sort().join(" "), e.textContent.trim()];
            }"""
        )
    )


def focus_becomes(page, expected, timeout=10.0):
    """Poll document.activeElement until it is ``expected`` (CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while (found := active_element(page)) != expected:
        assert time.monotonic() < deadline, f"focus is on {found}, not {expected}"
        time.sleep(0.05)


NOT_INTERESTED_BUTTON = ("BUTTON", "movieId notInterested", "Not interested")


def test_not_interested_on_a_movie_page_says_so_after_a_reload_and_undo_takes_it_back(page):
    target = Movie.objects.order_by("pk").first()
    page.goto(f"/movie/{target.pk}/")
    control = page.locator("[data-not-interested-control]")
    state = control.locator("[data-not-interested-state]")
    expect(state).to_be_hidden()
    control.locator("[data-not-interested]").focus()
    page.keyboard.press("Enter")
    expect(state).to_have_text("You marked this not interested: it is left out of your recommendations.")
    expect(control.locator("[data-not-interested]")).to_be_hidden()
    focus_becomes(page, ("BUTTON", "", "Undo"))  # the Undo that took the button's place
    wait_until(lambda: ClickEvent.objects.filter(event_type="not_interested", movie_id=target.pk).exists())
    shoot(page, "movie-not-interested", "1-marked")

    page.reload()
    expect(state).to_be_visible()
    expect(control.locator("[data-not-interested]")).to_be_hidden()
    shoot(page, "movie-not-interested", "2-marked-after-reload")
    control.get_by_role("button", name=f"Undo: show {target.title} in your recommendations again").click()
    expect(control.locator("[data-not-interested]")).to_be_visible()
    expect(state).to_be_hidden()
    focus_becomes(page, NOT_INTERESTED_BUTTON)
    wait_until(lambda: ClickEvent.objects.filter(event_type="unhidden", movie_id=target.pk).exists())
    page.reload()
    expect(control.locator("[data-not-interested]")).to_be_visible()
    expect(state).to_be_hidden()
    shoot(page, "movie-not-interested", "3-undone-after-reload")


def test_not_interested_on_a_card_leaves_an_undo_in_its_place_and_keeps_the_keyboards_place(page):
    page.goto(f"/movie/{Movie.objects.order_by('pk').first().pk}/")  # a view: history enough for the rows
    wait_until(lambda: ClickEvent.objects.filter(event_type="view").exists())
    page.goto("/")
    cards = page.locator('[data-row="top-picks"] li.movie-card')
    expect(cards).to_have_count(10)
    target = row_ids(page, "top-picks")[1]
    title = Movie.objects.get(pk=target).title
    cards.nth(1).locator("[data-not-interested]").focus()
    page.keyboard.press("Enter")
    stand_in = page.locator(f'[data-row="top-picks"] [data-dismissed-movie-id="{target}"]')
    expect(stand_in).to_contain_text(f"Left out of your recommendations: {title}.")
    focus_becomes(page, ("BUTTON", "undoCard", "Undo"))
    expect(page.locator(f'li.movie-card[data-movie-id="{target}"]')).to_have_count(0)
    wait_until(lambda: ClickEvent.objects.filter(event_type="not_interested", movie_id=target).exists())
    shoot(page, "card-undo", "1-hidden")
    # The next Tab goes on to the next card, as it would have from the hidden one.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('li.movie-card').dataset.movieId") == str(
        row_ids(page, "top-picks")[1]
    )

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator(f'[data-row="top-picks"] li.movie-card[data-movie-id="{target}"]')).to_be_visible()
    expect(stand_in).to_have_count(0)
    focus_becomes(page, NOT_INTERESTED_BUTTON)
    assert page.evaluate("() => document.activeElement.dataset.movieId") == str(target)
    wait_until(lambda: ClickEvent.objects.filter(event_type="unhidden", movie_id=target).exists())
    page.reload()
    assert target in row_ids(page, "top-picks")
    shoot(page, "card-undo", "2-undone-after-reload")
