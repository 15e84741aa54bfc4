"""Security headers on every response: a strict Content-Security-Policy (no inline script, no
outside origin) and ``no-store`` on every page a logged-in user sees; the styled 404 also with DEBUG on."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

from hotline.core.views import page_not_found

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The API documentation page (Swagger UI) needs an inline bootstrap script.
_DOCS_PREFIX = "/api/docs"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_DOCS_PREFIX):
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            response.headers["Cache-Control"] = "no-store, private"
        return response


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
