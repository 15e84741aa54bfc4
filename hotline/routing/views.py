"""Routing pages: decisions that need an analyst, an item's routing history, and the police liaison desk
(referrals list, a referral with its answer form, evidence package downloads)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, recent_auth_required, role_required
from hotline.accounts.models import Role
from hotline.assessment.access import get_item_for
from hotline.audit.services import Actor
from hotline.routing import desk, services
from hotline.routing.access import REFERRAL_READERS, get_referral_for, referrals_visible_to
from hotline.routing.forms import AnswerForm, DeskFilterForm
from hotline.routing.models import Decision, Referral
from hotline.routing.services import Package

STAFF = (Role.ANALYST, Role.SENIOR_ANALYST, Role.POLICE_LIAISON, Role.MANAGER)
PACKAGE_READERS = (Role.POLICE_LIAISON, Role.MANAGER)
PAGE_SIZE = 25


@role_required(Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER)
def attention(request: HttpRequest) -> HttpResponse:
    """Current decisions an analyst must resolve: unknown location, disputed country, missing contact."""
    page = Paginator(services.open_decisions_needing_analyst(), 50).get_page(request.GET.get("page"))
    return render(request, "routing/attention.html", {"page": page})


@role_required(*STAFF)
def item_routing(request: HttpRequest, pk: int) -> HttpResponse:
    item, user = get_item_for(request, pk), current_user(request)
    decisions = Decision.objects.filter(item=item).select_related("partner", "police").order_by("-decided_at", "-pk")
    readers = user.has_role(*REFERRAL_READERS)
    referrals = (referrals_visible_to(user) if readers else Referral.objects).filter(items=item)
    return render(request, "routing/item.html", {
        "item": item, "decisions": decisions, "referrals": referrals.select_related("police"),
        "can_open_referrals": readers, "can_download": user.has_role(*PACKAGE_READERS)})


@role_required(*REFERRAL_READERS)
def referral_list(request: HttpRequest) -> HttpResponse:
    visible = referrals_visible_to(current_user(request))
    form = DeskFilterForm(request.GET)
    rows = desk.desk_rows(desk.filtered(visible, form.filters()))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "routing/referral_list.html", {
        "page": page, "form": form, "query": query.urlencode(), "counts": desk.counts(visible),
        "now": timezone.now()})


def _detail(request: HttpRequest, referral: Referral, form: AnswerForm | None = None, *,
            status: int = 200) -> HttpResponse:
    user = current_user(request)
    can_answer = user.role == Role.POLICE_LIAISON
    context: dict[str, Any] = {
        "referral": referral, "items": referral.items.order_by("pk"), "cases": referral.cases.order_by("pk"),
        "form": (form or AnswerForm()) if can_answer else None, "now": timezone.now(),
        "can_download": user.has_role(*PACKAGE_READERS)}
    return render(request, "routing/referral_detail.html", context, status=status)


@role_required(*REFERRAL_READERS)
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_referral_for(request, pk))


@require_POST
@role_required(Role.POLICE_LIAISON)
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    """The answer form sits on the referral page: a refused answer shows that page again with its errors."""
    referral = get_referral_for(request, pk)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        return _detail(request, referral, form, status=400)
    try:
        services.record_police_answer(referral, form.cleaned_data["answer"], actor=Actor.of_user(current_user(request)),
                                      now=timezone.now(), hold_until=form.cleaned_data["hold_until"],
                                      note=form.cleaned_data["note"])
    except services.RoutingError as exc:
        field, _sep, text = str(exc).partition(": ")
        form.add_error(field if field in form.fields else None, text or str(exc))
        return _detail(request, referral, form, status=400)
    messages.success(request, _("The police answer is recorded."))
    return redirect("routing:referral", pk=pk)


def _serve(package: Package) -> HttpResponse:
    """Streamed from the spooled file (a bag can be large). Typed as HttpResponse for the access decorators,
    which are bound to views returning one; nothing here reads ``.content``."""
    response = FileResponse(package.file, as_attachment=True, filename=package.filename,
                            content_type="application/octet-stream")
    response["X-Content-SHA256"] = package.sha256
    return cast(HttpResponse, response)


@require_POST
@role_required(*PACKAGE_READERS)
@recent_auth_required
def referral_package(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_referral_for(request, pk)
    return _serve(services.download_referral_package(referral, actor=Actor.of_user(current_user(request)),
                                                     now=timezone.now()))


@require_POST
@role_required(*PACKAGE_READERS)
@recent_auth_required
def item_package(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    return _serve(services.download_item_package(item, actor=Actor.of_user(current_user(request)),
                                                 now=timezone.now()))
