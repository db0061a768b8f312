"""The site's settings with bench_clicks.py's URL conf (the site plus a bare
POST view); for the click benchmark only, never in production."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_clicks_urls"
