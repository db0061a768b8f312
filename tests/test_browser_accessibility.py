"""Accessibility as chromium draws it: text contrast (the colours
getComputedStyle gives an element's text and the first opaque background
behind it, against WCAG AA's 4.5:1 for normal text), the "Skip to
content" link a keyboard meets first, and the phone menu's Escape."""

import pytest
from playwright.sync_api import expect

from movie.models import Genre, Movie
from tests.factories import make_catalog
from tests.services import VIEWPORTS, live_chromium

pytestmark = pytest.mark.browser

AA_NORMAL_TEXT = 4.5

# [text rgba, background rgb]: the background is the nearest ancestor's that is
# not transparent (the page's own when none is), as the text is seen on it.
COLOURS = """element => {
  const rgba = value => value.match(/[\\d.]+/g).map(Number);
  const text = rgba(getComputedStyle(element).color);
  for (let node = element; node; node = node.parentElement) {
    const background = rgba(getComputedStyle(node).backgroundColor);
    if (background.length < 4 || background[3] === 1) return [text, background.slice(0, 3)];
  }
  return [text, [255, 255, 255]];
}"""


def luminance(rgb):
    channels = [c / 255 for c in rgb]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(locator):
    text, background = locator.evaluate(COLOURS)
    alpha = text[3] if len(text) == 4 else 1.0
    # Translucent text is seen mixed with its background.
    seen = [alpha * t + (1 - alpha) * b for t, b in zip(text[:3], background, strict=True)]
    lighter, darker = sorted((luminance(seen), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.fixture
def browser(live_server, transactional_db, settings):
    settings.MOVIELENS_DATASET = "contrast-catalog"
    make_catalog("contrast-catalog", n_movies=6, n_users=3)
    with live_chromium() as browser:
        yield browser


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_not_rated_yet_and_the_active_genre_chip_meet_aa_contrast(live_server, browser, viewport):
    page = browser.new_page(base_url=live_server.url, viewport=VIEWPORTS[viewport])
    page.goto(f"/movie/{Movie.objects.order_by('pk').first().pk}/")
    not_rated = page.locator(".rating-value")
    assert not_rated.inner_text() == "Not rated yet"
    assert contrast(not_rated) >= AA_NORMAL_TEXT

    genre = Genre.objects.order_by("name").first()
    page.goto(genre.get_absolute_url())
    active = page.locator(".genre-chips a.active")
    assert active.inner_text() == genre.name
    assert contrast(active) >= AA_NORMAL_TEXT


def in_view(locator):
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] > 0


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_first_tab_shows_skip_to_content_which_moves_focus_past_the_header(live_server, browser, viewport):
    page = browser.new_page(base_url=live_server.url, viewport=VIEWPORTS[viewport])
    page.goto("/genres/")
    skip = page.get_by_role("link", name="Skip to content")
    assert not in_view(skip)  # out of sight for a mouse or a finger
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert in_view(skip) and contrast(skip) >= AA_NORMAL_TEXT
    page.keyboard.press("Enter")
    assert page.evaluate("[location.hash, document.activeElement.id]") == ["#content", "content"]
    # The next Tab goes to the page's own first link, not back into the header.
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')")


def test_on_a_phone_escape_closes_the_menu_and_gives_the_focus_back_to_its_button(live_server, browser):
    page = browser.new_page(base_url=live_server.url, viewport=VIEWPORTS["phone"])
    page.goto("/genres/")
    button = page.locator("[data-menu-button]")
    menu = page.locator("#site-menu")
    button.focus()
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    assert button.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Tab")  # into the menu: its first link
    assert page.evaluate("!!document.activeElement.closest('#site-menu')")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    assert button.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.hasAttribute('data-menu-button')")

    # In the menu's search box, the first Escape closes the suggestions only; the next one, the menu.
    page.keyboard.press("Enter")
    search = menu.get_by_role("combobox", name="Search titles")
    search.fill("Movie")
    suggestions = page.get_by_role("listbox")
    expect(suggestions).to_be_visible()
    page.keyboard.press("Escape")
    expect(suggestions).to_be_hidden()
    expect(menu).to_be_visible()
    assert search.input_value() == "Movie"
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    assert page.evaluate("document.activeElement.hasAttribute('data-menu-button')")
