"""Login with a per-address rate limit; every login and failed attempt is audited (signals.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hotline.lib.ratelimit import allow, client_ip


class RateLimitedLoginView(LoginView):
    template_name = "accounts/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not allow("login", client_ip(request), settings.HOTLINE_LOGIN_RATE):
            response = render(request, "reports/rate_limited.html", status=429)
            response["Retry-After"] = "900"
            return response
        return super().post(request, *args, **kwargs)
