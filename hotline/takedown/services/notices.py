"""The takedown of an item up to its notices: open a takedown when routing says a notice is due, batch items
into notices, and record what providers and their mail servers say (acknowledged, removal reported,
delivered, bounced). Every change is validated, saved with ``update_fields`` and audited in the same
transaction. Sending is in ``sending``, what the liveness checks find in ``liveness``.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import cast

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from hotline.audit.services import SYSTEM, Actor, Change, record, record_many
from hotline.lib import prepared
from hotline.lib.claim import skip_locked
from hotline.routing.models import Decision
from hotline.routing.services import mark_notices_taken
from hotline.takedown import actions, conf, windows
from hotline.takedown.models import (
    ACTIVE_STATES,
    OUTBOX_STATES,
    ContactPolicy,
    Notice,
    NoticeItem,
    NoticeKind,
    NoticeState,
    Takedown,
    TakedownState,
    move_notice,
)
from hotline.tracing.models import AbuseContact, Trace

log = logging.getLogger("hotline.takedown")
MAX_NOTICE_ITEMS = 200


class TakedownError(Exception):
    """A takedown action that is not allowed now (the message names what is wrong)."""


def provider_actor(contact_id: int | None) -> Actor:
    return Actor(label=f"provider:contact-{contact_id}")


# ------------------------------------------------------------------ from routing to takedown


def take_due_decisions(*, now: datetime, limit: int = 200, probe: bool = True) -> int:
    """Open (or update) a takedown for every decision whose notice may now go out, in one transaction: the
    first ``limit`` due decisions locked (skipped when another worker holds them), their takedowns read at once,
    new takedowns created and audited set-wise, each item put into its contact's batch. Returns how many.
    Nothing done, and no write transaction opened, when a probe compiled once says none is due (``probe=False``:
    the caller has just asked, ``notice_step``)."""
    if probe and not prepared.any_row("takedown.notice_due", Decision.objects.notice_due, now=now):
        return 0  # compiled once: the idle call's one query (on SQLite a write transaction holds off other writers)
    with transaction.atomic():  # the decisions with their items and traces, locked: compiled once per process
        decisions = prepared.instances("takedown.first_due_decisions", functools.partial(_due_decisions, limit),
                                       vary=limit, now=now)
        return len(_take(decisions, now)) if decisions else 0


def _due(now: datetime) -> QuerySet[Decision]:
    return Decision.objects.notice_due(now).order_by("notice_due_at", "pk")


def _due_decisions(limit: int, *, now: datetime) -> QuerySet[Decision]:
    """The first ``limit`` due decisions with their items and traces, in order, locked (PostgreSQL: those another
    worker holds skipped)."""
    return skip_locked(_with_trace(_due(now)), of=("self",))[:limit]


@transaction.atomic
def open_takedown(decision_id: int, *, now: datetime) -> Takedown | None:
    """Take one due decision: the item's takedown row, its first notice in the contact's batch, and the
    decision marked as taken, in one transaction. None when another worker took it first."""
    decisions = list(_with_trace(Decision.objects.select_for_update(of=("self",)).filter(
        pk=decision_id, notice_due_at__isnull=False, superseded_at__isnull=True)))
    return _take(decisions, now)[0] if decisions else None


def _with_trace(decisions: QuerySet[Decision]) -> QuerySet[Decision]:
    """With their items, traces, the traces' contacts (with their policies: a new batch's window) and providers."""
    return decisions.select_related("item", "trace__abuse_contact__takedown_policy", "trace__provider")


def _take(decisions: list[Decision], now: datetime) -> list[Takedown]:
    traces = {d.pk: d.trace or Trace.objects.latest_for(d.item_id) for d in decisions}
    existing = {t.item_id: t for t in prepared.instances(
        "takedown.existing_takedowns", lambda items: Takedown.objects.select_for_update().filter(item_id__in=items),
        items=prepared.padded([d.item_id for d in decisions]))} if decisions else {}
    created = [_new_takedown(d, traces[d.pk], now) for d in decisions if d.item_id not in existing]
    prepared.insert(created)  # ``bulk_create``'s INSERT, compiled once per number of takedowns
    opened = {t.item_id: t for t in created}
    changes: list[Change] = []
    moved: list[Takedown] = []
    notify: list[tuple[Takedown, AbuseContact, Trace | None, Decision]] = []
    for decision in decisions:
        trace = traces[decision.pk]
        contact = trace.abuse_contact if trace is not None else None
        takedown = opened.get(decision.item_id) or existing[decision.item_id]
        if decision.item_id in opened:
            changes.append(Change(actions.OPENED, decision.item, after={
                "takedown": takedown.pk, "decision": decision.pk, "route": decision.route,
                "contact": contact.pk if contact else None}))
        changed = decision.item_id in existing and contact is not None and takedown.contact_id != contact.pk
        if changed:
            takedown.contact, takedown.decision = contact, decision
            takedown.provider = trace.provider if trace else None
            moved.append(takedown)
            changes.append(Change(actions.CONTACT_CHANGED, decision.item,
                                  after={"contact": contact.pk if contact else None, "decision": decision.pk}))
        if contact is None:
            changes.append(Change(actions.NO_CONTACT, decision.item,
                                  after={"decision": decision.pk, "trace": trace.pk if trace else None}))
        elif (decision.item_id in opened or changed) and takedown.state != TakedownState.REMOVED:
            notify.append((takedown, contact, trace, decision))
    Takedown.objects.bulk_update(moved, ["contact", "provider", "decision"])
    record_many(SYSTEM, changes, now=now)
    _first_notices(notify, now)
    mark_notices_taken(decisions, now=now)
    return [opened.get(d.item_id) or existing[d.item_id] for d in decisions]


def _first_notices(notify: list[tuple[Takedown, AbuseContact, Trace | None, Decision]], now: datetime) -> None:
    """Each item into its contact's first-notice batch, per contact at once."""
    groups: dict[int, tuple[AbuseContact, list[Entry]]] = {}
    for takedown, contact, trace, decision in notify:
        groups.setdefault(contact.pk, (contact, []))[1].append((takedown, trace, decision.notice_due_at))
    add_to_batches([(contact, NoticeKind.FIRST, "", entries) for contact, entries in groups.values()], now=now)


def _new_takedown(decision: Decision, trace: Trace | None, now: datetime) -> Takedown:
    contact = trace.abuse_contact if trace is not None else None
    return Takedown(item=decision.item, state=TakedownState.ONLINE, state_changed_at=now, opened_at=now,
                    reported_at=decision.item.first_reported_at, decision=decision, contact=contact,
                    provider=trace.provider if trace is not None else None, next_check_at=now)


# ------------------------------------------------------------------ batches


Entry = tuple[Takedown, Trace | None, datetime | None]  # the item's takedown, its trace, when it could be noticed


def add_to_batches(groups: list[tuple[AbuseContact, str, str, list[Entry]]], *, now: datetime) -> int:
    """Put each group's items into the open batch of its (contact, kind, role), a new one when none is open
    (another when it fills up), the lines created at once per batch. What already waits unsent for a contact
    and role, the open batches (locked) and the contacts' policies are read once for every group. Returns
    how many items were added. Must run inside the caller's transaction."""
    groups = [group for group in groups if group[3]]
    if not groups:
        return 0
    contacts = {contact.pk for contact, _, _, _ in groups}
    waiting = set(prepared.rows("takedown.waiting_lines", _waiting, contacts=prepared.padded(sorted(contacts)),
                                items=prepared.padded(sorted({t.item_id for _, _, _, entries in groups
                                                              for t, _, _ in entries}))))
    batches = _OpenBatches(groups)
    added = 0
    for contact, kind, role, entries in groups:
        todo = [entry for entry in entries if (entry[0].item_id, contact.pk, role) not in waiting]
        added += len(todo)
        while todo:
            first, _, ready_at = todo[0]
            notice, fresh = batches.get(contact, kind, role, first, now, ready_at or now)
            room = MAX_NOTICE_ITEMS if fresh else max(1, MAX_NOTICE_ITEMS - notice.lines.count())
            chunk, todo = todo[:room], todo[room:]
            # ``bulk_create``'s INSERT, compiled once per number of lines
            prepared.insert([_line(notice, takedown, trace, now) for takedown, trace, _ in chunk])
            if len(chunk) >= room:
                move_notice(Notice.objects.filter(pk=notice.pk, state=NoticeState.BATCHING), NoticeState.QUEUED,
                            now=now, strict=False)
                batches.full(notice)
    return added


def _waiting(*, items: list[int], contacts: list[int]) -> QuerySet[NoticeItem, tuple[int, int, str]]:
    """(item, contact, role) of the lines of these items that wait unsent in a notice to one of these contacts."""
    return NoticeItem.objects.filter(
        item_id__in=items, notice__contact_id__in=contacts, notice__state__in=OUTBOX_STATES, dropped_at__isnull=True,
    ).values_list("item_id", "notice__contact_id", "notice__role")


class _OpenBatches:
    """The open batches of the groups' (contact, kind, role), read and locked in one query; the contacts'
    policies read once when a batch has to be opened."""

    def __init__(self, groups: list[tuple[AbuseContact, str, str, list[Entry]]]) -> None:
        # Locked until this transaction adds its lines: a sender claiming one meanwhile (SKIP LOCKED) passes it
        # by, and one that claimed it first makes this query miss it once it commits, so a line is never added
        # to a notice that is already being sent.
        # a power of two of (contact, kind, role): a few compiled shapes
        keys = prepared.to_power_of_two(list(dict.fromkeys((c.pk, kind, role) for c, kind, role, _ in groups)))
        self.open = {(n.contact_id, n.kind, n.role): n for n in prepared.instances(
            "takedown.open_batches", _open_batches, contacts=[c for c, _, _ in keys],
            kinds=[str(k) for _, k, _ in keys], roles=[str(r) for _, _, r in keys])}
        self.contacts = {contact.pk for contact, _, _, _ in groups}
        self.policies: dict[int, ContactPolicy] | None = None

    def get(self, contact: AbuseContact, kind: str, role: str, takedown: Takedown, now: datetime,
            ready_at: datetime) -> tuple[Notice, bool]:
        """The open batch, and whether it was opened just now (so it is empty)."""
        key = (contact.pk, kind, role)
        if key in self.open:
            return self.open[key], False
        notice, fresh = _create_batch(contact, kind, role, takedown, now, ready_at, self.policy(contact))
        self.open[key] = notice
        return notice, fresh

    def policy(self, contact: AbuseContact) -> ContactPolicy | None:
        """The contact's policy: as read with the contact (``select_related``), else the groups' contacts' read."""
        relation = AbuseContact.takedown_policy.related
        if relation.is_cached(contact):
            return cast(ContactPolicy | None, relation.get_cached_value(contact))
        if self.policies is None:
            self.policies = {p.contact_id: p for p in prepared.instances(
                "takedown.batch_policies", lambda contacts: ContactPolicy.objects.filter(contact_id__in=contacts),
                contacts=prepared.padded(sorted(self.contacts)))}
        return self.policies.get(contact.pk)

    def full(self, notice: Notice) -> None:
        self.open.pop((notice.contact_id, notice.kind, notice.role), None)


def _open_batches(*, contacts: list[int], kinds: list[str], roles: list[str]) -> QuerySet[Notice]:
    """The open batches of these (contact, kind, role), one per position of the three lists, locked."""
    wanted = Q(pk__in=[])
    for contact, kind, role in zip(contacts, kinds, roles, strict=True):
        wanted |= Q(contact_id=contact, kind=kind, role=role)
    return Notice.objects.filter(wanted, state=NoticeState.BATCHING).select_for_update()


def _line(notice: Notice, takedown: Takedown, trace: Trace | None, now: datetime) -> NoticeItem:
    address = (trace.addresses[0].get("ip", "") if trace is not None and trace.addresses else "") or ""
    return NoticeItem(
        notice=notice, item_id=takedown.item_id, takedown=takedown, trace=trace, url=takedown.item.canonical_url,
        ip=str(address)[:45], traced_at=trace.traced_at if trace is not None else None, added_at=now)


def batch_window(policy: ContactPolicy | None) -> timedelta:
    """How long a new batch collects items: the contact's own window, else HOTLINE_TAKEDOWN_BATCH_MINUTES."""
    if policy is not None and policy.batch_minutes is not None:
        return timedelta(minutes=policy.batch_minutes)
    return conf.batch_window()


def _create_batch(contact: AbuseContact, kind: str, role: str, takedown: Takedown, now: datetime,
                  ready_at: datetime, policy: ContactPolicy | None) -> tuple[Notice, bool]:
    window = batch_window(policy) if kind != NoticeKind.ESCALATION else timedelta(0)
    due = windows.next_open(policy, max(now, min(ready_at, now) + window))
    for _ in range(_JOIN_TRIES):
        notice = Notice(
            kind=kind, role=role, contact=contact, provider_id=contact.provider_id or takedown.provider_id,
            channel=contact.channel, recipient=contact.endpoint if contact.channel == "api" else contact.email,
            language=contact.language, state=NoticeState.BATCHING, created_at=now, next_attempt_at=due)
        try:
            with transaction.atomic():
                prepared.insert([notice])  # ``create``'s INSERT, compiled once per process
                return notice, True
        except IntegrityError:
            # Another worker opened the batch at the same moment: join it, locked as ``_OpenBatches`` locks the
            # batches it finds. Unlocked, a sender could claim it and read its lines before this transaction's
            # lines are committed, and those would go out in no message. Gone already (claimed once that worker
            # committed): open one again.
            joined = Notice.objects.open_batch(contact.pk, kind, role).select_for_update().first()
            if joined is not None:
                return joined, False
    raise IntegrityError(f"no open batch for contact {contact.pk} ({kind}, {role!r}) after {_JOIN_TRIES} tries")


_JOIN_TRIES = 5  # each lost race means another worker's batch was opened and claimed in between: a few at most


def latest_located_traces(item_ids: list[int]) -> dict[int, Trace | None]:
    """Per item the newest trace that found an address (a failed re-trace must not blank the notice's IP),
    else its newest trace: one row per item read, two queries whatever their number."""
    found: dict[int, Trace] = Trace.objects.latest_located_many(item_ids)
    rest = [pk for pk in item_ids if pk not in found]
    found |= Trace.objects.latest_many(rest)
    return {pk: found.get(pk) for pk in item_ids}


# ------------------------------------------------------------------ what providers tell us


@transaction.atomic
def acknowledge_notice(notice: Notice, *, now: datetime, actor: Actor) -> bool:
    """The provider acknowledged the notice. Returns False when it already had (nothing changes)."""
    locked = Notice.objects.select_for_update().get(pk=notice.pk)
    if locked.sent_at is None:
        raise TakedownError("notice: it has not been sent yet")
    if locked.acknowledged_at is not None:
        return False
    locked.acknowledged_at = now
    locked.save(update_fields=["acknowledged_at"])
    Takedown.objects.filter(notice_lines__notice=locked, acknowledged_at__isnull=True).update(acknowledged_at=now)
    record(actor, actions.NOTICE_ACKNOWLEDGED, locked, now=now, after={"notice": locked.reference})
    return True


@transaction.atomic
def provider_reports_removal(notice: Notice, *, now: datetime, actor: Actor) -> bool:
    """The provider says the content is gone. It counts only once the checker confirms it (misses); the
    items are checked right away. Also acknowledges. False when it was already reported."""
    acknowledge_notice(notice, now=now, actor=actor)
    locked = Notice.objects.select_for_update().get(pk=notice.pk)
    if locked.removal_confirmed_at is not None:
        return False
    locked.removal_confirmed_at = now
    locked.save(update_fields=["removal_confirmed_at"])
    takedowns = Takedown.objects.filter(notice_lines__notice=locked, state__in=ACTIVE_STATES)
    takedowns.filter(provider_removed_at__isnull=True).update(provider_removed_at=now)
    takedowns.update(next_check_at=now)
    record(actor, actions.PROVIDER_REPORTS_REMOVAL, locked, now=now, after={"notice": locked.reference})
    return True


@transaction.atomic
def record_delivery(notice: Notice, *, now: datetime) -> bool:
    """A delivery report (DSN) says an e-mail notice arrived (``receive_bounce`` calls this).
    Only the first report counts: False, with nothing written, when the delivery is known already."""
    if not Notice.objects.filter(pk=notice.pk, delivered_at__isnull=True).update(delivered_at=now):
        return False
    record(SYSTEM, actions.NOTICE_DELIVERED, notice, now=now, after={"notice": notice.reference})
    return True


@transaction.atomic
def record_bounce(notice: Notice, *, now: datetime, reason: str, status: str = "") -> bool:
    """The notice bounced (``receive_bounce`` calls this with the DSN's reason and status code):
    the managers are flagged and see it on the non-responders page, the contact's address needs fixing.

    Only the first bounce counts (False, nothing written, when one is known already), so a DSN read
    twice changes nothing. The audit event keeps the status code, not the reason: the reason names the
    address, which the retention policy for notices clears and an append-only audit trail could not.
    """
    if not Notice.objects.filter(pk=notice.pk, bounced_at__isnull=True).update(
            bounced_at=now, bounce_reason=reason[:2000]):
        return False
    flagged = Takedown.objects.filter(notice_lines__notice=notice, notice_lines__dropped_at__isnull=True,
                                      managers_flagged_at__isnull=True).update(managers_flagged_at=now)
    record(SYSTEM, actions.NOTICE_BOUNCED, notice, now=now,
           after={"notice": notice.reference, "status": status[:20], "flagged": flagged})
    return True
