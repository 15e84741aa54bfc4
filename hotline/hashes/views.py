"""Banks, entries (disable for false positives), the four-eyes confirmation queue, overruling an inherited
media verdict, and trust in known content: confirm pages that count what an undo touches, quarantines,
votes, provenance per file and bank health."""

from __future__ import annotations

import csv

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
from hotline.evidence.models import Media
from hotline.hashes import services
from hotline.hashes.models import Bank, Entry, EntryStatus
from hotline.hashes.services import trust
from hotline.lib import states
from hotline.reports.models import Item

BANK_READERS = (Role.SENIOR_ANALYST, Role.MANAGER)
ANALYSTS = (Role.ANALYST, Role.SENIOR_ANALYST)
UNDOERS = (Role.SENIOR_ANALYST, Role.MANAGER)
PROVENANCE_READERS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER)


@role_required(*BANK_READERS)
def bank_list(request: HttpRequest) -> HttpResponse:
    banks = Bank.objects.annotate(
        active=Count("entries", filter=Q(entries__status=EntryStatus.ACTIVE)),
        disabled=Count("entries", filter=Q(entries__status=EntryStatus.DISABLED)),
        pending=Count("entries", filter=Q(entries__status=EntryStatus.PENDING)),
    ).order_by("name")
    return render(request, "hashes/bank_list.html",
                  {"banks": banks, "quarantined": trust.open_quarantines().count()})


@role_required(*BANK_READERS)
def bank_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bank = get_object_or_404(Bank, pk=pk)
    entries = bank.entries.order_by("-added_at", "-pk")
    if query := request.GET.get("q", "").strip().lower()[:128]:
        entries = entries.filter(value__startswith=query)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "hashes/bank_detail.html", {"bank": bank, "page": page, "q": query})


def _confirm_page(request: HttpRequest, *, title: str, subject: str, source: trust.Source, action: str,
                  button: str) -> HttpResponse:
    """The count of what an undo would touch, shown before anyone confirms it (nothing is written)."""
    return render(request, "hashes/confirm_withdrawal.html", {
        "title": title, "subject": subject, "counts": trust.preview(source), "action": action, "button": button,
        "reason": request.GET.get("reason", "")[:1000]})


def _subject(entry: Entry) -> str:
    source = f" ({entry.source_id})" if entry.source_id else ""
    return f"{entry.bank.name} · {entry.get_signal_type_display()} {entry.value[:16]}…{source}"


@role_required(*UNDOERS)
def disable(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what disabling the entry would send back; POST: disable it and send it back."""
    entry = get_object_or_404(Entry.objects.select_related("bank"), pk=pk)
    if request.method != "POST":
        return _confirm_page(request, title=_("Disable an entry"), subject=_subject(entry),
                             source=trust.Source.entry(entry), action=request.path, button=_("Disable"))
    try:
        counts = trust.disable(entry, user=current_user(request), reason=request.POST.get("reason", ""))
        messages.success(request, _("The entry no longer matches; %(n)d items went back to people.")
                         % {"n": counts.get("items", 0)})
    except (ValueError, states.InvalidTransition) as exc:
        messages.error(request, str(exc))
    return redirect("hashes:bank", pk=entry.bank_id)


@role_required(Role.MANAGER)
def demote(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what taking the bank's trust away would send back; POST: do it."""
    bank = get_object_or_404(Bank, pk=pk)
    if request.method != "POST":
        return _confirm_page(request, title=_("Stop trusting a bank"), subject=bank.name,
                             source=trust.Source.bank(bank), action=request.path, button=_("Stop trusting"))
    try:
        counts = trust.demote_bank(bank, user=current_user(request), reason=request.POST.get("reason", ""))
        messages.success(request, _("The bank gives no verdicts any more; %(n)d items went back to people.")
                         % {"n": counts.get("items", 0)})
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("hashes:bank", pk=bank.pk)


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


@role_required(*ANALYSTS)
def overrule(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what overruling the file's inherited verdict would send back; POST: overrule it."""
    media = get_object_or_404(Media, pk=pk)
    if request.method != "POST":
        return _confirm_page(request, title=_("Overrule an inherited verdict"), subject=_("file #%(n)d") % {
            "n": media.pk}, source=trust.Source.overrule(media), action=request.path, button=_("Overrule"))
    try:
        services.overrule_inherited(media, user=current_user(request), reason=request.POST.get("reason", ""))
        messages.success(request, _("The inherited verdict no longer applies to this file."))
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("assessment:item", pk=media.item_id)


@role_required(*BANK_READERS)
def quarantines(request: HttpRequest) -> HttpResponse:
    return render(request, "hashes/quarantines.html", {"quarantines": trust.open_quarantines()[:200]})


@require_POST
@role_required(Role.SENIOR_ANALYST)
def confirm_quarantined(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(Entry, pk=pk)
    try:
        trust.confirm_quarantined(entry, user=current_user(request))
        messages.success(request, _("The entry gives verdicts again."))
    except states.InvalidTransition:
        messages.error(request, _("The entry is not in quarantine."))
    return redirect("hashes:quarantines")


@require_POST
@role_required(*ANALYSTS)
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    """An analyst confirms or rejects a third-party entry beside its match on the item page."""
    entry = get_object_or_404(Entry.objects.select_related("bank"), pk=pk)
    raw = request.POST.get("media", "")
    media = Media.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    try:
        trust.vote(entry, user=current_user(request), choice=request.POST.get("vote", ""), media=media,
                   note=request.POST.get("note", ""))
        messages.success(request, _("Your vote on the entry is recorded."))
    except ValueError as exc:
        messages.error(request, str(exc))
    if media is not None:
        return redirect("assessment:item", pk=media.item_id)
    return redirect("hashes:bank", pk=entry.bank_id)


@role_required(*PROVENANCE_READERS)
def media_provenance(request: HttpRequest, pk: int) -> HttpResponse:
    """Where a file's verdict came from: every match with its bank, source id, signal type and distance."""
    media = get_object_or_404(Media, pk=pk)
    matches = media.matches.select_related("bank", "entry").order_by("-inherited", "distance", "pk")
    counts = trust.vote_counts(m.entry_id for m in matches)
    rows = [(m, counts.get(m.entry_id, {"confirm": 0, "reject": 0})) for m in matches]
    return render(request, "hashes/media_provenance.html", {"media": media, "rows": rows})


@role_required(*BANK_READERS)
def health(request: HttpRequest) -> HttpResponse:
    return render(request, "hashes/health.html", {"rows": trust.bank_health()})


@role_required(*BANK_READERS)
def health_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="bank-health.csv"'
    writer = csv.writer(response)
    writer.writerow(trust.HEALTH_COLUMNS)
    for row in trust.bank_health():
        writer.writerow([row[c] for c in trust.HEALTH_COLUMNS])
    return response
