"""Until the second factor is done, a logged-in session reaches only the login, second-factor and
logout pages, the public report pages, static files, ``/api/`` (bearer tokens, not sessions) and
``/healthz``. Everything else redirects to the second-factor step."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse

from hotline.accounts.session import second_factor_done

OPEN_BEFORE_SECOND_FACTOR = frozenset({
    "accounts:login", "accounts:logout", "accounts:verify", "accounts:enrol",
    "reports:form", "reports:status", "healthz",
})
OPEN_PREFIXES = ("/api/", "/healthz")


def _static_prefix() -> str:
    static: str = settings.STATIC_URL or "/static/"
    return static if static.startswith(("/", "http://", "https://")) else f"/{static}"


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.open_prefixes = (*OPEN_PREFIXES, _static_prefix())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_finish_login(request):
            target = reverse("accounts:verify")
            if request.method == "GET":
                target = f"{target}?{urlencode({'next': request.get_full_path()})}"
            return HttpResponseRedirect(target)
        return self.get_response(request)

    def _must_finish_login(self, request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or second_factor_done(request):
            return False
        if request.path_info.startswith(self.open_prefixes):
            return False
        try:
            view_name = resolve(request.path_info).view_name
        except Resolver404:
            return True  # an unknown path tells a half-logged-in session nothing either
        return view_name not in OPEN_BEFORE_SECOND_FACTOR
