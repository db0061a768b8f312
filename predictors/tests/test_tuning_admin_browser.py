"""The tuning section of a version's admin page in headless chromium: the
plot is drawn under the site's CSP, and the table fits a phone's width."""

import os

import pytest

from predictors.tests.test_tuning_admin import TUNING
from tests.dashboard_helpers import make_version, store  # noqa: F401
from tests.services import launch_chromium

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_the_tuning_plot_and_table_show_in_a_browser(live_server, transactional_db, store, client, size):  # noqa: F811
    from django.contrib.auth.models import User
    from playwright.sync_api import expect, sync_playwright

    User.objects.create_superuser("boss", "boss@example.com", "pw-not-used")
    client.force_login(User.objects.get())
    version = make_version(store, hyperparameters={"dim": 128, "lr": 0.003, "tuning": TUNING})
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            width, height = SIZES[size]
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_cookies(
                [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
            )
            page = context.new_page()
            problems = []
            page.on("console", lambda message: message.type == "error" and problems.append(message.text))
            page.goto(f"{live_server.url}/admin/predictors/modelversion/{version.pk}/change/")
            plot = page.locator("svg.tuning-search")
            expect(plot).to_be_visible()
            assert plot.locator("circle").count() >= 2
            expect(page.locator("table.registry-tuning tbody tr")).to_have_count(3)
            if os.environ.get("SCREENSHOT_DIR"):
                page.screenshot(path=f"{os.environ['SCREENSHOT_DIR']}/tuning-{size}.png", full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1 or size == "desktop"
            assert not problems
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
