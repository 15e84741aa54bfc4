"""Sending notices, crash-safe: every notice is a row with its key before anything leaves the machine.

1. claim: a few due notices at once (``CLAIM_BATCH``; batching window over, retry due, or a dead sender's lease
   run out) are moved to ``sending`` with a lease, in their own committed transaction (SKIP LOCKED on
   PostgreSQL, a conditional UPDATE that must hit one row everywhere);
2. re-trace (first attempt only), the claimed notices' items as one batch: an item whose host now belongs to
   another contact is re-routed instead;
3. send each after commit, through the contact's channel; the Message-ID / Idempotency-Key derive from the key,
   so a worker killed mid-send is replaced by one that sends the same message again, never a new one; a claimed
   notice whose lease has run half out before its turn is left for another attempt, never sent late;
4. record each: ``sent`` with every item's timings, repeat and check schedule, and the partners told; or a
   retry with back-off; or ``failed`` after the last attempt.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Field, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Coalesce, Least
from django.utils import timezone, translation

from hotline.audit.services import SYSTEM, Change, record, record_many
from hotline.lib import claim, prepared, states
from hotline.partners.models import InboundForward
from hotline.partners.services import send_status
from hotline.routing.models import Decision
from hotline.routing.services import route_item
from hotline.takedown import actions, channels, conf, xarf
from hotline.takedown.channels import ChannelError, SendResult, channel_for
from hotline.takedown.models import (
    NOTICE_STATES,
    NOTICE_TRANSITIONS,
    ContactPolicy,
    Notice,
    NoticeItem,
    NoticeKind,
    NoticeState,
    Takedown,
    TakedownState,
    move_notice,
)
from hotline.takedown.render import (
    contact_policies,
    contact_policy,
    language_of,
    live_lines,
    live_lines_of,
    render_notice,
)
from hotline.takedown.services.notices import add_to_batches, batch_window, latest_located_traces
from hotline.tracing.models import AbuseContact, Trace, TraceOutcome
from hotline.tracing.services import trace_items

log = logging.getLogger("hotline.takedown")
PAGE_LANGUAGES = ("nl", "fr")  # languages the public respond page speaks besides English
CLAIM_BATCH = 5  # notices claimed at once by a step: their lines read and their items re-traced together


def send_due(*, now: datetime | None = None, limit: int = 20, probe: bool = True) -> bool:
    """Claim and deliver up to ``limit`` due notices (``notice_step``), a few at a time (``CLAIM_BATCH``): their
    lines read and their items re-traced as one batch, then each sent and recorded on its own. Returns whether
    any. Without ``now`` each claim and each outcome is at the clock's time. A claim that takes fewer notices
    than it asked for ends the call once they have all been delivered (none was left to claim; the worker calls
    again when this one found work); one left to its lease (``deliver_many``) is claimed again by the next claim;
    ``probe=False``: the caller has just asked whether any is due (``notice_step``), the first claim does not."""
    found, done = False, 0
    with channels.session():  # one SMTP connection for the step's e-mail notices
        while done < limit:
            wanted = min(CLAIM_BATCH, limit - done)
            notices = claim_notices(now or timezone.now(), wanted, probe=probe or found)
            if not notices:
                break
            found, done = True, done + len(notices)
            if deliver_many(notices, now=now) and len(notices) < wanted:
                break
    return found


def work_due(now: datetime) -> tuple[bool, bool, bool]:
    """Whether any routing decision's notice, any takedown's repeat and any notice is due: ``notice_step``'s
    three probes (``take_due_decisions``', ``queue_repeats``' and ``claim_notices``') as one query, compiled once
    per process: an idle call's only query."""
    decisions, repeats, notices = prepared.any_rows("takedown.work_due", _work_due, now=now)
    return decisions, repeats, notices


def _work_due(*, now: datetime) -> list[QuerySet[Any]]:
    """The three due-queries ``work_due`` asks about, each as its own probe asks."""
    return [Decision.objects.notice_due(now), Takedown.objects.repeat_due(now), Notice.objects.due(now)]


# ------------------------------------------------------------------ 1. claim


def claim_notice(now: datetime) -> Notice | None:
    claimed = claim_notices(now, 1)
    return claimed[0] if claimed else None


def claim_notices(now: datetime, limit: int, *, probe: bool = True) -> list[Notice]:
    """Claim up to ``limit`` due notices in one committed transaction (oldest due first); the ones whose
    previous sender died mid-send are audited. Returned as claimed, with their contacts (and their contacts'
    policies) and providers. Nothing claimed, and no write transaction opened, when a probe compiled once says
    none is due (``probe=False``: the caller has just asked)."""
    if probe and not prepared.any_row("takedown.notices_due", Notice.objects.due, now=now):
        return []
    lease = conf.send_lease()
    with transaction.atomic():
        # read (and on PostgreSQL locked) with SQL compiled once per process, claimed as ``Notice.claim_due`` claims
        due = prepared.instances("takedown.claim_notices", functools.partial(_claimable, limit), vary=limit, now=now)
        claimed = Notice.claim_rows(due, now=now, lease=lease, limit=limit,
                                    match=("state", "attempts", "next_attempt_at"))
        # the previous sender died mid-send: the same message again
        record_many(SYSTEM, [Change(actions.NOTICE_LEASE_EXPIRED, notice, after={
            "notice": notice.reference, "attempt": notice.attempts + 1})
            for notice in claimed if notice.state == NoticeState.SENDING], now=now)
    return [notice.as_claimed(now=now, lease=lease) for notice in claimed]  # what the claim wrote, not read back


def _claimable(limit: int, *, now: datetime) -> QuerySet[Notice]:
    """The first ``limit`` due notices a claim may take, oldest due first, with their contacts and providers; on
    PostgreSQL locked, those another worker holds skipped (``Notice.claim_due``'s read with ``scan=1``)."""
    due = Notice.claimable(Notice.objects.due(now)).select_related("contact__takedown_policy", "provider")
    return claim.skip_locked(due.order_by("next_attempt_at", "pk"), of=("self",))[:limit]


# ------------------------------------------------------------------ 2.-4. deliver


def deliver_many(notices: list[Notice], *, now: datetime | None = None) -> bool:
    """Deliver claimed notices: their lines read at once, the items of those not re-traced yet re-traced as
    one batch, then each sent and recorded on its own. The first is sent whatever the time, as a notice claimed
    alone would be; a later one whose lease has run half out by its turn is left alone: its lease runs out and
    another attempt takes it, so a slow step never sends a notice that another worker may have claimed. An
    unexpected error in one notice pushes that one back and is raised after the others have gone out (they
    would otherwise wait for their leases to run out). Returns whether none was left to its lease."""
    started = time.monotonic()
    lines = live_lines_of(notices)
    fresh = [notice for notice in notices if notice.retraced_at is None]
    try:
        traces = _retrace(fresh, lines, now=now or timezone.now())
        shared = _Shared(_policies(notices), xarf.Facts([line.item_id for found in lines.values()
                                                         for line in found]),
                         _forwarded([line.item_id for notice in notices if notice.kind == NoticeKind.FIRST
                                     for line in lines[notice.pk]]))
    except Exception as exc:
        for notice in notices:
            _failed(notice, ChannelError(f"{type(exc).__name__}: {exc}", retry=True), now=now or timezone.now())
        raise
    error: Exception | None = None
    left = False
    for number, notice in enumerate(notices):
        if number and time.monotonic() - started > conf.send_lease().total_seconds() / 2:
            log.warning("notice %s: left for another attempt (its lease is half gone)", notice.reference)
            left = True
            break
        try:
            deliver(notice, now=now, lines=lines[notice.pk], traces=traces, shared=shared)
        except Exception as exc:  # that notice is pushed back already; the others claimed with it still go out
            log.exception("notice %s: unexpected error", notice.reference)
            error = error or exc
    if error is not None:
        raise error
    return not left


def _policies(notices: list[Notice]) -> dict[int, ContactPolicy]:
    """The notices' contacts' policies, by contact id: as the claim read them with the contacts, else read."""
    relation = AbuseContact.takedown_policy.related
    if not all(relation.is_cached(notice.contact) for notice in notices):
        return contact_policies(notices)
    return {notice.contact_id: cast(ContactPolicy, policy) for notice in notices
            if (policy := relation.get_cached_value(notice.contact)) is not None}  # None: the contact has none


@dataclass(frozen=True)
class _Shared:
    """What ``deliver_many`` reads once for the notices claimed together: their contacts' policies (the
    message's templates, the next repeat's lead) and what the XARF documents say of their items' files."""

    policies: dict[int, ContactPolicy]
    facts: xarf.Facts
    forwarded: set[int]  # of the first notices' items, those a partner forwarded (``_sent`` tells the partners)


def _forwarded(items: list[int]) -> set[int]:
    """Which of these items a partner forwarded: one query compiled once (per power of two of the items)."""
    return {item for (item,) in prepared.rows(
        "takedown.forwarded_items", lambda items: InboundForward.objects.filter(item_id__in=items).values_list(
            "item_id"), items=prepared.padded(items))} if items else set()


def deliver(notice: Notice, *, now: datetime | None = None, lines: list[NoticeItem] | None = None,
            traces: dict[int, Trace] | None = None, shared: _Shared | None = None) -> None:
    """Re-trace (once), send and record one claimed notice. Unexpected errors push it back, then re-raise.
    The notice's lines are read once (or given, with the re-trace of its items and what the notices claimed
    with it share: ``deliver_many``): the re-trace, the message and the record of it all use them."""
    try:
        lines = live_lines(notice) if lines is None else lines
        if notice.retraced_at is None:
            traces = _retrace([notice], {notice.pk: lines}, now=now or timezone.now()) if traces is None else traces
            lines = _prepare(notice, lines, traces, now=now or timezone.now())
            if not lines:
                return
        # read once: the message's templates, the next repeat's lead
        policy = contact_policy(notice) if shared is None else shared.policies.get(notice.contact_id)
        with translation.override(_page_language(notice.language)):
            message = render_notice(notice, lines, policy=policy, facts=None if shared is None else shared.facts)
        result = channel_for(notice.channel).send(message)
    except ChannelError as exc:
        _failed(notice, exc, now=now or timezone.now())
        return
    except Exception as exc:
        _failed(notice, ChannelError(f"{type(exc).__name__}: {exc}", retry=True), now=now or timezone.now())
        raise
    _sent(notice, lines, result, policy, now=now or timezone.now(),
          forwarded=None if shared is None else shared.forwarded)


def _page_language(code: str) -> str:
    language = language_of(code)
    return language if language in PAGE_LANGUAGES else "en"


def _retrace(notices: list[Notice], lines: dict[int, list[NoticeItem]], *, now: datetime) -> dict[int, Trace]:
    """Re-trace the items still online of notices before their first attempt, all as one batch
    (``trace_items``: one snapshot and audit event each, one DNS resolution per host), outside any transaction: a
    crash before a notice records it only re-traces again. Escalations go to the contact above, wherever the host
    is now. Returns the traces by line."""
    todo = [line for notice in notices if notice.kind != NoticeKind.ESCALATION for line in lines[notice.pk]
            if line.takedown.state != TakedownState.REMOVED]
    traces = trace_items([line.item for line in todo], now=now) if todo else []
    return {line.pk: trace for line, trace in zip(todo, traces, strict=True)}


@transaction.atomic
def _prepare(notice: Notice, lines: list[NoticeItem], traces: dict[int, Trace], *, now: datetime) -> list[NoticeItem]:
    """Apply the re-trace: an item whose host now belongs to another contact is dropped and routed anew; the
    lines' new traces and drops are written set-wise. Returns the lines left to send (none: the notice is
    cancelled)."""
    dropped: list[tuple[NoticeItem, str]] = []
    retraced: list[NoticeItem] = []
    for line in lines:
        if line.takedown.state == TakedownState.REMOVED:
            dropped.append((line, "removed before the notice went out"))
        elif line.pk in traces:
            _retrace_line(notice, line, traces[line.pk], now, dropped, retraced)
    _drop(notice, dropped, now)
    _write_retraced(notice, retraced, now)
    left = [line for line in lines if line.dropped_at is None]
    if left:
        return left
    move_notice(Notice.objects.filter(pk=notice.pk), NoticeState.CANCELLED, now=now, next_attempt_at=None)
    record(SYSTEM, actions.NOTICE_CANCELLED, notice, now=now, after={"reason": "no items left after re-trace"})
    return []


def _retrace_line(notice: Notice, line: NoticeItem, trace: Trace, now: datetime,
                  dropped: list[tuple[NoticeItem, str]], retraced: list[NoticeItem]) -> None:
    if trace.outcome != TraceOutcome.OK:
        return  # no better knowledge: keep the item (the checker decides whether it is gone)
    if trace.abuse_contact_id is not None and trace.abuse_contact_id != notice.contact_id:
        dropped.append((line, f"host moved: now traced to contact {trace.abuse_contact_id}"))
        route_item(line.item, trace=trace, now=now)  # the new decision brings the item to its new contact
        return
    line.trace, line.traced_at = trace, trace.traced_at
    line.ip = str(trace.addresses[0].get("ip", "") if trace.addresses else line.ip)[:45]
    retraced.append(line)


def _write_retraced(notice: Notice, retraced: list[NoticeItem], now: datetime) -> None:
    """The lines' new traces (``bulk_update``'s UPDATE) and the notice's re-trace time, each UPDATE compiled once
    per process (for each number of lines)."""
    meta = NoticeItem._meta
    fields = [meta.pk, meta.pk, *(meta.get_field(name) for name in ("trace", "traced_at", "ip"))]
    size = max(connection.ops.bulk_batch_size(fields, retraced), 1)  # as bulk_update splits them (SQLite: 199)
    for start in range(0, len(retraced), size):
        chunk = retraced[start:start + size]
        traces: list[prepared.Value] = []
        moments: list[prepared.Value] = []
        for line in chunk:
            assert line.trace_id is not None and line.traced_at is not None  # an OK trace, just saved
            traces.append(line.trace_id)
            moments.append(line.traced_at)
        prepared.update("takedown.retraced_lines", _retraced_lines, lines=[line.pk for line in chunk], trace=traces,
                        traced_at=moments, ip=[line.ip for line in chunk])
    prepared.update("takedown.notice_retraced", _notice_retraced, notice=notice.pk, now=now)
    notice.retraced_at = now


def _retraced_lines(*, lines: list[int], **columns: list[Any]) -> tuple[QuerySet[NoticeItem], dict[str, Any]]:
    """What ``NoticeItem.objects.bulk_update(lines, ["trace", "traced_at", "ip"])`` writes: ``columns`` by field
    name, each with one value per line."""
    changes: dict[str, Any] = {}
    for name, column in columns.items():
        field = NoticeItem._meta.get_field(name)
        assert isinstance(field, Field)
        case: Any = Case(*[When(pk=pk, then=Value(value, output_field=field))
                           for pk, value in zip(lines, column, strict=True)], output_field=field)
        if connection.features.requires_casted_case_in_updates:
            case = Cast(case, output_field=field)
        changes[field.attname] = case
    return NoticeItem.objects.filter(pk__in=lines), changes


def _notice_retraced(*, notice: int, now: datetime) -> tuple[QuerySet[Notice], dict[str, Any]]:
    return Notice.objects.filter(pk=notice), {"retraced_at": now}


def _drop(notice: Notice, dropped: list[tuple[NoticeItem, str]], now: datetime) -> None:
    if not dropped:
        return
    for line, reason in dropped:
        line.dropped_at, line.drop_reason = now, reason[:200]
    NoticeItem.objects.bulk_update([line for line, _ in dropped], ["dropped_at", "drop_reason"])
    record_many(SYSTEM, [Change(actions.NOTICE_ITEM_DROPPED, line.item,
                                after={"notice": notice.reference, "reason": reason}) for line, reason in dropped],
                now=now)


@transaction.atomic
def _sent(notice: Notice, lines: list[NoticeItem], result: SendResult, policy: ContactPolicy | None, *,
          now: datetime, forwarded: set[int] | None = None) -> None:
    """Record the notice as sent, with the lines its message carried. ``forwarded``: which of a first notice's
    items a partner forwarded, read with the notices claimed together (``deliver_many``), else read here."""
    moved = prepared.update("takedown.notice_sent", functools.partial(_notice_sent, result.delivered),
                            vary=result.delivered, notice=notice.pk, now=now)
    states.moved_rows(Notice, NoticeState.SENT, moved)
    _stamp_takedowns(notice, [line.takedown for line in lines], policy, now)
    changes = [Change(actions.NOTICE_SENT, notice, after={
        "notice": notice.reference, "kind": notice.kind, "role": notice.role, "channel": notice.channel,
        "attempt": notice.attempts, "items": [line.item_id for line in lines], "detail": result.detail})]
    changes += [Change(actions.NOTICE_SENT, line.item, after={"notice": notice.reference, "kind": notice.kind})
                for line in lines]
    record_many(SYSTEM, changes, now=now)
    if notice.kind == NoticeKind.FIRST:
        # only items a partner forwarded have partners to tell: one query, not one per item (nor per notice)
        forwarded = _forwarded([line.item_id for line in lines]) if forwarded is None else forwarded
        for line in lines:
            if line.item_id in forwarded:
                send_status(line.item, "notice_sent", now=now, note=notice.reference)


def _notice_sent(delivered: bool, *, notice: int, now: datetime) -> tuple[QuerySet[Notice], dict[str, Any]]:
    """``move_notice`` of the notice to ``sent`` (the UPDATE, compiled once per process)."""
    return states.move_update(Notice.objects.filter(pk=notice), NoticeState.SENT, table=NOTICE_TRANSITIONS, now=now,
                              sent_at=Coalesce("sent_at", Value(now)), next_attempt_at=None, last_error="",
                              delivered_at=now if delivered else None)


def _stamp_takedowns(notice: Notice, takedowns: list[Takedown], policy: ContactPolicy | None,
                     now: datetime) -> None:
    """Timings, the next repeat and an early check, in one set-wise UPDATE (the checker writes other columns),
    compiled once per process for each shape (``prepared.update``: its expressions cost more to build than the
    UPDATE to run).

    The next repeat's batch opens one batching window early, so the repeat leaves on the contact's rhythm."""
    if not takedowns:
        return
    values: dict[str, prepared.Values] = {"now": now, "soon": now + conf.schedule()[0][1],
                                          "takedowns": [takedown.pk for takedown in takedowns]}
    # The takedowns were read before the send: whether one repeats is decided on its state as it is now.
    if notice.kind != NoticeKind.ESCALATION and any(t.contact_id == notice.contact_id for t in takedowns):
        rhythm = timedelta(hours=max(1, notice.contact.repeat_hours))
        lead = min(batch_window(policy), rhythm - timedelta(minutes=1))
        values |= {"contact": notice.contact_id, "repeat_at": now + rhythm - lead}
    shape = (notice.kind == NoticeKind.REPEAT, len(conf.ladder()), "repeat_at" in values)
    prepared.update("takedown.stamp_takedowns", functools.partial(_stamp, *shape[:2]), vary=shape, **values)


def _stamp(repeat: bool, rungs: int, *, now: datetime, soon: datetime, contact: int | None = None,
           takedowns: list[int], repeat_at: datetime | None = None) -> tuple[QuerySet[Takedown], dict[str, Any]]:
    """``_stamp_takedowns``' UPDATE: ``repeat`` counts a repeat, ``rungs`` is the ladder's length; with
    ``contact`` and ``repeat_at``, the takedowns of that contact still noticed repeat then."""
    updates: dict[str, Any] = {
        "first_notice_at": Coalesce("first_notice_at", Value(now)), "last_notice_at": now,
        "notices_sent": F("notices_sent") + 1, "next_check_at": Least(Coalesce("next_check_at", Value(soon)), soon),
        # a rung may count repeats: look at the ladder again, unless every rung has been climbed
        "next_escalation_at": Case(When(escalation_rung__lt=rungs, then=Value(now)),
                                   default=F("next_escalation_at")),
    }
    if repeat:
        updates["repeats"] = F("repeats") + 1
    if repeat_at is not None:
        repeating = Q(contact_id=contact, state__in=NOTICE_STATES)
        updates["next_notice_at"] = Case(When(repeating, then=Value(repeat_at)), default=F("next_notice_at"))
    return Takedown.objects.filter(pk__in=takedowns), updates


def _failed(notice: Notice, exc: ChannelError, *, now: datetime) -> None:
    with transaction.atomic():
        give_up = notice.retry_or_fail(str(exc), retry=exc.retry, max_attempts=settings.HOTLINE_TAKEDOWN_SEND_ATTEMPTS,
                                       now=now)
        if give_up:
            Takedown.objects.filter(notice_lines__notice=notice, managers_flagged_at__isnull=True).update(
                managers_flagged_at=now)
        record(SYSTEM, actions.NOTICE_FAILED if give_up else actions.NOTICE_RETRY, notice, now=now,
               after={"notice": notice.reference, "error": str(exc)[:500], "attempt": notice.attempts})
    log.warning("notice %s: %s (%s)", notice.reference, exc, "gave up" if give_up else "will retry")


# ------------------------------------------------------------------ repeats


def queue_repeats(*, now: datetime, limit: int = 500, probe: bool = True) -> int:
    """Put every takedown whose repeat is due into its contact's repeat batch, claiming them in one
    transaction (SKIP LOCKED on PostgreSQL; SQLite's IMMEDIATE transaction holds off other writers). The
    items go into their batches per contact and kind at once, their latest located traces read in one go.
    Nothing done, and no write transaction opened, when a probe compiled once says none is due
    (``probe=False``: the caller has just asked, ``notice_step``)."""
    if probe and not prepared.any_row("takedown.repeat_due", Takedown.objects.repeat_due, now=now):
        return 0
    with transaction.atomic():  # each statement compiled once per process (per power of two of the takedowns)
        takedowns = prepared.instances("takedown.repeats_due", functools.partial(_repeats_due, limit), vary=limit,
                                       now=now)
        if takedowns:
            prepared.update("takedown.repeats_taken", _repeat_at, takedowns=prepared.padded([t.pk for t in takedowns]))
        # a removal is being confirmed: ask again only if the content turns out to be there after all
        if pending := [t.pk for t in takedowns if t.state == TakedownState.REMOVAL_PENDING]:
            prepared.update("takedown.repeats_pending", _repeat_at, takedowns=prepared.padded(pending),
                            at=now + conf.miss_interval() + timedelta(minutes=1))
        return _queue_repeats([t for t in takedowns if t.state in NOTICE_STATES], now)


def _repeats_due(limit: int, *, now: datetime) -> QuerySet[Takedown]:
    """The first ``limit`` takedowns whose repeat is due, with their items and contacts, locked (PostgreSQL: those
    another worker holds skipped)."""
    due = Takedown.objects.repeat_due(now).order_by("next_notice_at", "pk")
    return claim.skip_locked(due, of=("self",)).select_related("item", "contact__takedown_policy")[:limit]


def _repeat_at(*, takedowns: list[int], at: datetime | None = None) -> tuple[QuerySet[Takedown], dict[str, Any]]:
    return Takedown.objects.filter(pk__in=takedowns), {"next_notice_at": at}


def _queue_repeats(takedowns: list[Takedown], now: datetime) -> int:
    traces = latest_located_traces([t.item_id for t in takedowns]) if takedowns else {}
    groups: dict[tuple[int, str], tuple[AbuseContact, list[tuple[Takedown, Trace | None, datetime | None]]]] = {}
    for takedown in takedowns:
        if takedown.contact is None:
            continue
        kind = NoticeKind.FIRST if takedown.first_notice_at is None else NoticeKind.REPEAT
        groups.setdefault((takedown.contact.pk, kind), (takedown.contact, []))[1].append(
            (takedown, traces[takedown.item_id], takedown.next_notice_at))
    return add_to_batches([(contact, kind, "", entries) for (_, kind), (contact, entries) in groups.items()],
                          now=now)
