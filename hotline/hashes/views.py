"""Banks, entries (disable for false positives), the four-eyes confirmation queue, and overruling an
inherited media verdict."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.hashes import services
from hotline.hashes.models import Bank, Entry, EntryStatus
from hotline.reports.models import Item

BANK_READERS = (Role.SENIOR_ANALYST, Role.MANAGER)
ANALYSTS = (Role.ANALYST, Role.SENIOR_ANALYST)


@role_required(*BANK_READERS)
def bank_list(request: HttpRequest) -> HttpResponse:
    banks = Bank.objects.annotate(
        active=Count("entries", filter=Q(entries__status=EntryStatus.ACTIVE)),
        disabled=Count("entries", filter=Q(entries__status=EntryStatus.DISABLED)),
        pending=Count("entries", filter=Q(entries__status=EntryStatus.PENDING)),
    ).order_by("name")
    return render(request, "hashes/bank_list.html", {"banks": banks})


@role_required(*BANK_READERS)
def bank_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bank = get_object_or_404(Bank, pk=pk)
    entries = bank.entries.order_by("-added_at", "-pk")
    if query := request.GET.get("q", "").strip().lower()[:128]:
        entries = entries.filter(value__startswith=query)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "hashes/bank_detail.html", {"bank": bank, "page": page, "q": query})


@require_POST
@role_required(Role.SENIOR_ANALYST)
def disable(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(Entry, pk=pk)
    try:
        services.disable_entry(entry, user=current_user(request), reason=request.POST.get("reason", ""))
        messages.success(request, _("The entry no longer matches."))
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("hashes:bank", pk=entry.bank_id)


@role_required(*ANALYSTS)
def pending(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    items = (Item.objects.filter(pk__in=Entry.objects.filter(status=EntryStatus.PENDING).values("source_item"))
             .exclude(pk__in=Entry.objects.filter(status=EntryStatus.PENDING, added_by=user).values("source_item"))
             .order_by("assessed_at"))
    return render(request, "hashes/pending.html", {"items": items[:100]})


@require_POST
@role_required(*ANALYSTS)
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item, pk=pk)
    try:
        count = services.confirm_entries(item, user=current_user(request), now=timezone.now())
        messages.success(request, _("%(n)d hashes confirmed into our bank.") % {"n": count})
    except services.FourEyesError as exc:
        messages.error(request, str(exc))
    return redirect("hashes:pending")


@require_POST
@role_required(*ANALYSTS)
def overrule(request: HttpRequest, pk: int) -> HttpResponse:
    from hotline.evidence.models import Media

    media = get_object_or_404(Media, pk=pk)
    try:
        services.overrule_inherited(media, user=current_user(request), reason=request.POST.get("reason", ""))
        messages.success(request, _("The inherited verdict no longer applies to this file."))
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("assessment:item", pk=media.item_id)
