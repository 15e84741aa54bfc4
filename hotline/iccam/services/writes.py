"""Every write the connector makes to our database, each in one transaction with its audit event."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Q, QuerySet, Value
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hotline.audit.services import SYSTEM, Change, record, record_many
from hotline.iccam import actions, conf
from hotline.iccam.models import (
    OPEN_STATES,
    PUSH_TRANSITIONS,
    Content,
    Origin,
    PullState,
    Push,
    PushKind,
    PushState,
    move_push,
)
from hotline.lib import claim, prepared, states
from hotline.reports.models import Source
from hotline.reports.services import IncomingReport, receive_reports

REFERENCE_STAMP = "%Y%m%d%H%M"


# ------------------------------------------------------------------ the pull's state


def pull_state() -> PullState:
    state, _created = PullState.objects.get_or_create(pk=1)
    return state


def claim_pull(*, now: datetime, interval: timedelta, lease: timedelta) -> bool:
    """Take the pull for this minute: one conditional UPDATE, so one worker pulls at a time and at most once
    per ``interval``. False while another worker holds it, the interval has not passed, or ICCAM asked us
    to wait."""
    since = now - interval
    if prepared.any_row("iccam.pull_held", _pull_held, now=now, since=since):
        return False  # the usual answer (``pull_step`` runs every few seconds): read (SQL compiled once), not written
    # The UPDATE decides (another worker may have moved since the read), compiled once per process.
    if prepared.update("iccam.claim_pull", _claimed_pull, now=now, since=since, until=now + lease) == 1:
        return True
    if PullState.objects.filter(pk=1).exists():
        return False
    pull_state()  # the first pull of this database: the row, then the same UPDATE
    return prepared.update("iccam.claim_pull", _claimed_pull, now=now, since=since, until=now + lease) == 1


def _claimed_pull(now: datetime, since: datetime, until: datetime) -> tuple[QuerySet[PullState], dict[str, Any]]:
    """``claim_pull``'s UPDATE: the pull leased until ``until`` unless pulled after ``since``, leased or paused past
    ``now``."""
    due = (Q(last_pull_at__isnull=True) | Q(last_pull_at__lte=since)) \
        & (Q(lease_until__isnull=True) | Q(lease_until__lte=now)) \
        & (Q(paused_until__isnull=True) | Q(paused_until__lte=now))
    return PullState.objects.filter(due, pk=1), {"lease_until": until}


def _pull_held(now: datetime, since: datetime) -> QuerySet[PullState]:
    """The pull state when the claim's UPDATE would not take it (pulled after ``since``, leased or paused past
    ``now``), read first: when it is not held the UPDATE still decides (another worker may have moved)."""
    return PullState.objects.filter(Q(last_pull_at__gt=since) | Q(lease_until__gt=now) | Q(paused_until__gt=now),
                                    pk=1)


def finish_pull(*, now: datetime, since: datetime, error: str = "") -> None:
    """The pull's lease released and its outcome kept (an UPDATE compiled once per process, with an error or not)."""
    if error:
        prepared.update("iccam.pull_failed", _finished_pull, now=now, since=since, error=error[:2000])
    else:
        prepared.update("iccam.pull_finished", _finished_pull, now=now, since=since)


def _finished_pull(now: datetime, since: datetime, error: str | None = None) -> tuple[
        QuerySet[PullState], dict[str, Any]]:
    changes: dict[str, Any] = {"lease_until": None, "last_pull_at": now, "since": since}
    if error is not None:
        changes |= {"last_error": error, "last_error_at": now}
    else:
        changes |= {"last_error": ""}
    return PullState.objects.filter(pk=1), changes


def pause(*, now: datetime, seconds: int) -> None:
    """ICCAM answered 429 with Retry-After: no call, pull or push, before then."""
    pull_state()
    PullState.objects.filter(pk=1).update(paused_until=now + timedelta(seconds=seconds))


def any_due(now: datetime) -> bool:
    """Whether a write may be due and ICCAM has not asked us to wait (``Push.objects.due`` without its lane
    order: a row waiting behind an earlier one of its lane still counts). ``push_step`` asks this before it
    opens a transaction to claim one: one query when idle or paused."""
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM iccam_push WHERE state IN (%s, %s) AND next_attempt_at <= %s AND NOT EXISTS "
                       "(SELECT 1 FROM iccam_pullstate WHERE id = 1 AND paused_until > %s) LIMIT 1",
                       [*OPEN_STATES, at, at])
        return cursor.fetchone() is not None


# ------------------------------------------------------------------ pull: reports in


def _when(value: Any) -> datetime | None:
    parsed = parse_datetime(str(value)) if value else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


@dataclass
class Imported:
    content_id: int
    reference: str


@transaction.atomic
def import_report(report: dict[str, Any], contents: Sequence[dict[str, Any]], *, now: datetime) -> list[Imported]:
    """Receive the content items of one ICCAM report that we do not know yet as one report of ours (source
    ICCAM, deduplicated like every intake), and keep ICCAM's ids beside the items, in one transaction.
    Items already known are left alone. Returns the hotline reference to write back for each new item."""
    known = set(Content.objects.filter(content_id__in=[c["contentId"] for c in contents])
                .values_list("content_id", flat=True))
    fresh = [c for c in contents if c["contentId"] not in known]
    if not fresh:
        return []
    assigned = [d for c in fresh if (d := _when(c.get("countryAssignmentDate")))]
    incoming = IncomingReport(
        source=Source.ICCAM, urls=[str((c.get("url") or {}).get("urlString") or "") for c in fresh],
        received_at=min(assigned) if assigned else now, text=str(report.get("memo") or ""),
        external_ref=f"ICCAM {report['reportId']}")
    result = receive_reports([incoming], actor=SYSTEM, now=now)[0]
    stamp = now.strftime(REFERENCE_STAMP)
    reference = f"{result.reference}_{stamp}" if result.reference else f"HL-NOT-IMPORTED_{stamp}"
    rows = [_content_row(c, url, result.report_id, reference, now) for c, url in zip(fresh, result.urls, strict=True)]
    try:
        with transaction.atomic():
            Content.objects.bulk_create(rows)
    except IntegrityError:
        raise IntegrityError("another worker imported these ICCAM items at the same time") from None
    record_many(SYSTEM, [Change(actions.CONTENT_IMPORTED, row, after={
        "report": result.reference, "iccam": f"{row.iccam_report_id}#{row.content_id}", "item": row.item_id,
        "error": row.reference_error}) for row in rows], now=now)
    return [Imported(row.content_id, reference) for row in rows]


def _content_row(content: dict[str, Any], url: Any, report_id: int | None, reference: str, now: datetime) -> Content:
    where = content.get("url") or {}
    refused = "" if url.item_id else f"URL refused: {url.code}: {url.reason}"
    return Content(
        content_id=int(content["contentId"]), iccam_report_id=int(content["reportId"]), origin=Origin.PULLED,
        item_id=url.item_id, report_id=report_id, url=str(where.get("urlString") or "")[:4096],
        is_source_url=bool(where.get("isSourceUrl")),
        assigned_country=str(content.get("assignedCountryCode") or "")[:2],
        hosting_country=str(where.get("hostingCountryCode") or "")[:2],
        country_assignment_date=_when(content.get("countryAssignmentDate")), imported_at=now,
        hotline_reference=reference[:100], reference_error=refused[:2000])


def reference_for(content_id: int) -> str:
    """The reference already chosen for a known item (the same value on every re-write). Compiled once per
    process: the pull reads it for every item it lists."""
    found = prepared.rows("iccam.reference", _reference, content=content_id)
    return str(found[0][0] or "") if found else ""


def _reference(content: int) -> QuerySet[Content, tuple[str]]:
    return Content.objects.filter(content_id=content).values_list("hotline_reference")


def referenced(content_id: int, *, now: datetime, error: str = "", reference: str | None = None) -> None:
    """ICCAM took our reference (or refused it: ``error``). ``reference``: the one written, when the caller has
    read it (``reference_for``), else read again for the audit event. The write is compiled once per process."""
    if error:
        Content.objects.filter(content_id=content_id).update(reference_error=error[:2000])
        return
    with transaction.atomic():
        if prepared.update("iccam.referenced", _referenced, content=content_id, now=now):
            record(SYSTEM, actions.REFERENCE_WRITTEN, ("iccam.content", content_id), now=now,
                   after={"reference": reference_for(content_id) if reference is None else reference})


def _referenced(content: int, now: datetime) -> tuple[QuerySet[Content], dict[str, Any]]:
    return Content.objects.filter(content_id=content, referenced_at__isnull=True), {
        "referenced_at": now, "reference_error": ""}


# ------------------------------------------------------------------ push: the outbox


def queue_push(*, kind: str, dedup: str, lane: str, item_id: int, now: datetime, content: Content | None = None,
               action_type: int | None = None, payload: dict[str, Any] | None = None) -> Push | None:
    """Queue one write to ICCAM, once: a second call with the same ``dedup`` changes nothing (None)."""
    try:
        with transaction.atomic():
            push = Push.objects.create(kind=kind, dedup=dedup, lane=lane, item_id=item_id, content=content,
                                       action_type=action_type, payload=payload or {}, created_at=now,
                                       next_attempt_at=now)
            record(SYSTEM, actions.PUSH_QUEUED, push, now=now,
                   after={"write": dedup, "item": item_id, "payload": payload or {}})
    except IntegrityError:
        return None
    return push


def queue_pushes(rows: Sequence[Push], *, now: datetime) -> int:
    """Queue several writes (unsaved rows, in the order they are to be sent) in one transaction: one INSERT and
    one audit append for the batch, each write once. Should another worker have queued one of them meanwhile
    (the unique ``dedup``), the batch is rolled back and queued one row at a time (``queue_push``: that one is
    left out). Returns how many rows were queued."""
    if not rows:
        return 0
    try:
        with transaction.atomic():
            created = list(rows)
            # ``bulk_create`` with its INSERT kept per process and number of rows; ids returned (core.checks)
            prepared.insert(created)
            record_many(SYSTEM, [Change(actions.PUSH_QUEUED, push, after={
                "write": push.dedup, "item": push.item_id, "payload": push.payload}) for push in created], now=now)
    except IntegrityError:
        return sum(queue_push(kind=p.kind, dedup=p.dedup, lane=p.lane, item_id=p.item_id, content=p.content,
                              action_type=p.action_type, payload=p.payload, now=now) is not None for p in rows)
    return len(created)


def unsaved_push(*, kind: str, dedup: str, lane: str, item_id: int, now: datetime, content: Content | None = None,
                 action_type: int | None = None, payload: dict[str, Any] | None = None) -> Push:
    """A write as ``queue_push`` would create it, for ``queue_pushes``."""
    return Push(kind=kind, dedup=dedup, lane=lane, item_id=item_id, content=content, action_type=action_type,
                payload=payload or {}, created_at=now, next_attempt_at=now)


@transaction.atomic
def push_sent(push: Push, *, now: datetime, answer: Any = None, note: str = "") -> None:
    if answer is None:
        _settle(push, PushState.SENT, now=now, error="")
    else:  # a report creation's answer (ICCAM's report id): rare, the ORM writes the JSON
        move_push(Push.objects.filter(pk=push.pk), PushState.SENT, now=now, next_attempt_at=None, last_error="",
                  answer=answer)
    record(SYSTEM, actions.PUSH_SENT, push, now=now, after={"write": push.dedup, "attempt": push.attempts,
                                                            "note": note})


@transaction.atomic
def push_refused(push: Push, reason: str, *, now: datetime) -> None:
    _settle(push, PushState.REFUSED, now=now, error=reason[:2000])
    record(SYSTEM, actions.PUSH_REFUSED, push, now=now, after={"write": push.dedup, "reason": reason[:500]})


@transaction.atomic
def push_uncertain(push: Push, *, now: datetime) -> None:
    reason = ("the sender stopped while ICCAM was creating this report; it is not sent again, so that ICCAM "
              "never gets it twice: check in ICCAM whether it arrived")
    _settle(push, PushState.UNCERTAIN, now=now, error=reason)
    record(SYSTEM, actions.PUSH_UNCERTAIN, push, now=now, after={"write": push.dedup})


def _settle(push: Push, to: str, *, now: datetime, error: str) -> None:
    """``move_push`` of a sent row to an outcome (no next attempt, ``error`` as its last error), the UPDATE
    compiled once per process for each outcome (``prepared.update``: built by the ORM it cost more than the
    write itself, once per write sent). Raises ``InvalidTransition`` when the row was not in a state that may
    move there, as ``move_push`` does."""
    stamped = any(PUSH_TRANSITIONS[(frm, to)] for frm in states.sources(PUSH_TRANSITIONS, to))
    values: dict[str, prepared.Values] = {"push": push.pk, "error": error}
    if stamped:
        values["now"] = now
    moved = prepared.update("iccam.push_settled", functools.partial(_settled, to), vary=to, **values)
    states.moved_rows(Push, to, moved)


def _settled(to: str, *, push: int, error: str, now: datetime | None = None) -> tuple[
        QuerySet[Push], dict[str, Any]]:
    """``_settle``'s UPDATE (``now``: given when the transition stamps a time, else never written)."""
    return states.move_update(Push.objects.filter(pk=push), to, table=PUSH_TRANSITIONS, now=now or timezone.now(),
                              next_attempt_at=None, last_error=error)


@transaction.atomic
def push_failed(push: Push, error: str, *, retry: bool, max_attempts: int, now: datetime,
                retry_after: int | None = None) -> bool:
    """A failed attempt: back-off (at least ICCAM's Retry-After) or, out of attempts, failed for good."""
    give_up = push.retry_or_fail(error, retry=retry, max_attempts=max_attempts, now=now)
    if not give_up and retry_after:
        Push.objects.filter(pk=push.pk, next_attempt_at__lt=now + timedelta(seconds=retry_after)).update(
            next_attempt_at=now + timedelta(seconds=retry_after))
    record(SYSTEM, actions.PUSH_FAILED if give_up else actions.PUSH_RETRY, push, now=now,
           after={"write": push.dedup, "error": error[:500], "attempt": push.attempts})
    return give_up


@transaction.atomic
def report_created(push: Push, report: dict[str, Any], *, now: datetime) -> list[Content]:
    """ICCAM made our report: keep its ids for the item (matched by URL), then mark the push sent."""
    ours = {u["urlString"]: u for u in push.payload.get("urls", [])}
    rows = [Content(content_id=int(c["contentId"]), iccam_report_id=int(report["reportId"]), origin=Origin.PUSHED,
                    item_id=push.item_id, report=None, url=str(c["urlString"])[:4096],
                    is_source_url=bool(ours.get(c["urlString"], {}).get("isSourceUrl")),
                    assigned_country=str(ours.get(c["urlString"], {}).get("hostingCountryCode") or "")[:2],
                    hosting_country=str(ours.get(c["urlString"], {}).get("hostingCountryCode") or "")[:2],
                    imported_at=now, hotline_reference=str(push.payload.get("hotlineReference") or "")[:100],
                    referenced_at=now)
            for c in report.get("reportContents", []) if c.get("urlString") in ours]
    Content.objects.bulk_create(rows, ignore_conflicts=True)
    push_sent(push, now=now, answer={"reportId": report["reportId"]})
    record(SYSTEM, actions.REPORT_CREATED, ("reports.item", push.item_id), now=now,
           after={"iccam": report["reportId"], "contents": [r.content_id for r in rows]})
    return rows


def claim_push(now: datetime) -> Push | None:
    """One due row, first in its lane, moved to ``sending`` with a lease (SKIP LOCKED on PostgreSQL, a
    conditional UPDATE elsewhere); none while ICCAM has asked us to wait (asked in the claim's own query, before
    every write). The row's ICCAM content id comes with it (``iccam_content_id``). The read is compiled once
    per process (``_claimable``): ``push_step`` claims before every write. A report creation whose sender died
    mid-send becomes uncertain."""
    lease_until = now + conf.send_lease()
    with transaction.atomic():
        found: list[Push] = prepared.objects("iccam.claim_push", _claimable, now=now)
        row = found[0] if found else None
        if row is None or not _take(row, lease_until):
            return None
        cut_off = row.state == PushState.SENDING  # the previous sender died mid-send
        if cut_off:
            record(SYSTEM, actions.PUSH_LEASE_EXPIRED, row, now=now, after={"write": row.dedup})
    _as_claimed(row, lease_until)
    if cut_off and row.kind == PushKind.REPORT:
        push_uncertain(row, now=now)
        return claim_push(now)
    return row


def _claimable(now: datetime) -> QuerySet[Push]:
    """The first due row (``Push.objects.due``, in lane order) unless ICCAM asked us to wait, with its content
    item's ICCAM id, locked (PostgreSQL: only the push row, SKIP LOCKED)."""
    unpaused = ~Exists(PullState.objects.filter(pk=1, paused_until__gt=now))
    return claim.skip_locked(Push.objects.due(now).filter(unpaused)
                             .annotate(iccam_content_id=F("content__content_id"))
                             .order_by("next_attempt_at", "pk")[:1], of=("self",))


def _take(row: Push, lease_until: datetime) -> bool:
    """Claim the row ``_claimable`` read, as ``claim.claim_read`` does, with the UPDATE compiled once per process:
    on PostgreSQL the read locked it; elsewhere the UPDATE holds only while the state, attempts and due time read
    still hold (another worker may have taken it in between: False)."""
    if connection.vendor == "postgresql":
        return prepared.update("iccam.take_push", _taken, vary="locked", push=row.pk, lease_until=lease_until) == 1
    assert row.next_attempt_at is not None  # a due row has a due time
    return prepared.update("iccam.take_push", _taken, vary="matched", push=row.pk, lease_until=lease_until,
                           read_state=row.state, attempts=row.attempts, due=row.next_attempt_at) == 1


def _taken(*, push: int, lease_until: datetime, read_state: str | None = None, attempts: int | None = None,
           due: datetime | None = None) -> tuple[QuerySet[Push], dict[str, Any]]:
    """``_take``'s UPDATE: to ``sending`` with a lease, one attempt more (``read_state``, ``attempts``, ``due``:
    the values read, which must still hold)."""
    rows = Push.objects.filter(pk=push)
    if read_state is not None:
        # attempts as an expression: Django refuses a plain value outside the column's range (the compiling sentinel)
        rows = rows.filter(state=read_state, attempts=Value(attempts), next_attempt_at=due)
    # no transition into ``sending`` stamps a time: ``now`` is not written
    return states.move_update(rows, PushState.SENDING, table=PUSH_TRANSITIONS, now=lease_until,
                              next_attempt_at=lease_until, attempts=F("attempts") + 1)


def _as_claimed(row: Push, lease_until: datetime) -> None:
    """The claimed row's copy set to what the claim wrote (the values it read still held: the row was locked, or
    matched by the conditional UPDATE), instead of reading the row back. Not a state change of its own."""
    row.state, row.attempts, row.next_attempt_at = PushState.SENDING, row.attempts + 1, lease_until


def kind_label(kind: str) -> str:
    return str(PushKind(kind).label)
