"""The escalation ladder (HOTLINE_TAKEDOWN_ESCALATION): rungs applied in order to an item that stays online,
e.g. after 2 repeats also notify the upstream network, the registrar and the site owner; after 7 days flag
the item to the police and the managers. Each takedown remembers how many rungs it has climbed."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import tldextract
from django.db import transaction

from hotline.audit.services import SYSTEM, record
from hotline.takedown import actions, conf
from hotline.takedown.conf import Rung
from hotline.takedown.models import (
    EscalationContact,
    EscalationRole,
    NoticeKind,
    Takedown,
    TakedownState,
)
from hotline.takedown.services.notices import add_to_batch
from hotline.tracing.models import AbuseContact


def escalate_due(*, now: datetime, limit: int = 200) -> bool:
    """Climb the ladder for up to ``limit`` takedowns whose next rung may be due, each claimed by clearing its
    ``next_escalation_at`` (``escalation_step``). Returns whether any."""
    due = list(Takedown.objects.escalation_due(now).order_by("next_escalation_at").values_list(
        "pk", "next_escalation_at")[:limit])
    for pk, at in due:
        if Takedown.objects.filter(pk=pk, next_escalation_at=at).update(next_escalation_at=None) == 1:
            escalate(pk, now=now)
    return bool(due)


@transaction.atomic
def escalate(takedown_id: int, *, now: datetime) -> list[int]:
    """Apply every rung that is due now; schedule the next look. Returns the rung numbers applied."""
    takedown = Takedown.objects.select_for_update(of=("self",)).select_related("item", "provider").get(pk=takedown_id)
    if takedown.first_notice_at is None or takedown.state == TakedownState.REMOVED:
        return []
    if takedown.state == TakedownState.REMOVAL_PENDING:  # wait for the checker's verdict
        takedown.next_escalation_at = now + conf.miss_interval() + timedelta(minutes=1)
        takedown.save(update_fields=["next_escalation_at"])
        return []
    rungs, applied = conf.ladder(), []
    while takedown.escalation_rung < len(rungs):
        rung = rungs[takedown.escalation_rung]
        due = rung_due_at(takedown, rung, now)
        if due is None or due > now:
            break
        _apply(takedown, rung, takedown.escalation_rung, now)
        applied.append(takedown.escalation_rung)
        takedown.escalation_rung += 1
    upcoming = rungs[takedown.escalation_rung] if takedown.escalation_rung < len(rungs) else None
    takedown.next_escalation_at = rung_due_at(takedown, upcoming, now) if upcoming else None
    takedown.save(update_fields=["escalation_rung", "next_escalation_at", "police_flagged_at",
                                 "managers_flagged_at"])
    return applied


def rung_due_at(takedown: Takedown, rung: Rung, now: datetime) -> datetime | None:
    """When the rung applies; None while that cannot be known yet (a repeat count not reached: the next
    notice sent makes the step look again)."""
    if rung.after_days is not None:
        assert takedown.first_notice_at is not None
        return takedown.first_notice_at + timedelta(days=rung.after_days)
    return now if takedown.repeats >= (rung.after_repeats or 0) else None


def _apply(takedown: Takedown, rung: Rung, number: int, now: datetime) -> None:
    notified, missing = [], []
    for role in rung.notify:
        contact = escalation_contact(takedown, role)
        if contact is None:
            missing.append(role)
            continue
        add_to_batch(takedown, contact, kind=NoticeKind.ESCALATION, role=role, now=now)
        notified.append(role)
    if "police" in rung.flag and takedown.police_flagged_at is None:
        takedown.police_flagged_at = now
    if ("managers" in rung.flag or missing) and takedown.managers_flagged_at is None:
        takedown.managers_flagged_at = now
    record(SYSTEM, actions.ESCALATED, takedown.item, now=now, after={
        "rung": number, "notified": notified, "no_contact_for": missing, "flagged": list(rung.flag),
        "repeats": takedown.repeats})


def escalation_contact(takedown: Takedown, role: str) -> AbuseContact | None:
    """Who plays ``role`` for this item: a contact for its registered domain, else one for its provider."""
    rows = EscalationContact.objects.filter(role=role).select_related("contact")
    if role != EscalationRole.UPSTREAM:
        found = rows.filter(domain=registered_domain(takedown.item.host)).first()
        if found is not None:
            return found.contact
    if takedown.provider_id is None:
        return None
    found = rows.filter(provider_id=takedown.provider_id, domain="").first()
    return found.contact if found is not None else None


@functools.lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registered_domain(host: str) -> str:
    """``www.shop.example.co.uk`` -> ``example.co.uk`` (offline public-suffix list); for a name under no
    listed suffix (``.test``, ``.example``, intranets) its last two labels."""
    found: str = _extractor()(host).top_domain_under_public_suffix
    return found or ".".join(host.lower().rstrip(".").split(".")[-2:])
