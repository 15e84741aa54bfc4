"""A case's timeline: its audit events and its items', the items' status time stamps, the police
referrals with their answers, and the outcomes, merged in time order. Built from the items the viewer
may see, so the police liaison's timeline holds nothing about items hidden from them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hotline.audit.models import AuditEvent
from hotline.cases.codes import outcome_label, reason_label
from hotline.cases.models import Case, Outcome
from hotline.reports.models import Item
from hotline.routing.models import Referral

# Same instant: what was done (audit) before the facts it produced, facts before outcomes dated that day.
AUDIT, FACT, OUTCOME = 0, 1, 2

ACTIONS: dict[str, Any] = {
    "cases.opened": _("Case opened"),
    "cases.item_added": _("Item added to the case"),
    "cases.item_removed": _("Item removed from the case"),
    "cases.closed": _("Case closed"),
    "cases.reopened": _("Case reopened"),
    "cases.referred": _("Case referred to the police"),
    "cases.outcome_recorded": _("Outcome recorded"),
}
STAMPS: tuple[tuple[str, Any], ...] = (
    ("first_reported_at", _("First reported")),
    ("captured_at", _("Captured")),
    ("unreachable_at", _("Found unreachable")),
    ("review_requested_at", _("Second review requested")),
    ("assessed_at", _("Assessed")),
    ("closed_at", _("Item closed")),
    ("reopened_at", _("Item reopened")),
)


@dataclass(frozen=True)
class Entry:
    at: datetime
    group: int
    kind: str
    title: str
    subject: str
    actor: str = ""
    detail: str = ""
    date_only: bool = False
    order: int = 0


def case_timeline(case: Case, items: list[Item], referrals: list[Referral]) -> list[Entry]:
    """Everything known about `case` and the visible `items`, oldest first."""
    entries = [*_audit(case, items, referrals), *_stamps(items), *_referrals(referrals, items),
               *_outcomes(case)]
    return sorted(entries, key=lambda e: (e.at, e.group, e.order))


def _audit(case: Case, items: list[Item], referrals: list[Referral]) -> Iterator[Entry]:
    hosts = {str(item.pk): item.host for item in items}
    events = AuditEvent.objects.filter(
        Q(object_type="cases.case", object_id=str(case.pk))
        | Q(object_type="reports.item", object_id__in=list(hosts))
        | Q(object_type="routing.referral", object_id__in=[str(r.pk) for r in referrals])).order_by("seq")
    for event in events:
        if _about_hidden_item(event, hosts):
            continue
        subject = {"cases.case": case.reference, "reports.item": f"#{event.object_id} {hosts.get(event.object_id)}",
                   "routing.referral": _("referral")}[event.object_type]
        yield Entry(event.at, AUDIT, "audit", str(ACTIONS.get(event.action, event.action)), str(subject),
                    actor=event.actor_label, detail=_case_detail(event, hosts), order=event.seq)


def _about_hidden_item(event: AuditEvent, hosts: dict[str, str]) -> bool:
    """A membership change of an item the viewer may not see: not even its number is shown."""
    if event.action not in ("cases.item_added", "cases.item_removed"):
        return False
    item = (event.after or {}).get("item") or (event.before or {}).get("item")
    return str(item) not in hosts


def _case_detail(event: AuditEvent, hosts: dict[str, str]) -> str:
    """A short summary of the case's own events; other domains' payloads are not repeated here."""
    after, before = event.after or {}, event.before or {}
    if event.action in ("cases.item_added", "cases.item_removed"):
        item = str(after.get("item") or before.get("item"))
        return f"#{item} {hosts.get(item, '')}".strip()
    if event.action == "cases.outcome_recorded":
        reason = f" ({reason_label(after['reason'])})" if after.get("reason") else ""
        return f"{outcome_label(after.get('outcome', ''))}{reason}, {after.get('decided_on', '')}"
    if event.action == "cases.referred":
        return str(_("%(n)d items") % {"n": len(after.get("items", []))})
    return str(after.get("note") or "")


def _stamps(items: list[Item]) -> Iterator[Entry]:
    for item in items:
        for name, label in STAMPS:
            at = getattr(item, name)
            if at is not None:
                yield Entry(at, FACT, "status", str(label), f"#{item.pk} {item.host}", order=item.pk)


def _referrals(referrals: list[Referral], items: list[Item]) -> Iterator[Entry]:
    visible = {item.pk for item in items}
    for referral in referrals:
        count = len([i for i in referral.items.all() if i.pk in visible])
        subject = f"{referral.police} ({_('%(n)d items') % {'n': count}})"
        yield Entry(referral.created_at, FACT, "referral", str(_("Police referral queued")), subject,
                    order=referral.pk)
        if referral.sent_at:
            yield Entry(referral.sent_at, FACT, "referral", str(_("Police referral sent")), subject, order=referral.pk)
        if referral.answered_at:
            yield Entry(referral.answered_at, FACT, "answer", str(_("Police answer: %(answer)s") % {
                "answer": referral.get_answer_display()}), subject, detail=referral.answer_note, order=referral.pk)


def _outcomes(case: Case) -> Iterator[Entry]:
    outcome: Outcome
    for outcome in case.outcomes.all():
        reason = f" ({reason_label(outcome.reason)})" if outcome.reason else ""
        yield Entry(datetime.combine(outcome.decided_on, time.min, tzinfo=UTC), OUTCOME, "outcome",
                    f"{outcome_label(outcome.code)}{reason}", case.reference, actor=outcome.recorded_by_label,
                    detail=outcome.note, date_only=True, order=outcome.pk)
