"""Public pages: the report form and the status look-up by reference."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from hotline.audit.services import Actor
from hotline.lib.ratelimit import allow, client_ip
from hotline.reports.forms import PublicReportForm, StatusForm
from hotline.reports.models import Source
from hotline.reports.services import IncomingReport, public_status, receive_reports

PUBLIC = Actor(label="public")


def rate_limited(request: HttpRequest, scope: str, rate: str) -> HttpResponse | None:
    """None while this address is within ``rate`` for ``scope``; else the public "try again later" page (429).
    Every public form (reports, reports without a URL, self-referral) answers its limit with this page."""
    if allow(scope, client_ip(request), rate):
        return None
    response = render(request, "reports/rate_limited.html", status=429)
    response["Retry-After"] = "3600"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def report_form(request: HttpRequest) -> HttpResponse:
    form = PublicReportForm(request.POST or None)
    if request.method == "POST":
        limited = rate_limited(request, "public-report", settings.HOTLINE_PUBLIC_RATE)
        if limited:
            return limited
        if form.is_valid():
            incoming = IncomingReport(
                source=Source.PUBLIC,
                urls=form.cleaned_data["urls"],
                text=form.cleaned_data["description"],
                reporter_contact=form.cleaned_data["contact"],
                language=get_language() or "",
            )
            result = receive_reports([incoming], actor=PUBLIC)[0]
            return render(request, "reports/thanks.html", {"reference": result.reference})
    return render(request, "reports/report_form.html", {"form": form})


@never_cache
def report_status(request: HttpRequest) -> HttpResponse:
    form = StatusForm(request.GET or None)
    status = None
    if form.is_bound:
        limited = rate_limited(request, "public-status", settings.HOTLINE_STATUS_RATE)
        if limited:
            return limited
        if form.is_valid():
            status = public_status(form.cleaned_data["code"])
            if status is None:
                form.add_error("code", _("We know no report with this reference."))
    return render(request, "reports/status.html", {"form": form, "status": status})
