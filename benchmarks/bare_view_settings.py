"""The site's settings with bench_pages.py's URL conf (the site plus a bare
view); for the page benchmark only, never in production."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bare_view_urls"
