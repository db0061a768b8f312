"""static/js/events.js in a real browser (headless chromium via Playwright):
poster clicks, detail views and the star rating widget reach the store."""

import pytest
from playwright.sync_api import expect

from events.models import ClickEvent
from movie.models import Movie
from tests.factories import make_catalog
from tests.services import VIEWPORTS, live_chromium, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def page(live_server, transactional_db, settings):
    settings.MOVIELENS_DATASET = "browser-catalog"
    make_catalog("browser-catalog", n_movies=6, n_users=3)
    with live_chromium() as browser:
        page = browser.new_page(base_url=live_server.url)
        page.set_default_timeout(10000)
        yield page


def test_poster_click_and_detail_view_are_recorded(page):
    movie = Movie.objects.order_by("-rating_count", "title", "pk").first()
    page.goto("/")
    page.click(f'.movie-card[data-movie-id="{movie.pk}"] a.poster-link')
    page.wait_for_url(f"**/movie/{movie.pk}/")
    wait_until(lambda: ClickEvent.objects.filter(movie=movie).count() == 2)
    assert sorted(ClickEvent.objects.values_list("event_type", flat=True)) == ["click", "view"]


def test_rating_widget_saves_changes_and_shows_the_current_rating(page):
    movie = Movie.objects.order_by("pk").first()
    page.goto(f"/movie/{movie.pk}/")
    widget = page.locator("[data-rating-widget]")
    assert widget.locator(".rating-value").inner_text() == "Not rated yet"
    widget.locator('[data-rating="4"]').click()
    expect(page.locator(".rating-value")).to_have_text("4 / 5")
    widget.locator('[data-rating="2.5"]').click()
    expect(page.locator(".rating-value")).to_have_text("2.5 / 5")
    wait_until(lambda: ClickEvent.objects.filter(event_type="rating").count() == 2)

    page.reload()
    assert widget.get_attribute("data-current") == "2.5"
    assert widget.locator(".rating-star.full").count() == 2
    assert widget.locator(".rating-star.half").count() == 1


# How many stars are lit (a half star counts a half), the list's choice and the text beside them.
WIDGET_STATE = """widget => ({
  stars: Array.from(widget.querySelectorAll(".rating-star")).reduce(
    (lit, star) => lit + (star.classList.contains("full") ? 1 : star.classList.contains("half") ? 0.5 : 0), 0),
  select: widget.querySelector("[data-rating-select]").value,
  text: widget.querySelector(".rating-value").textContent,
  clear: !widget.querySelector("[data-rating-clear]").hidden,
})"""


def shows(widget, rating):
    """The stars, the list and the text all say ``rating`` (None: not rated)."""
    if rating is None:
        expected = {"stars": 0, "select": "", "text": "Not rated yet", "clear": False}
    else:
        expected = {"stars": rating, "select": f"{rating:g}", "text": f"{rating:g} / 5", "clear": True}
    expect(widget.locator(".rating-value")).to_have_text(expected["text"])  # the server has answered
    assert widget.evaluate(WIDGET_STATE) == expected


def rate(widget, rating):
    """As the visitor does it: the list where it shows (phones), else a star."""
    select = widget.locator("[data-rating-select]")
    if select.is_visible():
        select.select_option("" if rating is None else f"{rating:g}")
    elif rating is None:
        widget.locator("[data-rating-clear]").click()
    else:
        widget.locator(f'[data-rating="{rating:g}"]').click()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_stars_and_the_list_show_the_same_rating_after_every_change(page, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    movie = Movie.objects.order_by("pk").first()
    page.goto(f"/movie/{movie.pk}/")
    widget = page.locator("[data-rating-widget]")
    # Phones get the list, larger screens the stars; each is the one the visitor can use.
    assert widget.locator("[data-rating-select]").is_visible() == (viewport == "phone")
    shows(widget, None)
    rate(widget, 4)
    shows(widget, 4)
    rate(widget, 2.5)
    shows(widget, 2.5)
    wait_until(lambda: ClickEvent.objects.filter(event_type="rating").count() == 2)

    # A refused save goes back to the rating before it, in both views.
    page.route("**/api/events", lambda route: route.fulfill(status=400, json={"error": "refused"}))
    rate(widget, 1)
    expect(widget.locator(".rating-value")).to_have_text("Could not save your rating; please try again.")
    assert widget.evaluate(WIDGET_STATE)["stars"] == 2.5 and widget.evaluate(WIDGET_STATE)["select"] == "2.5"
    page.unroute("**/api/events")
    # Two quick changes: the second is sent only once the first is answered (so the server
    # keeps them in the visitor's order); both refused, back to the stored 2.5, not to the first.
    held = []
    page.route("**/api/events", lambda route: held.append(route))

    def hold_until(count):
        for _ in range(50):
            if len(held) >= count:
                break
            page.wait_for_timeout(100)
        page.wait_for_timeout(200)  # time for a second request, if one were sent too early
        assert len(held) == count

    rate(widget, 1)
    rate(widget, 5)
    hold_until(1)
    held[0].fulfill(status=400, json={"error": "refused"})
    hold_until(2)
    assert '"rating":5' in held[1].request.post_data.replace(" ", "")
    expect(widget.locator(".rating-value")).to_have_text("Saving 5 / 5…")
    held[1].fulfill(status=400, json={"error": "refused"})
    expect(widget.locator(".rating-value")).to_have_text("Could not save your rating; please try again.")
    assert widget.evaluate(WIDGET_STATE)["stars"] == 2.5 and widget.evaluate(WIDGET_STATE)["select"] == "2.5"
    page.unroute("**/api/events")

    # A reload shows the stored rating in both, whatever the browser restores in the list.
    page.reload()
    shows(widget, 2.5)
    # Clearing (the list's "Clear rating" on a phone, the "Clear" button beside the stars) empties both.
    rate(widget, None)
    shows(widget, None)
    if viewport == "desktop":  # "Clear" was pressed and hides itself: the keyboard stays in the widget
        assert page.evaluate("() => document.activeElement.closest('[data-rating-widget]') !== null")
    wait_until(lambda: ClickEvent.objects.filter(event_type="rating_cleared").count() == 1)
    page.reload()
    shows(widget, None)


def test_a_click_whose_page_left_before_it_was_sent_is_sent_by_the_next_page_once(page):
    movie = Movie.objects.order_by("-rating_count", "title", "pk").first()
    page.goto("/")
    # The endpoint unreachable: the click's POST fails and its page is gone before a retry.
    page.route("**/api/events", lambda route: route.abort())
    page.click(f'.movie-card[data-movie-id="{movie.pk}"] a.poster-link')
    page.wait_for_url(f"**/movie/{movie.pk}/")
    page.wait_for_load_state("load")
    assert ClickEvent.objects.count() == 0
    page.unroute("**/api/events")
    page.goto("/")
    wait_until(lambda: ClickEvent.objects.filter(movie=movie).count() == 2)
    page.reload()  # nothing left to send: sent once
    # The site's CSP forbids the eval that wait_for_function needs; poll from here instead.
    wait_until(lambda: page.evaluate("!window.sessionStorage.getItem('movie-events-unsent')"))
    assert sorted(ClickEvent.objects.values_list("event_type", flat=True)) == ["click", "view"]


def tap_the_left_half_of_the_fourth_star(page, tap):
    """``tap(x, y)`` lands on the fourth star's left half, which must rate a whole 4."""
    movie = Movie.objects.order_by("pk").first()
    page.goto(f"/movie/{movie.pk}/")
    widget = page.locator("[data-rating-widget]")
    fourth = widget.locator('.rating-star[data-star="4"]')
    box = fourth.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24  # WCAG 2.2 AA's smallest target
    tap(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)  # its left half, too
    shows(widget, 4)
    wait_until(lambda: ClickEvent.objects.filter(event_type="rating", rating=4).exists())


def test_on_a_phone_a_tap_on_a_star_gives_that_whole_star(page):
    page.set_viewport_size(VIEWPORTS["phone"])
    tap_the_left_half_of_the_fourth_star(page, page.mouse.click)


def test_on_a_wide_touch_screen_a_tap_on_a_star_gives_that_whole_star(live_server, page):
    # A tablet or a touch laptop: as wide as a desktop, but a finger (pointer: coarse) cannot hit a half star.
    context = page.context.browser.new_context(base_url=live_server.url, viewport=VIEWPORTS["desktop"], has_touch=True)
    try:
        touch = context.new_page()
        touch.set_default_timeout(10000)
        assert touch.evaluate("matchMedia('(pointer: coarse)').matches")
        tap_the_left_half_of_the_fourth_star(touch, touch.touchscreen.tap)
        # The halves are in the list beside the stars, as on a phone.
        assert touch.locator("[data-rating-select]").is_visible()
    finally:
        context.close()


def test_a_page_out_of_date_says_to_reload_it_rather_than_try_again(page):
    movie = Movie.objects.order_by("pk").first()
    page.goto(f"/movie/{movie.pk}/")
    widget = page.locator("[data-rating-widget]")
    # Signing in or out in another tab leaves this page's form token stale: the API answers 403.
    page.route("**/api/events", lambda route: route.fulfill(status=403, json={"error": "stale"}))
    rate(widget, 4)
    expect(widget.locator(".rating-value")).to_have_text(
        "Could not save your rating: this page is out of date. Reload it to continue."
    )
    assert widget.evaluate(WIDGET_STATE)["stars"] == 0  # back to the rating the server has
