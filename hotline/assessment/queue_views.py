"""The analysts' queue: what waits (failed captures first, with their actions), filtered and paged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import ASSESSING_ROLES, REVIEWING_ROLES
from hotline.assessment import services, unavailable
from hotline.assessment.access import get_item_for, visible_items
from hotline.assessment.views import _SKIPPED
from hotline.evidence import services as evidence_services
from hotline.evidence.models import Capture
from hotline.reports.models import Item, ItemQuerySet, ItemStatus, ReportItem, Source

ASSESSORS = tuple(ASSESSING_ROLES)
PAGE_SIZE = 50
AGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


class QueueFilter(forms.Form):
    source = forms.ChoiceField(label=gettext_lazy("Source"), required=False,
                               choices=[("", gettext_lazy("any")), *Source.choices])
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, choices=[
        ("", gettext_lazy("any")), (ItemStatus.UNREACHABLE, gettext_lazy("Capture failed")),
        (ItemStatus.CAPTURED, gettext_lazy("Captured")), (ItemStatus.IN_REVIEW, gettext_lazy("Awaiting review"))])
    age = forms.ChoiceField(label=gettext_lazy("Waiting"), required=False, choices=[
        ("", gettext_lazy("any")), ("1h", gettext_lazy("over 1 hour")), ("24h", gettext_lazy("over 24 hours")),
        ("7d", gettext_lazy("over 7 days"))])
    country = forms.RegexField(label=gettext_lazy("Hosting country"), required=False, regex=r"^[A-Za-z]{2}$",
                               max_length=2, widget=forms.TextInput(attrs={"size": 3, "placeholder": "NL"}))

    def apply(self, items: ItemQuerySet) -> ItemQuerySet:
        if not self.is_valid():
            return items
        data = self.cleaned_data
        if data["source"]:
            items = items.filter(Exists(ReportItem.objects.filter(item=OuterRef("pk"),
                                                                  report__source=data["source"])))
        if data["status"]:
            items = items.filter(status=data["status"])
        if data["age"]:
            items = items.filter(first_reported_at__lte=timezone.now() - AGES[data["age"]])
        if data["country"]:
            # The hosting country of any trace of the item (tracing runs beside assessment).
            items = items.filter(pk__in=Item.objects.filter(traces__country=data["country"].upper()).values("pk"))
        return items


class UnavailableForm(forms.Form):
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=unavailable.UNAVAILABLE_CHOICES)


def _decorate(items: list[Item]) -> list[Item]:
    """Attach each item's report sources and newest capture (two queries for the whole page)."""
    ids = [item.pk for item in items]
    sources: dict[int, set[str]] = {}
    for item_id, source in ReportItem.objects.filter(item_id__in=ids).values_list("item_id", "report__source"):
        sources.setdefault(item_id, set()).add(source)
    latest: dict[int, Capture] = {}
    for capture in Capture.objects.filter(item_id__in=ids).order_by("item_id", "-started_at", "-pk"):
        latest.setdefault(capture.item_id, capture)
    labels = dict(Source.choices)
    for item in items:
        item.sources = sorted(str(labels.get(s, s)) for s in sources.get(item.pk, ()))  # type: ignore[attr-defined]
        item.last_capture = latest.get(item.pk)  # type: ignore[attr-defined]
    return items


def _section(items: ItemQuerySet, request: HttpRequest, param: str) -> Any:
    page = Paginator(items.select_related("claimed_by"), PAGE_SIZE).get_page(request.GET.get(param))
    page.object_list = _decorate(list(page.object_list))
    return page


@role_required(*ASSESSORS)
def queue(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    filters = QueueFilter(request.GET or None)
    waiting = filters.apply(Item.objects.awaiting_assessment())
    reviewing = user.has_role(*REVIEWING_ROLES)
    kept = request.GET.copy()
    for param in ("page", "failed_page", "review_page"):
        kept.pop(param, None)
    context = {
        "filters": filters,
        "query": kept.urlencode(),
        "failed": _section(waiting.filter(status=ItemStatus.UNREACHABLE), request, "failed_page"),
        "captured": _section(waiting.filter(status=ItemStatus.CAPTURED), request, "page"),
        "review": _section(filters.apply(Item.objects.awaiting_review()), request, "review_page")
        if reviewing else None,
        "new_count": Item.objects.awaiting_assessment().count(),
        "review_count": Item.objects.awaiting_review().count(),
        "unavailable_form": UnavailableForm(),
        "now": timezone.now(),
    }
    return render(request, "assessment/queue.html", context)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """To the queue with the filters the action was taken under (re-encoded: only a query string)."""
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return HttpResponseRedirect(reverse("assessment:queue") + (f"?{query}" if query else ""))


@require_POST
@role_required(*ASSESSORS)
def take_next(request: HttpRequest) -> HttpResponse:
    skipped = list(request.session.get(_SKIPPED, []))
    item = services.next_item(current_user(request), exclude=skipped)
    if item is None:
        messages.info(request, _("Nothing is waiting for you."))
        return redirect("assessment:queue")
    return redirect("assessment:item", pk=item.pk)


@require_POST
@role_required(*ASSESSORS)
def retry_capture(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    try:
        evidence_services.retry_capture_now(item, user=current_user(request))
        messages.success(request, _("Item %(pk)s will be captured again in a moment.") % {"pk": item.pk})
    except evidence_services.RetryRefused:
        messages.error(request, _("Only an item whose capture failed can be captured again."))
    return _back(request)


@require_POST
@role_required(*ASSESSORS)
def assess_unavailable(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    form = UnavailableForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose why the content is unavailable."))
        return _back(request)
    try:
        unavailable.assess_unavailable(item, form.cleaned_data["reason"], user=current_user(request))
        messages.success(request, _("Item %(pk)s assessed as unavailable.") % {"pk": item.pk})
    except services.WorkflowError as exc:
        messages.error(request, str(exc))
    return _back(request)


@require_POST
@role_required(*ASSESSORS)
def bulk_unavailable(request: HttpRequest) -> HttpResponse:
    form = UnavailableForm(request.POST)
    ids = [int(v) for v in request.POST.getlist("items") if v.isdigit()][: unavailable.MAX_BULK + 1]
    if not form.is_valid() or not ids:
        messages.error(request, _("Select items and choose why the content is unavailable."))
        return _back(request)
    items = list(visible_items(request).filter(pk__in=ids).order_by("pk"))
    try:
        if len(items) != len(set(ids)):
            raise services.WorkflowError(_("Some selected items do not exist."))
        done = unavailable.assess_unavailable_bulk(items, form.cleaned_data["reason"], user=current_user(request))
        messages.success(request, _("%(n)s items assessed as unavailable.") % {"n": len(done)})
    except services.WorkflowError as exc:
        messages.error(request, str(exc))
    return _back(request)
