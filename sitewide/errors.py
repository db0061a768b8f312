"""The site's error answers: a page for people, JSON under /api/.

Each says in a sentence what went wrong; none shows a traceback.
"""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


def is_api(request):
    return request.path.startswith("/api/")


def json_error(status, message, **headers):
    """{"error": message} with ``status``; headers by keyword, Retry_After -> Retry-After."""
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def error_response(request, status, heading, message, back_url=None):
    """The page links back to ``back_url`` (a page of this site) when given, else to the home page."""
    if is_api(request):
        return json_error(status, message)
    context = {"status": status, "heading": heading, "message": message, "back_url": back_url}
    return render(request, "sitewide/error.html", context, status=status)


def bad_request(request, exception=None):
    return error_response(request, 400, "Bad request", "The request could not be understood.")


class NotFound(Http404):
    """A 404 whose sentence was written for the visitor: page_not_found shows
    it. Django's own 404s (an unknown address, "No Movie matches the given
    query.") get the general sentence instead."""


def get_or_404(queryset, message, **lookup):
    """``queryset.get(**lookup)``, or NotFound(message)."""
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise NotFound(message) from None


def page_not_found(request, exception=None):
    message = str(exception) if isinstance(exception, NotFound) else "There is nothing at this address."
    return error_response(request, 404, "Not found", message)


def permission_denied(request, exception=None):
    """handler403: a PermissionDenied (the admin's views, staff without the
    permission) gets a sentence instead of Django's bare "403 Forbidden"."""
    return error_response(
        request, 403, "Not allowed", "Your account may not do this here; an administrator can grant the permission."
    )


def server_error(request):
    return error_response(request, 500, "Something went wrong", "The error was logged; please try again.")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form posted without a valid token (a page left open
    too long, cookies blocked) gets the site's page and a way back to the form
    instead of Django's bare 403; the API's scripts get JSON."""
    if is_api(request):
        return json_error(
            403, f"CSRF check failed: {reason} Send the X-CSRFToken header from the page's csrf-token meta tag."
        )
    return error_response(
        request,
        403,
        "Form expired",
        "Your form expired or cookies are blocked; reload the page and try again.",
        back_url=same_site_referer(request),
    )


def same_site_referer(request):
    """The page the request came from, if it is on this site; None otherwise (an open redirect is no way back)."""
    referer = request.META.get("HTTP_REFERER", "")
    return referer if on_this_site(request, referer) else None


def on_this_site(request, url):
    """Whether ``url`` stays on the host the request came to (and on https when it did)."""
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())


class MethodNotAllowedMiddleware:
    """Gives Django's 405 (require_POST, require_safe) a body. It has none, and
    a browser shows an empty one as a blank "HTTP ERROR 405" page. The body is
    written into the response in place, so the headers other middleware set
    (Allow, X-Frame-Options, ...) stay whatever the order."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and not response.content:
            allowed = response.get("Allow", "")
            explained = error_response(
                request,
                405,
                "Method not allowed",
                f"{request.method} is not accepted at this address; use {allowed.replace(', ', ' or ')}.",
            )
            response.content = explained.content
            response["Content-Type"] = explained["Content-Type"]
        return response
