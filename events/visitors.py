"""Who the visitor is: the logged-in user, or else a random id in a signed
cookie of its own.

A page gives a visitor without the cookie a fresh id (a cookie only: no
database row, so crawlers cost nothing). The events that page then sends at
once (a poster click with keepalive while the page navigates, the next page's
detail view, a rating) all carry the same id. A session created by the first
event POST could not do that: concurrent first POSTs each created a session
of their own, and the browser kept only the last cookie, so the other events
fell out of the visitor's history.

Login links the id's history to the user and retires the cookie, and so does
logout: a shared computer's next visitor starts with a fresh id.
"""

import secrets
import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core import signing
from django.core.cache import cache
from django.dispatch import receiver
from django.utils.functional import SimpleLazyObject

from events.models import VisitorLink

# The prefix predates this cookie (the id used to be the session key); keys
# already in the click log and in VisitorLink rows keep their meaning.
KEY_PREFIX = "session:"
# Named after the module's first home; another salt would void every visitor's cookie.
COOKIE_SALT = "movie.visitors"
_ISSUED = "_movie_visitor_id"
_RETIRE = "_movie_visitor_retire"


def visitor_key(request, create=True):
    """The visitor's key: "user:<id>" when logged in, else "session:<visitor id>".

    With ``create`` an anonymous visitor without the cookie gets a new id (the
    response sets the cookie); without it such a visitor has no key (None)
    and so no history.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return anonymous_key(request, create)


def event_post_visitor_key(request):
    """``visitor_key(request, create=False)`` for an event POST.

    A request without a session cookie is anonymous as long as its user is
    still the middleware's lazy one (Django's session login is the only way
    in, and a login during the request replaces ``request.user``), so its
    user and session are not loaded (docs/tuning.md, "Click writes"), nor
    marked read, which would add a ``Vary: Cookie`` to the answer. Only for
    answers no cache keeps: a page must still vary on the session it read."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return anonymous_key(request, create=False)
    return visitor_key(request, create=False)


def linked_keys(key):
    """A user's own key plus the sessions they used before logging in."""
    if key and key.startswith("user:"):
        links = VisitorLink.objects.filter(user_id=key.removeprefix("user:"))
        return [key, *links.values_list("session_visitor_key", flat=True)]
    return [key]


def anonymous_key(request, create=False):
    """ "session:<visitor id>" for the request's visitor, or None when they
    have no id yet and ``create`` is false. With ``create`` a new id is issued;
    ``VisitorCookieMiddleware`` puts it in the response's cookie."""
    visitor_id = getattr(request, _ISSUED, None)
    if visitor_id is None:
        visitor_id, resign = _read(request.COOKIES)
        if resign:  # the answer sets the same id signed now
            setattr(request, _ISSUED, visitor_id)
    if visitor_id is None and create:
        visitor_id = _issue(request)
    return KEY_PREFIX + visitor_id if visitor_id else None


def anonymous_key_in(cookies):
    """The key a browser's cookies ({name: value}) carry, or None."""
    visitor_id = _id_in(cookies)
    return KEY_PREFIX + visitor_id if visitor_id else None


def _id_in(cookies):
    return _read(cookies)[0]


def _read(cookies):
    """(visitor id or None, whether to re-sign it: signed the old way, without
    a time, or more than half EVENTS_VISITOR_COOKIE_AGE_SECONDS ago).

    The value is signed with its time: one older than
    EVENTS_VISITOR_COOKIE_AGE_SECONDS is refused here even if a browser kept it.
    Re-signing at half the age keeps a visitor who comes back now and then
    the same id, as a sliding expiry; one away for the whole age starts afresh."""
    name = settings.EVENTS_VISITOR_COOKIE_NAME
    if name not in cookies:
        return None, False
    value = cookies[name]
    age = settings.EVENTS_VISITOR_COOKIE_AGE_SECONDS
    verified = _verified(value)
    if verified is None:
        return None, False  # forged or from another SECRET_KEY: a new visitor
    visitor_id, signed_at = verified
    if signed_at is None:  # signed the old way, without a time
        return visitor_id, True
    elapsed = time.time() - signed_at
    if elapsed > age:
        return None, False
    return visitor_id, elapsed > age / 2


def _verified(value):
    """(visitor id, signing time or None for the old way) of a cookie value
    whose signature holds, else None. Checking a signature (key derivation and
    HMAC, per key and fallback) was a good part of an event POST's own time,
    and a visitor sends the same value again and again: the answers for values
    that held are kept per process, for the keys they were checked with."""
    keys = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    known = _verified_values.get(value)
    if known is not None and known[0] == keys:
        return known[1]
    try:
        # No max_age here: the age is checked by the caller against the signing time, on every request.
        visitor_id = _signer().unsign(value)
        verified = visitor_id, signing.b62_decode(value.rsplit(":", 2)[1])
    except (signing.BadSignature, ValueError):
        try:
            verified = signing.Signer(salt=COOKIE_SALT).unsign(value), None
        except signing.BadSignature:
            return None
    if len(_verified_values) >= VERIFIED_VALUES_KEPT:
        _verified_values.clear()  # a simple bound; the next requests check again
    _verified_values[value] = (keys, verified)
    return verified


# About a worker's working set of active visitors: ~430 bytes an entry, so
# 3.5 MB when full (issue 20 allows 100 MB a worker in all).
VERIFIED_VALUES_KEPT = 8192
_verified_values = {}


def _signer():
    # A TimestampSigner rather than set_signed_cookie's: the same one reads a
    # request's cookies and a test client's cookie jar.
    return signing.TimestampSigner(salt=COOKIE_SALT)


def _issue(request):
    visitor_id = secrets.token_urlsafe(18)
    setattr(request, _ISSUED, visitor_id)
    return visitor_id


@receiver(user_logged_in, dispatch_uid="events.visitors.link_history_on_login")
def link_history_on_login(sender, request, user, **kwargs):
    """The anonymous id's history joins the user's, once: an id linked to
    someone already stays theirs (a cookie planted from another account
    merges nothing), and a linked id sends no more events (is_retired), so
    whoever still holds the cookie cannot add to the user's history."""
    if request is None:
        return
    key = anonymous_key(request)
    if key:
        VisitorLink.objects.get_or_create(session_visitor_key=key, defaults={"user": user})
        _remember_retired(key, True)
    setattr(request, _RETIRE, True)


RETIRED_CACHE_SECONDS = 300


def is_retired(key):
    """True when anonymous ``key`` was linked to a user at a login. Read from
    the cache, the database on a miss, so a POST costs no query most of the time."""
    if not key.startswith(KEY_PREFIX):
        return False
    cache_key = f"visitor-retired:{key}"
    try:
        known = cache.get(cache_key)
    except Exception:  # noqa: BLE001 - the cache is down: ask the database
        known = None
    if known is None:
        known = VisitorLink.objects.filter(session_visitor_key=key).exists()
        _remember_retired(key, known)
    return known


def _remember_retired(key, retired):
    try:
        cache.set(f"visitor-retired:{key}", retired, timeout=RETIRED_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        pass


@receiver(user_logged_out, dispatch_uid="events.visitors.retire_id_on_logout")
def retire_id_on_logout(sender, request, **kwargs):
    if request is not None:
        setattr(request, _RETIRE, True)


class VisitorCookieMiddleware:
    """Sets the visitor-id cookie: a new id on every HTML page for an anonymous
    visitor without one (the page's script sends events next), the id an event
    POST issued, or the visitor's id signed anew when due (see ``_read``);
    deletes it at login and logout."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        name = settings.EVENTS_VISITOR_COOKIE_NAME
        if getattr(request, _RETIRE, False):
            response.delete_cookie(name, samesite="Lax")
            return response
        if _is_page_for_anonymous(request, response):
            anonymous_key(request, create=True)  # a new id, or the same re-signed when due
        issued = getattr(request, _ISSUED, None)
        if issued is not None:
            response.set_cookie(
                name,
                _signer().sign(issued),
                max_age=settings.EVENTS_VISITOR_COOKIE_AGE_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response


def _is_page_for_anonymous(request, response):
    user = getattr(request, "user", None)
    return (
        request.method == "GET"
        and response.status_code == 200
        and response.get("Content-Type", "").startswith("text/html")
        and not (user is not None and user.is_authenticated)
    )
