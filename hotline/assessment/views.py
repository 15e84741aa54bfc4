"""Analyst pages: item list, the item page with its timeline, assess and review (the queue: queue_views)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import ASSESSING_ROLES, Role, User
from hotline.assessment import services
from hotline.assessment.access import FULL_READERS, get_item_for, visible_items
from hotline.assessment.forms import AssessmentForm, ItemSearchForm, ReviewRequestForm
from hotline.assessment.models import Assessment
from hotline.audit.services import timeline
from hotline.evidence import services as evidence_services
from hotline.evidence import welfare
from hotline.evidence.views import MEDIA_VIEWERS, revealed_id
from hotline.reports.models import AWAITING_ASSESSMENT, Item, ItemStatus

ASSESSORS = tuple(ASSESSING_ROLES)
READERS = (*FULL_READERS, Role.POLICE_LIAISON)
_SKIPPED = "skipped_items"


@role_required(*READERS)
def item_list(request: HttpRequest) -> HttpResponse:
    form = ItemSearchForm(request.GET or None)
    items = visible_items(request).order_by("-last_reported_at", "-pk")
    if form.is_valid():
        if query := form.cleaned_data["q"]:
            items = items.filter(Q(canonical_url__icontains=query) | Q(host__icontains=query))
        if status := form.cleaned_data["status"]:
            items = items.filter(status=status)
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    return render(request, "assessment/item_list.html", {"form": form, "page": page})


@role_required(*READERS)
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_item(request, get_item_for(request, pk))


def _render_item(request: HttpRequest, item: Item, form: AssessmentForm | None = None) -> HttpResponse:
    """The item page; ``form`` is a rejected assessment to show again with its errors (status 400)."""
    user = current_user(request)
    now = timezone.now()
    mine = item.is_claimed_by(user.pk, now)
    rejected = form is not None
    if not rejected and mine and item.status in AWAITING_ASSESSMENT:
        form = AssessmentForm()
    elif not rejected and mine and item.status == ItemStatus.IN_REVIEW:
        latest = item.assessments.order_by("-created_at", "-pk").first()
        form = AssessmentForm(instance=latest, reviewing=True) if latest else None
    context = {
        "item": item,
        **_media_context(request, item, user, now),
        "links": item.links.select_related("report").order_by("-report__received_at")[:200],
        "assessments": Assessment.objects.filter(item=item).select_related("analyst", "reviews")
        .order_by("created_at"),
        "events": timeline("reports.item", item.pk),
        "mine": mine,
        "claimed_by_other": item.claimed_by_id and not mine and item.claim_expires_at
        and item.claim_expires_at > now,
        "form": form,
        "can_assess": user.has_role(*ASSESSORS),
        "claimable": item.status in (*AWAITING_ASSESSMENT, ItemStatus.IN_REVIEW),
        "review_form": ReviewRequestForm() if item.status == ItemStatus.ASSESSED else None,
    }
    return render(request, "assessment/item_detail.html", context, status=400 if rejected else 200)


def _media_context(request: HttpRequest, item: Item, user: User, now: datetime) -> dict[str, Any]:
    """The newest capture's media for analysts (blurred, counted as viewing time); nothing for others."""
    capture = item.captures.order_by("-started_at", "-pk").first()
    if capture is None or not user.has_role(*MEDIA_VIEWERS):
        return {"capture": capture, "media": [], "welfare": None}
    media = list(capture.media.order_by("pk").prefetch_related("matches__bank", "matches__entry"))
    if media:
        state = evidence_services.note_media_viewed(item, capture, len(media), user=user, now=now)
    else:
        state = welfare.current(user, now)
    return {"capture": capture, "media": media, "welfare": state, "revealed_id": revealed_id(request)}


@require_POST
@role_required(*ASSESSORS)
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    try:
        services.claim_item(item, user=current_user(request))
    except services.WorkflowError as exc:
        messages.error(request, str(exc))
    return redirect("assessment:item", pk=pk)


@require_POST
@role_required(*ASSESSORS)
def release(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    skip = request.POST.get("skip") == "1"
    try:
        services.release_item(item, user=current_user(request), skipped=skip)
    except services.WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect("assessment:item", pk=pk)
    if skip:
        request.session[_SKIPPED] = [*request.session.get(_SKIPPED, [])[-49:], item.pk]
    return redirect("assessment:queue")


@require_POST
@role_required(*ASSESSORS)
def assess(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    reviewing = item.status == ItemStatus.IN_REVIEW
    form = AssessmentForm(request.POST, reviewing=reviewing)
    if not form.is_valid():
        messages.error(request, _("The assessment is incomplete; see the marked fields."))
        return _render_item(request, item, form)
    verb = services.review_item if reviewing else services.assess_item
    try:
        verb(item, AssessmentForm.to_data(form.cleaned_data), user=current_user(request))
    except services.WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect("assessment:item", pk=pk)
    messages.success(request, _("Assessment saved."))
    return redirect("assessment:queue")


@require_POST
@role_required(*ASSESSORS)
def request_review(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    form = ReviewRequestForm(request.POST)
    if form.is_valid():
        try:
            services.request_review(item, user=current_user(request), reason=form.cleaned_data["reason"])
            messages.success(request, _("The item is back in the review queue."))
        except services.WorkflowError as exc:
            messages.error(request, str(exc))
    return redirect("assessment:item", pk=pk)
