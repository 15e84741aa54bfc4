"""Analyst pages: item list, the item page with its timeline, assess and review (the queue: queue_views)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import ASSESSING_ROLES, Role
from hotline.assessment import services, workbench
from hotline.assessment.access import FULL_READERS, get_item_for, visible_items
from hotline.assessment.forms import ItemSearchForm, ReviewRequestForm
from hotline.assessment.models import Assessment
from hotline.audit.services import timeline
from hotline.evidence.views import MEDIA_VIEWERS
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


def _render_item(request: HttpRequest, item: Item, bench: workbench.Bench | None = None) -> HttpResponse:
    """The item page; ``bench`` is a rejected assessment to show again with its errors (status 400)."""
    user = current_user(request)
    now = timezone.now()
    mine = item.is_claimed_by(user.pk, now)
    rejected = bench is not None
    capture = item.captures.order_by("-started_at", "-pk").first()
    deciding = mine and item.status in (*AWAITING_ASSESSMENT, ItemStatus.IN_REVIEW)
    if bench is None:
        bench = workbench.build(item, capture=capture)
    cards = bench.cards if user.has_role(*MEDIA_VIEWERS) else []
    events = timeline("reports.item", item.pk)
    context = {
        "item": item,
        "capture": capture,
        "cards": cards,
        **workbench.media_context(request, item, user, now, cards, capture),
        "links": item.links.select_related("report").order_by("-report__received_at")[:200],
        "trace": item.traces.select_related("provider", "cdn").order_by("-traced_at", "-pk").first(),
        "assessments": Assessment.objects.filter(item=item).select_related("analyst", "reviews")
        .prefetch_related("media_assessments").order_by("created_at"),
        "show_notes": user.has_role(*FULL_READERS),
        "review_reasons": [e for e in events if e.action == "item.review_requested"],
        "events": events,
        "mine": mine,
        "claimed_by_other": item.claimed_by_id and not mine and item.claim_expires_at
        and item.claim_expires_at > now,
        "form": bench.form if deciding else None,
        "can_assess": user.has_role(*ASSESSORS),
        "claimable": item.status in (*AWAITING_ASSESSMENT, ItemStatus.IN_REVIEW),
        "review_form": ReviewRequestForm() if item.status == ItemStatus.ASSESSED else None,
    }
    return render(request, "assessment/item_detail.html", context, status=400 if rejected else 200)


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
    """Save the decision; with ``next=1`` (Enter / s on the workbench) go straight to the next item."""
    item = get_item_for(request, pk)
    reviewing = item.status == ItemStatus.IN_REVIEW
    capture = item.captures.order_by("-started_at", "-pk").first()
    bench = workbench.build(item, data=request.POST, capture=capture)
    user = current_user(request)
    verb = services.review_item if reviewing else services.assess_item
    try:
        if not bench.is_valid():  # still say what else is wrong, each beside its field
            raise services.AssessmentInvalid(services.check(item, bench.to_data()))
        verb(item, bench.to_data(), user=user)
    except services.AssessmentInvalid as exc:
        bench.add_errors(exc.errors)
        messages.error(request, _("The assessment is incomplete; see the marked fields."))
        return _render_item(request, item, bench)
    except services.WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect("assessment:item", pk=pk)
    messages.success(request, _("Assessment saved."))
    if request.POST.get("next") == "1":
        following = services.next_item(user, exclude=list(request.session.get(_SKIPPED, [])))
        if following is not None:
            return redirect("assessment:item", pk=following.pk)
        messages.info(request, _("Nothing is waiting for you."))
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
