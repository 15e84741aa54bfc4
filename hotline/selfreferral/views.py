"""The public self-referral page and status page (hashes only, never a file), and the analysts'
four-eyes queue (counts and qualities of hashes, never an image)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.reports.views import rate_limited
from hotline.selfreferral import services
from hotline.selfreferral.forms import CodeForm, RejectForm, SelfReferralForm
from hotline.selfreferral.models import Referral

ANALYSTS = (Role.ANALYST, Role.SENIOR_ANALYST)
# The page plays the chosen video in a <video> from a blob: URL to sample its frames; that is the
# one thing added to the site's policy (hotline.core.middleware), and only on this page. Scripts stay 'self'.
PAGE_CSP_EXTRA = "media-src 'self' blob:"


@never_cache
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    form = SelfReferralForm(request.POST or None)
    if request.method == "POST":
        limited = rate_limited(request, "self-referral", settings.HOTLINE_PUBLIC_RATE)
        if limited:
            return limited
        if form.is_valid():
            _referral, code = services.submit_referral(form.cleaned_data["hashes"], email=form.cleaned_data["email"],
                                               language=get_language() or "")
            return render(request, "selfreferral/thanks.html", {"code": code})
    # The page's script fills in %(count)s and %(name)s: translated here, since a template's {% translate %} of a
    # literal holding "%" looks up another message id (Django doubles the sign) and showed English in NL and FR.
    messages_for_script = {"done": _("Fingerprints ready for %(count)s file(s). Nothing else is sent."),
                           "failed": _("This file could not be read: %(name)s")}
    response = render(request, "selfreferral/start.html", {"form": form, "script_says": messages_for_script})
    response.csp_extra = PAGE_CSP_EXTRA  # type: ignore[attr-defined]
    return response


@never_cache
def status(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.GET or None)
    referral, shown = None, None
    if form.is_bound:
        limited = rate_limited(request, "self-referral-status", settings.HOTLINE_STATUS_RATE)
        if limited:
            return limited
        if form.is_valid():
            referral = services.find_by_code(form.cleaned_data["code"])
            if referral is None:
                form.add_error("code", _("We know no request with this code."))
            else:
                shown = services.public_status(referral)
    return render(request, "selfreferral/status.html", {"form": form, "status": shown})


@never_cache
@require_POST
def withdraw(request: HttpRequest) -> HttpResponse:
    limited = rate_limited(request, "self-referral-status", settings.HOTLINE_STATUS_RATE)
    if limited:
        return limited
    form = CodeForm(request.POST)
    referral = services.find_by_code(form.cleaned_data["code"]) if form.is_valid() else None
    if referral is None or referral.status in ("withdrawn", "rejected"):
        return render(request, "selfreferral/status.html", {"form": form, "status": None}, status=404)
    services.withdraw_referral(referral)
    return render(request, "selfreferral/status.html",
                  {"form": CodeForm(), "status": services.public_status(referral), "withdrawn": True})


@role_required(*ANALYSTS)
def queue(request: HttpRequest) -> HttpResponse:
    referrals = Referral.objects.awaiting_confirmation().annotate(
        files=Count("hashes__file_index", distinct=True),
        images=Count("hashes__file_index", filter=Q(hashes__media_kind="image"), distinct=True),
        videos=Count("hashes__file_index", filter=Q(hashes__media_kind="video"), distinct=True),
        pdqs=Count("hashes", filter=Q(hashes__signal_type="pdq")),
    ).select_related("first_confirmed_by")[:200]
    return render(request, "selfreferral/queue.html",
                  {"referrals": referrals, "me": current_user(request), "reject_form": RejectForm(auto_id=False)})


@require_POST
@role_required(*ANALYSTS)
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(Referral.objects.awaiting_confirmation(), pk=pk)
    try:
        if services.confirm_referral(referral, user=current_user(request)) == "confirmed":
            messages.success(request, _("Confirmed by two analysts: the hashes are matched from now on."))
        else:
            messages.success(request, _("Confirmed. A second analyst must confirm too."))
    except services.FourEyesError:
        messages.error(request, _("You confirmed this request already; a different analyst must confirm it."))
    return redirect("selfreferral:queue")


@require_POST
@role_required(*ANALYSTS)
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(Referral.objects.awaiting_confirmation(), pk=pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        services.reject_referral(referral, user=current_user(request), reason=form.cleaned_data["reason"])
        messages.success(request, _("The request was not accepted; its hashes will not be matched."))
    else:
        messages.error(request, _("Say why the request is not accepted."))
    return redirect("selfreferral:queue")
