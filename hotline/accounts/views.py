"""Login in two steps (password, then a TOTP or recovery code), enrolment of an authenticator,
re-authentication before sensitive actions and the user's own security page.

Every login and failed attempt is audited (signals.py and the second-factor services)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from hotline.accounts import otp
from hotline.accounts.access import current_user, recent_auth_required, safe_next
from hotline.accounts.forms import CodeForm, EnrolForm, LoginForm, ReauthForm
from hotline.accounts.models import RecoveryCode
from hotline.accounts.services import (
    AlreadyEnrolled,
    confirm_enrolment,
    confirmed_device,
    reauthenticate,
    regenerate_recovery_codes,
    start_enrolment,
    verify_second_factor,
)
from hotline.accounts.session import clear_second_factor, mark_second_factor_done, second_factor_done
from hotline.audit.services import Actor
from hotline.lib.ratelimit import allow, client_ip


def _rate_limited(request: HttpRequest, scope: str) -> HttpResponse | None:
    if allow(scope, client_ip(request), settings.HOTLINE_LOGIN_RATE):
        return None
    response = render(request, "reports/rate_limited.html", status=429)
    response["Retry-After"] = "900"
    return response


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next")
    return safe_next(request, wanted) or resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(route: str, target: str) -> str:
    return f"{reverse(route)}?{urlencode({'next': target})}"


def _complete(request: HttpRequest) -> None:
    mark_second_factor_done(request.session)
    request.session.cycle_key()  # a new session id once the session is fully trusted (fixation)


def _locked_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.error(request, _("Too many failed attempts: this account is locked for a while. Try again later."))
    return redirect("accounts:login")


class RateLimitedLoginView(LoginView):
    """Step one: the password, with a per-address rate limit; then on to the second factor."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _rate_limited(request, "login") or super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        super().form_valid(form)
        clear_second_factor(self.request.session)  # a login never inherits an earlier session's proof
        return HttpResponseRedirect(_with_next("accounts:verify", self.get_success_url()))


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """Step two: a code from the authenticator app, or a recovery code."""
    user, target = current_user(request), _next(request)
    if second_factor_done(request):
        return redirect(target)
    if confirmed_device(user) is None:
        return redirect(_with_next("accounts:enrol", target))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        limited = _rate_limited(request, "second_factor")
        if limited:
            return limited
        result = verify_second_factor(user, form.cleaned_data["code"], now=timezone.now(), ip=client_ip(request))
        if result.ok:
            _complete(request)
            if result.method == "recovery":
                messages.warning(request, _("You used a recovery code. Each works once: make new ones on your "
                                            "security page when few are left."))
            return redirect(target)
        if result.locked:
            return _locked_out(request)
        form.add_error("code", _("That code is not valid, or it has been used already."))
    return render(request, "accounts/verify.html", {"form": form})


@never_cache
@login_required
def enrol(request: HttpRequest) -> HttpResponse:
    """First login: set up an authenticator app (QR code or typed secret), confirm with a code."""
    user, target = current_user(request), _next(request)
    if confirmed_device(user) is not None:
        return redirect(target if second_factor_done(request) else _with_next("accounts:verify", target))
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        limited = _rate_limited(request, "second_factor")
        if limited:
            return limited
        codes = confirm_enrolment(user, form.cleaned_data["code"], now=timezone.now())
        if codes is not None:
            _complete(request)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": target, "first": True})
        form.add_error("code", _("That code is not valid. Check that your phone's clock is right and try the "
                                 "newest code."))
    try:
        device = start_enrolment(user)
    except AlreadyEnrolled:  # confirmed in another tab meanwhile
        return redirect(_with_next("accounts:verify", target))
    uri = otp.provisioning_uri(device.secret, user.get_username(), settings.HOTLINE_TOTP_ISSUER)
    qr = mark_safe(otp.qr_svg(uri, title=_("QR code for your authenticator app")))  # noqa: S308 - segno escapes
    return render(request, "accounts/enrol.html", {"form": form, "qr": qr, "secret": otp.grouped(device.secret)})


@never_cache
@login_required
def reauth(request: HttpRequest) -> HttpResponse:
    """Password and code again before a sensitive action; then back to where the user was."""
    user, target = current_user(request), _next(request)
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        limited = _rate_limited(request, "second_factor")
        if limited:
            return limited
        result = reauthenticate(user, form.cleaned_data["password"], form.cleaned_data["code"],
                                now=timezone.now(), ip=client_ip(request))
        if result.ok:
            mark_second_factor_done(request.session)
            return redirect(target)
        if result.locked:
            return _locked_out(request)
        form.add_error(None, _("The password or the code is not valid."))
    return render(request, "accounts/reauth.html", {"form": form})


@never_cache
@login_required
def security(request: HttpRequest) -> HttpResponse:
    """The user's own second-factor state: since when, and how many recovery codes are left."""
    user = current_user(request)
    return render(request, "accounts/security.html", {
        "device": confirmed_device(user),
        "codes_left": RecoveryCode.objects.unused().filter(user=user).count(),
    })


@never_cache
@require_POST
@recent_auth_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if confirmed_device(user) is None:
        return redirect("accounts:enrol")
    codes = regenerate_recovery_codes(user, actor=Actor.of_user(user))
    return render(request, "accounts/recovery_codes.html",
                  {"codes": codes, "next": reverse("accounts:security"), "first": False})
