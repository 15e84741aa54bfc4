"""Security headers on every response: a strict Content-Security-Policy (no inline script, no
outside origin) and ``no-store`` on every page a logged-in user sees; the styled 404 also with DEBUG on."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from hotline.core.views import page_not_found

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The API documentation page (Swagger UI) needs an inline bootstrap script. Exact paths only: a prefix
# would also exempt ``/api/docs-anything`` and every path under it, including 404 pages echoing input.
CSP_EXEMPT_PATHS = frozenset({"/api/docs"})


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path not in CSP_EXEMPT_PATHS:
            # A page may add directives (never scripts): e.g. the self-referral page's media-src blob:.
            extra = getattr(response, "csp_extra", "")
            response.headers.setdefault("Content-Security-Policy", f"{CSP}; {extra}" if extra else CSP)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            response.headers["Cache-Control"] = "no-store, private"
        return response


def body_too_large(request: HttpRequest) -> HttpResponse:
    """413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``HOTLINE_MAX_BODY_BYTES``): JSON on the API.

    413, not 400, because nginx in front answers 413 for the same limit (``client_max_body_size``), so a
    client sees one status whether the limit is met at nginx, gunicorn or the test client, in DEBUG or not.
    """
    limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"the request body is larger than {limit} bytes"}, status=413)
    message = _("The request is larger than %(limit)s bytes.") % {"limit": limit}
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


class BodySizeLimitMiddleware:
    """Refuse a declared body over the limit before anything reads it.

    Django checks ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only when a view or middleware reads the body, and then
    raises: a 400 page without DEBUG, a traceback page with it (the API's framework even answered 500),
    and never for a multipart upload, whose files do not count. This middleware looks at
    ``Content-Length`` first, for every method and content type. A body without one (chunked) is read
    by Django as empty.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads an unparsable length as no body
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and declared > limit:
            return body_too_large(request)
        return self.get_response(request)


class StyledNotFoundMiddleware:
    """The styled 404 page also with DEBUG on (the demo runs so), never Django's technical 404.

    The technical page lists every route of the site and echoes the exception's message (which may name
    the object that was looked up); any staff member of the demo would see it. A ``Http404`` raised by a
    view (the object-access helpers: ``get_item_for``, ``get_case_for``, ...) is answered here with the
    same page ``handler404`` gives in production; an address no route matches (no ``resolver_match``)
    too. With DEBUG off this changes nothing: ``handler404`` already renders the same page.
    Sits after the locale and authentication middleware, so the page is translated and shows the menu.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (settings.DEBUG and response.status_code == 404
                and getattr(request, "resolver_match", None) is None):
            return page_not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
