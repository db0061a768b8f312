"""Throttled log-in and sign-up, and the security headers Django does not set.

Log-in failures are counted by django-axes per (username, client address):
after ``LOGIN_FAILURE_LIMIT`` wrong passwords that pair is refused, before
any password is hashed, until the cool-off passes. Sign-ups are counted per
client address in Django's cache (shared across processes when Redis is
configured).
"""

import functools

from django.conf import settings
from django.core.cache import cache

from sitewide.errors import error_response


def client_address(request):
    return request.META.get("REMOTE_ADDR", "")


def lockout_response(request, original_response=None, credentials=None):
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = error_response(
        request,
        429,
        "Too many failed log-ins",
        f"Too many wrong passwords for this account from your address; try again in {minutes} minutes.",
    )
    response["Retry-After"] = str(minutes * 60)
    return response


def throttle_signups(view):
    """At most ``SIGNUP_RATE_LIMIT`` sign-up attempts per address and hour."""

    @functools.wraps(view)
    def throttled(request, *args, **kwargs):
        if request.method == "POST":
            key = f"signup-attempts:{client_address(request)}"
            cache.add(key, 0, timeout=3600)
            try:
                attempts = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=3600)
                attempts = 1
            if attempts > settings.SIGNUP_RATE_LIMIT:
                response = error_response(
                    request, 429, "Too many sign-ups", "Too many sign-ups from your address; try again in an hour."
                )
                response["Retry-After"] = "3600"
                return response
        return view(request, *args, **kwargs)

    return throttled


class PermissionsPolicyMiddleware:
    """Turns off browser features the site never uses, for every response."""

    POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.POLICY)
        return response
