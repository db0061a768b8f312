"""The site's settings with the benchmarks' URL conf (the site plus bare
views, benchmarks/bare_view_urls.py); for bench_pages.py and bench_clicks.py
only, never in production."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bare_view_urls"
