"""Known content you can trust: undo by source (the inherited verdicts that rested only on an entry, a bank
or an overruled verdict go back to people), flood quarantine, analysts' votes on third-party entries and
bank health. Layers above (assessment, routing) act on withdrawn verdicts through registered hooks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM, Actor, record
from hotline.evidence.models import Capture, Media
from hotline.hashes import actions
from hotline.hashes.models import (
    Bank,
    BankKind,
    Entry,
    EntryStatus,
    EntryVote,
    MediaMatch,
    Quarantine,
    QuarantineCause,
    Resolution,
    Vote,
    WithdrawalKind,
    bump_version,
    move_entry,
)

THIRD_PARTY = (BankKind.PARTNER, BankKind.IMPORT)


# ---------------------------------------------------------------- hooks for the layers above

@dataclass(frozen=True)
class Withdrawal:
    """Inherited verdicts that no longer stand: the files, their items, why and by whom."""

    kind: str
    reason: str
    media_ids: frozenset[int]
    item_ids: frozenset[int]
    actor: Actor
    now: datetime


Preview = Callable[[frozenset[int], frozenset[int]], dict[str, int]]
Apply = Callable[[Withdrawal], dict[str, int]]
_HOOKS: dict[str, tuple[Preview, Apply]] = {}


def register_withdrawal_hook(name: str, preview: Preview, apply: Apply) -> None:
    """A layer above says what it would re-open (``preview(item_ids, media_ids)`` -> counts, no writes)
    and re-opens it (``apply``, inside the withdrawing transaction, audited there)."""
    _HOOKS[name] = (preview, apply)


# ---------------------------------------------------------------- undo by source

@dataclass(frozen=True)
class Source:
    """What verdicts may rest on: some entries (a disabled or quarantined entry, a demoted bank's entries),
    plus, for an overrule, the one file whose inherited verdict a person rejected."""

    entries: QuerySet[Entry]
    overruled_media: int | None = None

    @classmethod
    def entry(cls, entry: Entry) -> Source:
        return cls(Entry.objects.filter(pk=entry.pk))

    @classmethod
    def bank(cls, bank: Bank) -> Source:
        return cls(Entry.objects.filter(bank=bank))

    @classmethod
    def overrule(cls, media: Media) -> Source:
        """The entries the file's verdict rested on; every other verdict resting only on them goes too."""
        ids = MediaMatch.objects.supports().filter(media=media).values_list("entry_id", flat=True)
        return cls(Entry.objects.filter(pk__in=list(ids)), overruled_media=media.pk)


def reliant_media(source: Source) -> set[int]:
    """Files whose inherited verdict rests only on ``source``: every live support comes from it."""
    entry_ids = source.entries.values("pk")
    supports = MediaMatch.objects.supports()
    candidates = set(supports.filter(entry__in=entry_ids).values_list("media_id", flat=True))
    if candidates:
        elsewhere = supports.filter(media__in=candidates).exclude(entry__in=entry_ids)
        candidates -= set(elsewhere.values_list("media_id", flat=True))
    if source.overruled_media is not None:
        candidates.add(source.overruled_media)
    return candidates


def _items_of(media_ids: Iterable[int]) -> frozenset[int]:
    return frozenset(Media.objects.filter(pk__in=list(media_ids)).values_list("item_id", flat=True))


def preview(source: Source) -> dict[str, int]:
    """How many files, items and downstream actions withdrawing ``source`` would touch (writes nothing)."""
    media = frozenset(reliant_media(source))
    items = _items_of(media)
    counts = {"media": len(media), "items": len(items)}
    for hook_preview, _apply in _HOOKS.values():
        counts |= hook_preview(items, media)
    return counts


def withdraw(source: Source, *, kind: str, reason: str, actor: Actor, now: datetime) -> dict[str, int]:
    """Withdraw every inherited verdict resting only on ``source``: its supports are marked withdrawn (kept,
    with the reason), the files lose their inherited verdict, and the hooks re-open what was built on it.
    Runs inside the caller's transaction; returns the counts it touched."""
    media = frozenset(reliant_media(source))
    if not media:
        return {"media": 0, "items": 0}
    items = _items_of(media)
    reason = reason.strip()[:1000]
    (MediaMatch.objects.supports().filter(media__in=media)
     .filter(Q(entry__in=source.entries.values("pk")) | Q(media=source.overruled_media or 0))
     .update(withdrawn_at=now, withdrawn_kind=kind, withdrawn_reason=reason))
    Media.objects.filter(pk__in=media).update(inherited_verdict="", inherited_from="")
    Capture.objects.filter(media__in=media).exclude(known_verdict="").update(known_verdict="")
    counts = {"media": len(media), "items": len(items)}
    withdrawal = Withdrawal(kind, reason, media, items, actor, now)
    for _preview, hook_apply in _HOOKS.values():
        counts |= hook_apply(withdrawal)
    return counts


# ---------------------------------------------------------------- entries and banks

def _close_quarantine(entry: Entry, resolution: str, *, user: User | None, now: datetime) -> None:
    Quarantine.objects.filter(entry=entry, resolved_at__isnull=True).update(
        resolution=resolution, resolved_at=now, resolved_by=user)


@transaction.atomic
def disable(entry: Entry, *, user: User, reason: str, now: datetime | None = None) -> dict[str, int]:
    """The entry stops matching, and every verdict that rested only on it goes back to people."""
    now = now or timezone.now()
    if not reason.strip():
        raise ValueError("say why the entry is disabled")
    before = {"status": entry.status}
    move_entry(Entry.objects.filter(pk=entry.pk), EntryStatus.DISABLED, now=now, disabled_reason=reason.strip()[:1000])
    entry.refresh_from_db(fields=["status", "disabled_reason"])
    _close_quarantine(entry, Resolution.DISABLED, user=user, now=now)
    counts = withdraw(Source.entry(entry), kind=WithdrawalKind.DISABLED, reason=f"entry disabled: {reason}",
                      actor=Actor.of_user(user), now=now)
    bump_version()
    record(Actor.of_user(user), actions.ENTRY_DISABLED, entry, before=before, now=now,
           after={"reason": entry.disabled_reason, "withdrawn": counts})
    return counts


@transaction.atomic
def demote_bank(bank: Bank, *, user: User, reason: str, now: datetime | None = None) -> dict[str, int]:
    """The bank stops giving verdicts (it still matches, as suggestions); what rested only on it goes back."""
    now = now or timezone.now()
    if not reason.strip():
        raise ValueError("say why the bank is no longer trusted")
    if bank.kind == BankKind.OWN:
        raise ValueError("our own bank cannot be demoted; disable its wrong entries instead")
    Bank.objects.filter(pk=bank.pk).update(trusted=False)
    bank.trusted = False
    counts = withdraw(Source.bank(bank), kind=WithdrawalKind.DEMOTED, reason=f"bank demoted: {reason}",
                      actor=Actor.of_user(user), now=now)
    bump_version()
    record(Actor.of_user(user), actions.BANK_DEMOTED, bank, before={"trusted": True}, now=now,
           after={"trusted": False, "reason": reason.strip()[:1000], "withdrawn": counts})
    return counts


@transaction.atomic
def overrule(media: Media, *, user: User, reason: str, now: datetime | None = None) -> dict[str, int]:
    """A person rejects the file's inherited verdict; every other verdict resting only on the same entries
    goes back to people too (an exact match is the same file)."""
    now = now or timezone.now()
    if not reason.strip():
        raise ValueError("say why the inherited verdict is wrong for this file")
    before = {"inherited_verdict": media.inherited_verdict, "from": media.inherited_from}
    counts = withdraw(Source.overrule(media), kind=WithdrawalKind.OVERRULED, reason=f"overruled: {reason}",
                      actor=Actor.of_user(user), now=now)
    media.inherited_verdict, media.inherited_from = "", ""
    record(Actor.of_user(user), actions.MEDIA_INHERITANCE_OVERRULED, media, before=before, now=now,
           after={"reason": reason.strip()[:1000], "item": media.item_id, "withdrawn": counts})
    return counts


# ---------------------------------------------------------------- quarantine

@transaction.atomic
def quarantine(entry: Entry, *, cause: str, detail: dict[str, Any], now: datetime,
               actor: Actor = SYSTEM) -> dict[str, int]:
    """Its matches become suggestions: no new verdicts, and those resting only on it go back to people.
    The open ``Quarantine`` row flags managers until a senior analyst confirms or disables the entry."""
    if move_entry(Entry.objects.filter(pk=entry.pk), EntryStatus.QUARANTINED, now=now, strict=False) != 1:
        return {}
    Quarantine.objects.create(entry=entry, bank_id=entry.bank_id, cause=cause, detail=detail, started_at=now)
    counts = withdraw(Source.entry(entry), kind=WithdrawalKind.QUARANTINED, reason=f"entry quarantined ({cause})",
                      actor=actor, now=now)
    bump_version()
    record(actor, actions.ENTRY_QUARANTINED, entry, before={"status": EntryStatus.ACTIVE}, now=now,
           after={"cause": cause, **detail, "withdrawn": counts})
    return counts


@transaction.atomic
def confirm_quarantined(entry: Entry, *, user: User, now: datetime | None = None) -> None:
    """A senior analyst finds the entry right after all: it gives verdicts again, the flood window restarts."""
    now = now or timezone.now()
    move_entry(Entry.objects.filter(pk=entry.pk), EntryStatus.ACTIVE, now=now)
    _close_quarantine(entry, Resolution.CONFIRMED, user=user, now=now)
    bump_version()
    record(Actor.of_user(user), actions.ENTRY_QUARANTINE_CONFIRMED, entry, now=now,
           before={"status": EntryStatus.QUARANTINED}, after={"status": EntryStatus.ACTIVE})


def check_floods(entry_ids: Iterable[int], *, now: datetime) -> list[int]:
    """Quarantine each just-matched active entry whose matches within its bank's window reach more than
    ``flood_items`` distinct items or ``flood_hosts`` hosts. One grouped query per window length; hosts are
    counted only for entries with more items than that (an entry cannot be on more hosts than items)."""
    by_window: dict[int, list[int]] = defaultdict(list)
    limits: dict[int, tuple[int, int]] = {}
    entries = Entry.objects.filter(pk__in=list(entry_ids), status=EntryStatus.ACTIVE)
    for pk, hours, max_items, max_hosts in entries.values_list("pk", "bank__flood_window_hours", "bank__flood_items",
                                                               "bank__flood_hosts"):
        by_window[hours].append(pk)
        limits[pk] = (max_items, max_hosts)
    flooded = []
    for hours, ids in by_window.items():
        recent = MediaMatch.objects.filter(
            Q(entry__flood_cleared_at__isnull=True) | Q(matched_at__gt=F("entry__flood_cleared_at")),
            matched_at__gte=now - timedelta(hours=hours), entry__in=ids)
        on_items: dict[int, int] = dict(recent.values("entry").annotate(n=Count("media__item", distinct=True))
                                        .values_list("entry", "n"))
        wide = [pk for pk, n in on_items.items() if n > limits[pk][1]]
        hosts: dict[int, int] = dict(recent.filter(entry__in=wide).values("entry").annotate(
            n=Count("media__item__host", distinct=True)).values_list("entry", "n")) if wide else {}
        for pk, n in on_items.items():
            if n > limits[pk][0] or hosts.get(pk, 0) > limits[pk][1]:
                flooded.append(pk)
                quarantine(Entry.objects.get(pk=pk), cause=QuarantineCause.FLOOD, now=now,
                           detail={"items": n, "hosts": hosts.get(pk, 0), "window_hours": hours})
    return flooded


def open_quarantines() -> QuerySet[Quarantine]:
    return (Quarantine.objects.filter(resolved_at__isnull=True).select_related("entry", "bank")
            .order_by("started_at"))


# ---------------------------------------------------------------- votes on third-party entries

@transaction.atomic
def vote(entry: Entry, *, user: User, choice: str, media: Media | None = None, note: str = "",
         now: datetime | None = None) -> EntryVote:
    """An analyst confirms or rejects a partner's or an imported entry on seeing its match (one vote each,
    the last one counts). Rejections at the bank's threshold quarantine the entry."""
    now = now or timezone.now()
    if choice not in Vote.values:
        raise ValueError(f"unknown vote {choice!r}")
    bank = entry.bank
    if bank.kind not in THIRD_PARTY:
        raise ValueError("votes are for third-party entries (partner and imported lists)")
    cast, _created = EntryVote.objects.update_or_create(
        entry=entry, user=user, defaults={"vote": choice, "media": media, "note": note.strip()[:1000], "voted_at": now})
    record(Actor.of_user(user), actions.ENTRY_VOTED, entry, now=now,
           after={"vote": choice, "media": media.pk if media else None, "note": cast.note})
    rejections = entry.votes.filter(vote=Vote.REJECT)
    if entry.flood_cleared_at is not None:
        rejections = rejections.filter(voted_at__gt=entry.flood_cleared_at)
    count = rejections.count()
    if choice == Vote.REJECT and count >= bank.reject_threshold and entry.status == EntryStatus.ACTIVE:
        quarantine(entry, cause=QuarantineCause.VOTES, now=now, detail={"rejections": count})
    return cast


def vote_counts(entry_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Entry id -> {"confirm": n, "reject": n}."""
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"confirm": 0, "reject": 0})
    for entry_id, choice, n in (EntryVote.objects.filter(entry__in=list(entry_ids)).values_list("entry", "vote")
                                .annotate(n=Count("pk"))):
        out[entry_id][choice] = n
    return dict(out)


# ---------------------------------------------------------------- bank health

HEALTH_COLUMNS = ("bank", "kind", "trusted", "matches", "inherited", "overrules", "withdrawn", "quarantines",
                  "open_quarantines", "rejections", "overruled_share")


def bank_health() -> list[dict[str, Any]]:
    """Per bank: matches, inherited verdicts, overrules, all withdrawals, quarantines, analysts' rejections,
    and the share of matches overruled."""
    matches = {row["bank"]: row for row in MediaMatch.objects.values("bank").annotate(
        matches=Count("pk"), inherited=Count("pk", filter=Q(inherited=True)),
        overrules=Count("pk", filter=Q(withdrawn_kind=WithdrawalKind.OVERRULED)),
        withdrawn=Count("pk", filter=Q(withdrawn_at__isnull=False)))}
    quarantines = {row["bank"]: row for row in Quarantine.objects.values("bank").annotate(
        quarantines=Count("pk"), open_quarantines=Count("pk", filter=Q(resolved_at__isnull=True)))}
    rejections = dict(EntryVote.objects.filter(vote=Vote.REJECT).values("entry__bank")
                      .annotate(n=Count("pk")).values_list("entry__bank", "n"))
    rows = []
    for bank in Bank.objects.order_by("name"):
        m, q = matches.get(bank.pk, {}), quarantines.get(bank.pk, {})
        total = m.get("matches", 0)
        rows.append({"bank": bank.name, "pk": bank.pk, "kind": bank.kind, "trusted": bank.trusted,
                     "matches": total, "inherited": m.get("inherited", 0), "overrules": m.get("overrules", 0),
                     "withdrawn": m.get("withdrawn", 0), "quarantines": q.get("quarantines", 0),
                     "open_quarantines": q.get("open_quarantines", 0), "rejections": rejections.get(bank.pk, 0),
                     "overruled_share": round(m.get("overrules", 0) / total, 4) if total else 0.0})
    return rows
