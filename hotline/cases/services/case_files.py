"""Case files: open, fill, close and refer a case, and record the outcomes the police feed back.

Every function here is the only way its change happens: it validates, locks the case row, saves with
`update_fields` and writes its audit event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import transaction

from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.audit.services import Actor, Change, record, record_many
from hotline.cases import actions
from hotline.cases.codes import CaseKind, CaseStatus, DismissalReason, OutcomeCode, OutcomeSource
from hotline.cases.models import Case, CaseItem, CaseSequence, InvalidTransition, Outcome
from hotline.partners.models import PoliceContact
from hotline.reports.models import Item
from hotline.routing.models import Referral
from hotline.routing.services import refer_items

MAX_NOTE = 2000


class CaseError(Exception):
    """A case action refused, naming the field at fault (shown to the user as `field: message`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _reference(now: datetime) -> str:
    """The next reference of the year, e.g. CASE-2026-0001, unique whatever the number of writers.

    1. Make sure the year's counter row exists (a conflicting insert by another writer is ignored).
    2. Lock that row: a second writer waits here until the first one's transaction ends.
    3. Count up and save under the lock, in the caller's transaction (a rolled-back case frees nothing, so
       numbers can have gaps but never repeat).
    """
    CaseSequence.objects.bulk_create([CaseSequence(year=now.year, last=0)], ignore_conflicts=True)
    sequence = CaseSequence.objects.select_for_update().get(year=now.year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"CASE-{now.year}-{sequence.last:04d}"


def _locked(case: Case) -> Case:
    locked: Case = Case.objects.select_for_update().get(pk=case.pk)
    return locked


def _unique(items: Iterable[Item]) -> list[Item]:
    return list({item.pk: item for item in items}.values())


def _check_open(case: Case) -> None:
    if case.status != CaseStatus.OPEN:
        raise CaseError("status", f"case {case.reference} is closed")


@transaction.atomic
def open_case(title: str, kind: str, items: Iterable[Item], *, actor: Actor, now: datetime,
              description: str = "") -> Case:
    """Open a case file holding `items` (at least one), with the next reference of the year."""
    title, members = title.strip(), _unique(items)
    if not title or len(title) > 200:
        raise CaseError("title", "give a title of 1 to 200 characters")
    if kind not in CaseKind.values:
        raise CaseError("kind", f"unknown value {kind!r}")
    if not members:
        raise CaseError("items", "a case needs at least one item")
    case = Case.objects.create(reference=_reference(now), kind=kind, title=title, description=description.strip(),
                               opened_at=now, status_changed_at=now, created_by_id=actor.user_id)
    CaseItem.objects.bulk_create([CaseItem(case=case, item=item, added_at=now, added_by_id=actor.user_id)
                                  for item in members])
    record(actor, actions.OPENED, case, now=now, after={
        "reference": case.reference, "kind": kind, "title": title, "items": sorted(i.pk for i in members)})
    return case


@transaction.atomic
def add_items(case: Case, items: Iterable[Item], *, actor: Actor, now: datetime) -> int:
    """Add `items` to an open case; items already in it are left alone. Returns how many were added."""
    locked = _locked(case)
    _check_open(locked)
    present = set(locked.memberships.values_list("item_id", flat=True))
    new = [item for item in _unique(items) if item.pk not in present]
    CaseItem.objects.bulk_create([CaseItem(case=locked, item=item, added_at=now, added_by_id=actor.user_id)
                                  for item in new])
    record_many(actor, [Change(actions.ITEM_ADDED, locked, after={"item": item.pk}) for item in new], now=now)
    return len(new)


@transaction.atomic
def remove_item(case: Case, item: Item, *, actor: Actor, now: datetime) -> None:
    """Take an item out of an open case (the audit trail keeps that it was there)."""
    locked = _locked(case)
    _check_open(locked)
    membership = locked.memberships.filter(item=item).first()
    if membership is None:
        raise CaseError("item", f"item #{item.pk} is not in case {locked.reference}")
    if locked.memberships.count() == 1:
        raise CaseError("item", "the last item cannot be removed: close the case instead")
    membership.delete()
    record(actor, actions.ITEM_REMOVED, locked, now=now, before={"item": item.pk, "added_at": _iso(
        membership.added_at)})


@transaction.atomic
def close_case(case: Case, *, actor: Actor, now: datetime, note: str = "") -> Case:
    """Close a case: its items stay, outcomes may still be recorded (the police work on after we close)."""
    return _move(case, CaseStatus.CLOSED, actions.CLOSED, actor=actor, now=now, note=note)


@transaction.atomic
def reopen_case(case: Case, *, actor: Actor, now: datetime, note: str = "") -> Case:
    return _move(case, CaseStatus.OPEN, actions.REOPENED, actor=actor, now=now, note=note)


def _move(case: Case, to: str, action: str, *, actor: Actor, now: datetime, note: str) -> Case:
    locked = _locked(case)
    before = locked.status
    try:
        fields = locked.transition(to, now=now)
    except InvalidTransition as exc:
        raise CaseError("status", f"case {locked.reference} is already {locked.get_status_display()}") from exc
    locked.save(update_fields=fields)
    record(actor, action, locked, now=now, before={"status": before},
           after={"status": to, "note": note[:MAX_NOTE]})
    return locked


def referable_items(case: Case) -> list[Item]:
    """The case's items the police can act on: those assessed illegal."""
    return list(case.items.filter(verdict__in=ILLEGAL_VERDICTS).order_by("pk"))


@transaction.atomic
def refer_case(case: Case, police: PoliceContact, *, actor: Actor, now: datetime) -> Referral:
    """Refer the case's illegal items to `police` as one referral (routing delivers it) linked to the case."""
    locked = _locked(case)
    _check_open(locked)
    if not police.active:
        raise CaseError("police", f"{police} is not an active contact")
    items = referable_items(locked)
    if not items:
        raise CaseError("items", f"case {locked.reference} has no item assessed illegal to refer")
    referral = refer_items(items, police, actor=actor, now=now)
    locked.referrals.add(referral)
    record(actor, actions.REFERRED, locked, now=now, after={
        "referral": str(referral.key), "police": police.pk, "items": [item.pk for item in items]})
    return referral


# --- outcomes -------------------------------------------------------------------------------------------


def latest_allowed_date(now: datetime) -> date:
    """Police dates are local: somewhere east of UTC it is already tomorrow, so allow one day ahead."""
    return (now + timedelta(days=1)).date()


def check_outcome(code: str, decided_on: date, reason: str, note: str, *, now: datetime) -> None:
    """Raise CaseError naming the field when an outcome event is not acceptable."""
    if code not in OutcomeCode.values:
        raise CaseError("outcome", f"unknown value {code!r}; use one of {', '.join(OutcomeCode.values)}")
    if decided_on > latest_allowed_date(now):
        raise CaseError("date", f"{decided_on.isoformat()} is in the future")
    if code == OutcomeCode.DISMISSED and reason not in DismissalReason.values:
        raise CaseError("reason", f"a dismissal needs a reason: one of {', '.join(DismissalReason.values)}")
    if code != OutcomeCode.DISMISSED and reason:
        raise CaseError("reason", "only a dismissal has a reason")
    if len(note) > MAX_NOTE:
        raise CaseError("note", f"longer than {MAX_NOTE} characters")


def outcome_change(outcome: Outcome) -> Change:
    return Change(actions.OUTCOME_RECORDED, ("cases.case", outcome.case_id), after={
        "outcome": outcome.code, "reason": outcome.reason, "decided_on": outcome.decided_on.isoformat(),
        "source": outcome.source, "import": outcome.import_batch_id, "note": outcome.note})


@transaction.atomic
def record_outcome(case: Case, code: str, decided_on: date, *, actor: Actor, now: datetime, reason: str = "",
                   note: str = "") -> Outcome:
    """Record by hand one outcome event the police fed back. The same (outcome, date) twice on a case is
    refused; the CSV import (`services.import_outcomes`) treats it as already done instead."""
    check_outcome(code, decided_on, reason, note, now=now)
    locked = _locked(case)
    if locked.outcomes.filter(code=code, decided_on=decided_on).exists():
        raise CaseError("outcome", f"{code} on {decided_on.isoformat()} is already recorded for {locked.reference}")
    outcome = Outcome.objects.create(
        case=locked, code=code, reason=reason, decided_on=decided_on, recorded_at=now, recorded_by_id=actor.user_id,
        recorded_by_label=actor.label, source=OutcomeSource.MANUAL, note=note.strip())
    record_many(actor, [outcome_change(outcome)], now=now)
    return outcome


def current_outcome(case: Case) -> Outcome | None:
    """The latest outcome by date (on the same date, the one recorded last)."""
    outcome: Outcome | None = case.outcomes.latest_first().first()
    return outcome


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
