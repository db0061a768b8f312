"""The site's error answers: a page for people, JSON under /api/.

Each says in a sentence what went wrong; none shows a traceback.
"""

from django.http import Http404, JsonResponse
from django.shortcuts import render


def is_api(request):
    return request.path.startswith("/api/")


def json_error(status, message, **headers):
    """{"error": message} with ``status``; headers by keyword, Retry_After -> Retry-After."""
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def error_response(request, status, heading, message):
    if is_api(request):
        return json_error(status, message)
    return render(
        request, "sitewide/error.html", {"status": status, "heading": heading, "message": message}, status=status
    )


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


def server_error(request):
    return error_response(request, 500, "Something went wrong", "The error was logged; please try again.")


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
