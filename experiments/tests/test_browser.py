"""The experiment journey in a real browser (headless chromium, Playwright,
live server): staff start an experiment in the admin, a visitor clicks a
card of the interleaved row, and the dashboard counts the impression and the
click. Leaves screenshots of the dashboard at desktop and phone sizes in
screenshots/experiments/."""

import random
import re

import pytest
from playwright.sync_api import expect

from events.models import ClickEvent
from experiments.models import Experiment
from predictors.tests.test_recommendation_pages import train_version
from tests.dashboard_helpers import store
from tests.services import REPO_DIR, live_chromium, wait_until

pytestmark = pytest.mark.browser

SCREENSHOTS = REPO_DIR / "screenshots" / "experiments"
PASSWORD = "experiment pass phrase 2026"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def browser(live_server, transactional_db, catalog, store):
    from django.contrib.auth.models import User

    for name in ("ease", "gmf"):
        train_version(name)
    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    with live_chromium() as chromium:
        yield chromium, live_server.url


def test_staff_start_an_experiment_and_the_dashboard_counts_a_visitors_click(browser):
    chromium, base_url = browser
    staff = chromium.new_page(base_url=base_url, viewport={"width": 1280, "height": 900})
    staff.set_default_timeout(15000)
    staff.goto("/admin/login/?next=/admin/experiments/experiment/add/")
    staff.fill("#id_username", "operator")
    staff.fill("#id_password", PASSWORD)
    staff.click("input[type=submit]")
    staff.fill("#id_name", "EASE vs GMF on Top picks")
    staff.select_option("#id_arm_a_model", "ease")
    staff.select_option("#id_arm_b_model", "gmf")
    staff.select_option("#id_method", "team_draft")
    staff.fill("#id_traffic_percent", "100")
    staff.click("input[name=_save]")
    expect(staff.locator("[data-status]")).to_have_text("running")
    expect(staff.locator("[data-impressions]")).to_have_text("0")
    experiment = Experiment.objects.get()

    visitor = chromium.new_page(base_url=base_url)
    visitor.set_default_timeout(15000)
    visitor.goto("/")
    visitor.locator(".movie-card a.poster-link").first.click()  # a history to recommend from
    visitor.wait_for_url("**/movie/**")
    visitor.goto("/for-you/")
    row = visitor.locator("[data-impression-details]")
    expect(row).to_have_attribute("data-impression-id", re.compile(r"^[0-9a-f-]{36}$"))
    wait_until(lambda: ClickEvent.objects.filter(event_type="impression").exists())
    impression = ClickEvent.objects.get(event_type="impression")
    assert impression.details["experiment"] == experiment.pk
    clicked = impression.details["shown"][0]
    side = impression.details["credits"][0]
    row.locator(f'.movie-card[data-movie-id="{clicked}"] a.poster-link').click()
    visitor.wait_for_url(f"**/movie/{clicked}/")
    wait_until(
        lambda: ClickEvent.objects.filter(event_type="click", details__impression=str(impression.event_id)).exists()
    )

    staff.reload()
    expect(staff.locator("[data-impressions]")).to_have_text("1")
    expect(staff.locator(f'[data-side="{side}"] [data-clicks]')).to_have_text("1")
    expect(staff.locator(f'[data-side="{side}"] [data-wins]')).to_have_text("1")
    expect(staff.locator("[data-preference]")).to_contain_text("Preference for A")
    shoot(staff, "one-visitor")

    more_visitors(experiment, impression.details["shown"], 60)
    staff.reload()
    expect(staff.locator("[data-impressions]")).to_have_text("181")
    expect(staff.locator(".preference-chart")).to_be_visible()
    expect(staff.locator("[data-sign-test]")).to_contain_text("sign test")
    shoot(staff, "sixty-visitors")


def shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}-{size}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1  # nothing wider than the screen
    page.set_viewport_size({"width": 1280, "height": 900})


def more_visitors(experiment, shown, count, per_visitor=3):
    """Stored impressions and clicks of ``count`` more visitors, spread over the
    time since the start, each clicking A's cards more often than B's."""
    from datetime import UTC, datetime

    from events.records import new_event
    from events.stores import get_store
    from experiments.interleaving import team_draft
    from experiments.models import Participant
    from experiments.provider import signature

    rng = random.Random(0)
    started, now = experiment.started_at, datetime.now(UTC)
    events = []
    for number in range(count):
        key = f"session:simulated-{number}"
        Participant.objects.create(experiment=experiment, visitor_key=key)
        for repeat in range(per_visitor):
            moment = started + (now - started) * ((number * per_visitor + repeat + 1) / (count * per_visitor + 1))
            drafted, credits = team_draft(shown, list(reversed(shown)), len(shown), rng)
            details = {"experiment": experiment.pk, "surface": "top_picks", "shown": drafted, "credits": credits}
            details["nonce"] = f"{number}-{repeat}"  # a page each, as the provider makes them
            details["sig"] = signature(details, key)
            seen = new_event(key, "impression", None, now=moment, details=details)
            events.append(seen)
            for movie_id, side in zip(drafted, credits, strict=True):
                if rng.random() < (0.25 if side == "a" else 0.1):
                    events.append(new_event(key, "click", movie_id, now=moment, details={"impression": seen.event_id}))
    get_store().write(events)
