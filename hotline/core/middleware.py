"""Security headers on every response: a strict Content-Security-Policy (no inline script, no
outside origin) and ``no-store`` on every page a logged-in user sees."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            response.headers["Cache-Control"] = "no-store, private"
        return response
