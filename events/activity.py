"""/activity/: "Your activity", the visitor's own events, newest first, with
a delete button on each and one for all of them, which asks first (its form
has a box to tick, and a POST without the tick deletes nothing); and the
Undo of "Not interested" for a form without the page's script, which sends
the same ``unhidden`` event as the script does (events.ingest).

Logged-in users and anonymous visitors alike: a visitor is whoever their
session or cookie says (events/visitors.py), and every delete is scoped to
that visitor's keys (a user's own plus the sessions linked to them), so an
event id of someone else's deletes nothing. Writes are POSTs, CSRF-checked by
the middleware like every form. ``events.history.delete_history`` deletes
from the store and from the outbox (accepted, not yet stored).
"""

import logging

from django.contrib import messages
from django.db import DatabaseError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST, require_safe

from events import ingest
from events.history import delete_history, visitor_history
from events.records import InvalidEvent, check_event_id
from events.stores import StoreUnavailable
from events.visitors import is_retired, visitor_key
from movie.models import Movie
from sitewide.database import is_unavailable, log_unavailable
from sitewide.errors import error_response
from sitewide.numbers import whole_number

log = logging.getLogger(__name__)

ACTIVITY_LIMIT = 500
# What the visitor did; impressions (what the site showed them) are deleted with "all" but not listed.
LISTED_TYPES = ("click", "view", "rating", "rating_cleared", "like", "like_cleared", "not_interested", "unhidden")
DESCRIPTIONS = {
    "click": "Opened from a list",
    "view": "Viewed",
    "rating": "Rated",
    "rating_cleared": "Cleared the rating of",
    "like": "Liked",
    "like_cleared": "Took back the like of",
    "not_interested": "Not interested in",
    "unhidden": "Took back \u201cnot interested\u201d in",
}


def listed_events(key):
    """The visitor's listed events, newest first: {event, movie (None when no
    longer in the catalog), description}."""
    events = visitor_history(key, ACTIVITY_LIMIT, event_types=LISTED_TYPES) if key else []
    movies = Movie.objects.in_bulk({event.movie_id for event in events})
    return [
        {"event": event, "movie": movies.get(event.movie_id), "description": DESCRIPTIONS[event.event_type]}
        for event in events
    ]


def _retired(request, key, doing):
    """A 403 when ``key`` is an anonymous id that a login linked to an account
    (someone kept a copy of the cookie): that history is the user's now."""
    if key is None or not is_retired(key):
        return None
    return error_response(
        request, 403, "Log in", f"This visitor id now belongs to an account: log in to {doing} your activity."
    )


@require_safe
def activity_page(request):
    key = visitor_key(request, create=False)
    if refused := _retired(request, key, "see"):
        return refused
    return render(request, "events/activity.html", {"entries": listed_events(key)})


def _deleted(request, event_ids):
    key = visitor_key(request, create=False)
    if key is None:
        return redirect("activity")
    if refused := _retired(request, key, "delete"):
        return refused
    try:
        deleted = delete_history(key, event_ids)
    except (StoreUnavailable, DatabaseError):
        log.exception("Activity could not be deleted")
        return error_response(request, 503, "Try again", "Your activity cannot be deleted right now; please try again.")
    if event_ids is not None and not deleted:
        return error_response(
            request, 404, "Not found", "That event is not in your activity (it may be deleted already)."
        )
    messages.success(request, "Deleted the event from your activity." if event_ids else "Deleted all your activity.")
    return redirect("activity")


@require_POST
def delete_one(request):
    try:
        event_id = check_event_id(request.POST.get("event_id", ""))
    except InvalidEvent:
        return error_response(request, 400, "Bad request", "event_id must be the id of one of your events.")
    return _deleted(request, [event_id])


@require_POST
def delete_all(request):
    if request.POST.get("confirm") != "all":
        return error_response(
            request,
            400,
            "Please confirm",
            'Nothing was deleted: tick "Yes, delete all my activity" beside the button to confirm it.',
            back_url=reverse("activity"),
        )
    return _deleted(request, None)


@require_POST
def undo_not_interested(request):
    """The movie page's Undo of "Not interested" as a plain form (the page's
    script sends the event itself): an ``unhidden`` event, taken in as any
    event is, which puts the movie back in the visitor's lists; then back to
    the movie's page."""
    movie_id = whole_number(request.POST.get("movie_id", ""))
    if not movie_id:
        return error_response(request, 400, "Bad request", "movie_id must be the number of a movie.")
    key = visitor_key(request, create=False)
    if key is None:  # no visitor id, so nothing was marked
        return redirect("movie:detail", movie_id)
    if refused := _retired(request, key, "change"):
        return refused
    try:
        ingest.accept_one(key, "unhidden", movie_id, request.META.get("REMOTE_ADDR"))
    except InvalidEvent:  # the one rule a form's own event can break: a movie the catalog lacks
        return error_response(request, 400, "Bad request", f"There is no movie {movie_id} in the catalog to undo.")
    except ingest.RateLimited as limited:
        refused = error_response(request, 429, "Too many requests", str(limited))
        refused["Retry-After"] = str(limited.retry_after)
        return refused
    except DatabaseError as error:
        if not is_unavailable(error):
            raise  # a bug (a missing table, say): the 500 path logs its traceback
        log_unavailable(error, "An Undo of not interested")
        return error_response(request, 503, "Try again", "That cannot be undone right now; please try again.")
    return redirect("movie:detail", movie_id)


urlpatterns = [
    path("", activity_page, name="activity"),
    path("delete", delete_one, name="activity_delete"),
    path("delete-all", delete_all, name="activity_delete_all"),
    path("not-interested/undo", undo_not_interested, name="undo_not_interested"),
]
