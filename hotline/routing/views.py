"""Routing pages: decisions that need an analyst, an item's routing history, police referrals and answers."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.assessment.access import get_item_for
from hotline.audit.services import Actor
from hotline.routing import services
from hotline.routing.forms import AnswerForm
from hotline.routing.models import Decision, Referral

STAFF = (Role.ANALYST, Role.SENIOR_ANALYST, Role.POLICE_LIAISON, Role.MANAGER)
REFERRAL_READERS = (Role.SENIOR_ANALYST, Role.POLICE_LIAISON, Role.MANAGER)


@role_required(Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER)
def attention(request: HttpRequest) -> HttpResponse:
    """Current decisions an analyst must resolve: unknown location, disputed country, missing contact."""
    page = Paginator(services.open_decisions_needing_analyst(), 50).get_page(request.GET.get("page"))
    return render(request, "routing/attention.html", {"page": page})


@role_required(*STAFF)
def item_routing(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    decisions = Decision.objects.filter(item=item).select_related("partner", "police").order_by("-decided_at", "-pk")
    return render(request, "routing/item.html", {"item": item, "decisions": decisions,
                                                 "referrals": item.referrals.select_related("police")})


@role_required(*REFERRAL_READERS)
def referral_list(request: HttpRequest) -> HttpResponse:
    referrals = Referral.objects.select_related("police").prefetch_related("items")
    if status := request.GET.get("status", ""):
        referrals = referrals.filter(status=status)
    page = Paginator(referrals, 50).get_page(request.GET.get("page"))
    return render(request, "routing/referral_list.html", {"page": page, "status": status})


@role_required(*REFERRAL_READERS)
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(Referral.objects.select_related("police"), pk=pk)
    can_answer = current_user(request).role == Role.POLICE_LIAISON
    return render(request, "routing/referral_detail.html", {
        "referral": referral, "items": referral.items.order_by("pk"), "form": AnswerForm() if can_answer else None})


@require_POST
@role_required(Role.POLICE_LIAISON)
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(Referral, pk=pk)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {', '.join(str(e) for e in v)}" for k, v in form.errors.items()))
        return redirect("routing:referral", pk=pk)
    try:
        services.record_police_answer(referral, form.cleaned_data["answer"], actor=Actor.of_user(current_user(request)),
                                      now=timezone.now(), hold_until=form.cleaned_data["hold_until"],
                                      note=form.cleaned_data["note"])
        messages.success(request, _("The police answer is recorded."))
    except services.RoutingError as exc:
        messages.error(request, str(exc))
    return redirect("routing:referral", pk=pk)
