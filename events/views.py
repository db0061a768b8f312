"""POST /api/events: the browser's clicks, detail views and ratings.

Thin on purpose: the rules live in events/ingest.py. CSRF is checked by the
middleware like any other write (the script sends the X-CSRFToken header).
"""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpResponse, RawPostDataException
from django.views.decorators.http import require_POST

from events import ingest
from events.records import InvalidEvent
from events.visitors import event_post_visitor_key, is_retired
from sitewide.database import is_unavailable, log_unavailable, waits_for_database
from sitewide.errors import json_error


@waits_for_database
@require_POST
def post_events(request):
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.EVENTS_MAX_BODY_BYTES:
        return json_error(413, _too_big())
    key = event_post_visitor_key(request)
    if key is None:
        # A new id per cookie-less POST would make every request a new visitor
        # (and step around the per-visitor limit): the page sets the cookie first.
        return json_error(
            403, "Events need the visitor cookie the site's pages set: load a page of the site, then send events."
        )
    if is_retired(key):
        return json_error(403, "This visitor id now belongs to an account: log in to send events.")
    try:
        accepted = ingest.accept(request.body, key, request.META.get("REMOTE_ADDR"))
    except RequestDataTooBig:
        return json_error(413, _too_big())
    except RawPostDataException:  # a multipart form: the CSRF check has read its stream already
        return json_error(400, "body must be JSON, sent as application/json, not a form.")
    except InvalidEvent as error:
        return json_error(400, str(error))
    except ingest.RateLimited as limited:
        return json_error(429, str(limited), Retry_After=str(limited.retry_after))
    except DatabaseError as error:
        if not is_unavailable(error):
            raise  # a bug (a missing table, say): the 500 path logs its traceback
        log_unavailable(error, "An events request")
        # One second, near static/js/events.js's own first delay: a rating's retry should not wait long.
        return json_error(503, "Events cannot be recorded right now; please try again.", Retry_After="1")
    answer = {"accepted": len(accepted), "ids": [event.event_id for event in accepted]}
    # The same JSON JsonResponse writes, without its encoder class built per answer.
    return HttpResponse(json.dumps(answer), content_type="application/json", status=202)


def _too_big():
    return f"Request body is larger than {settings.EVENTS_MAX_BODY_BYTES} bytes."
