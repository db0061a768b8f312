"""A review page in headless chromium: a display equation or a table wider
than the screen scrolls in its own box and says "scroll →", and only while
it is wider (static/js/site.js), as the window changes size; a comment
posted is shown where the page's #anchor takes the visitor."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from paper_review.models import Paper, Review
from paper_review.shipped import load_shipped_reviews
from tests.accounts import PASSWORD
from tests.services import VIEWPORTS, live_chromium, wait_until

pytestmark = pytest.mark.browser

NCF = "/paper_review/neural-collaborative-filtering/"

# Each scroll box: [its class, whether it or the equation in it is wider than it, the hint its ::after shows].
BOXES = """() => Array.from(document.querySelectorAll(".review-body :is(.math-scroll, .table-scroll)")).map(box => {
  const wider = element => element.scrollWidth > element.clientWidth + 1;
  return [box.className.split(" ")[0], wider(box) || wider(box.firstElementChild),
          getComputedStyle(box, "::after").content];
})"""
HINT = '"scroll →"'


@pytest.fixture
def page(live_server, transactional_db):
    load_shipped_reviews(Paper, Review)  # the data migration's, gone with the flush of an earlier test
    with live_chromium() as browser:
        page = browser.new_page(base_url=live_server.url, viewport=VIEWPORTS["phone"])
        page.set_default_timeout(10000)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        assert not errors, errors  # a ResizeObserver loop would be one


def hints_only_where_wider(page):
    """Every box shows the hint exactly when it overflows; -> the classes of those that do."""
    boxes = []

    def agree():
        boxes[:] = page.evaluate(BOXES)
        return all((content == HINT) == wider for _, wider, content in boxes)

    wait_until(agree)
    return sorted(kind for kind, wider, _ in boxes if wider)


def test_the_scroll_hint_shows_only_on_what_is_wider_than_the_screen(page):
    page.goto(NCF)
    # On a phone: the long equations and the table of live numbers, not the short equations.
    phone = hints_only_where_wider(page)
    assert "math-scroll" in phone and "table-scroll" in phone
    assert len(phone) < len(page.evaluate(BOXES))
    # The window grows (a phone turned, a browser widened): everything fits, no hint is left.
    page.set_viewport_size(VIEWPORTS["desktop"])
    assert hints_only_where_wider(page) == []
    # ... and narrowed again, the hints come back.
    page.set_viewport_size(VIEWPORTS["phone"])
    assert hints_only_where_wider(page) == phone


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_posted_comment_keeps_the_anchor_it_is_sent_to_not_the_message(page, fast_password_hashing, viewport):
    get_user_model().objects.create_user("reader", password=PASSWORD)
    page.set_viewport_size(VIEWPORTS[viewport])
    page.goto(f"/accounts/login/?next={NCF}")
    page.fill("input[name=username]", "reader")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**{NCF}")
    page.fill("textarea[name=body]", "A clear write-up.")
    page.locator("form.comment-form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*#comment-\d+$"))
    expect(page.locator(".messages")).to_have_text("Your comment was posted.")
    # The messages are focused on other pages (site.js); here the comment the URL names stays in view.
    expect(page.locator(".messages")).not_to_be_focused()
    comment = page.locator(page.evaluate("location.hash"))
    expect(comment).to_contain_text("A clear write-up.")
    expect(comment).to_be_in_viewport()
