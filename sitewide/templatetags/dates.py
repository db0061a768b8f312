"""{% when moment %}: a date and time as every page of the site writes it,
"3 Dec 2026, 14:05" in the site's time zone, inside a <time> element whose
datetime attribute gives the exact moment to machines. One tag, so the
activity list and the comments cannot drift apart again."""

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

register = template.Library()

DATETIME_FORMAT = "j M Y, H:i"


@register.simple_tag
def when(moment, css_class=""):
    if moment is None:
        return ""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    shown = dateformat.format(moment, DATETIME_FORMAT)
    if css_class:
        return format_html('<time class="{}" datetime="{}">{}</time>', css_class, moment.isoformat(), shown)
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), shown)
