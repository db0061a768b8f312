"""{% when %}: one way of writing a date and time on every page."""

import datetime

from django.template import Context, Template

MOMENT = datetime.datetime(2026, 12, 3, 14, 5, 9, tzinfo=datetime.UTC)


def render(source, **context):
    return Template("{% load dates %}" + source).render(Context(context))


def test_a_moment_is_written_day_month_year_and_time_in_the_site_time_zone(settings):
    assert render("{% when moment %}", moment=MOMENT) == (
        '<time datetime="2026-12-03T14:05:09+00:00">3 Dec 2026, 14:05</time>'
    )
    settings.TIME_ZONE = "Europe/Berlin"
    assert render('{% when moment css_class="when" %}', moment=MOMENT) == (
        '<time class="when" datetime="2026-12-03T15:05:09+01:00">3 Dec 2026, 15:05</time>'
    )


def test_no_moment_writes_nothing():
    assert render("{% when moment %}", moment=None) == ""
