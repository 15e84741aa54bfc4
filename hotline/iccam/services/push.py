"""Push: what happens to an item of ours is written to ICCAM, each write once and in order.

``observe`` turns facts into outbox rows (``writes.queue_pushes``, unique per write, one transaction per pass):

* a new *national* report (not from ICCAM or a partner) assessed illegal and traced abroad → a new ICCAM report;
* a pulled item assessed → its assessment (per file: the ``MediaAssessment`` at the content's URL, else the
  deciding one), in ICCAM codes from the one code table;
* then the actions, in the order the facts appear: to police (referral sent), to host (first notice),
  moved (traced to another country: new hosting and country), removed, unavailable with its reason, not
  illegal. Nothing is queued after a final action (removed, unavailable, not illegal).

``send`` sends one claimed row. Before any write to a content item it reads the item back: a write that
is already there (a sender killed after ICCAM took it) is recorded as sent without sending it again; an
item assigned to another country, already assessed by someone else, or closed by a final action is
recorded as refused. A report creation cut off mid-send is never re-posted (ICCAM has no idempotency
key for it): it is marked uncertain for a manager to check.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from hotline.assessment.derivation import deciding
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.iccam import conf
from hotline.iccam.client import IccamError, IccamSession, kept_session
from hotline.iccam.codes import BASELINE_ID, FINAL_ACTION_TYPES, Table, assessment_body
from hotline.iccam.models import CodeField, Content, Origin, Push, PushKind
from hotline.iccam.services import writes
from hotline.lib import prepared
from hotline.reports.models import Item, ReportItem, Source
from hotline.routing.models import Referral
from hotline.takedown.models import Takedown
from hotline.tracing.models import Trace, TraceOutcome

NATIONAL_SOURCES = (Source.PUBLIC, Source.EMAIL, Source.CSV, Source.POLICE, Source.INDUSTRY)
ACTIONS = {"to_police": 1, "to_host": 2, "removed": 3, "unavailable": 4, "not_illegal": 6}
BATCH = 500


class Refusal(Exception):
    """ICCAM's state says this write cannot be made: recorded as refused, never retried."""


def push_due(*, now: datetime, limit: int) -> bool:
    """Queue the writes our records call for, then send up to ``limit`` due ones, each claimed alone.
    False when the connector is off or there was nothing to queue or send."""
    config = conf.config()
    if config is None:
        return False
    key = (config.country, config.username)
    state = _state()
    if state is not None and _quiet.matches(state, key):
        found = False  # nothing written since a pass that found nothing to queue: this one would find nothing too
    else:
        found = observe(Table(), analyst=config.username, country=config.country, now=now) > 0
        _quiet.seen = None if found or state is None else (state, key)
    if not writes.any_due(now):  # nothing due, or ICCAM asked us to wait: one query
        return found
    row = writes.claim_push(now)  # none while paused: a 429 answer to the last write ends the loop too
    if row is None:
        return found
    created = False  # a report created in ICCAM adds content items: something new to observe
    with kept_session(config) as session:  # logs in only when there is something to send
        for sent in range(limit):
            created |= row.kind == PushKind.REPORT
            send(session, row, country=config.country, now=now)
            if sent + 1 >= limit or (row := writes.claim_push(now)) is None:
                break
    if not created:  # the sends wrote what ``observe`` does not read
        _passed_over(state)
    return True


# ------------------------------------------------------------------ unchanged since the last pass (SQLite)


@dataclass(frozen=True)
class _State:
    """Where an SQLite database stands for this thread's connection: the connection itself, how many rows it has
    written (``total_changes``: every INSERT, UPDATE and DELETE it ran, rolled back or not) and the file's
    ``data_version`` (moves whenever another connection, of this process or another, commits)."""

    raw: Any
    changes: int
    version: int


def _state() -> _State | None:
    """This thread's connection's state, on SQLite outside a transaction (autocommit: what was read is committed,
    nothing read can be rolled back later); None elsewhere. PostgreSQL has no such counter: the finding query
    runs on every pass there (its work is the server's, not this process's)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block or not connection.get_autocommit():
        return None
    raw = connection.connection
    (version,) = raw.execute("PRAGMA data_version").fetchone()  # the raw connection's own cursor: ~5 µs
    return _State(raw, raw.total_changes, version)


class _Quiet(threading.local):
    """The last pass that found nothing to queue, per thread (each thread has its own connection).

    ``observe``'s outcome is a function of the database and the configuration only (no clock, no memory of its
    own): on a database where nothing was written since a pass that queued nothing, it queues nothing again. On
    SQLite "nothing written" is exact and cheap: this connection's ``total_changes`` and the file's
    ``data_version`` are both where they were (``_state``, read before the finding query, so a commit racing
    with it moves ``data_version`` and the next pass looks again). The step's own sends write only columns
    ``observe`` never reads (a push row's state and times, the audit log, ICCAM's pause), so after them the
    mark moves on (``_passed_over``), unless a report was created (its content items are new facts) or anyone
    else wrote meanwhile. A process that restarts, a new connection or a transaction: the query runs."""

    seen: tuple[_State, tuple[str, str]] | None = None

    def matches(self, state: _State, key: tuple[str, str]) -> bool:
        return self.seen is not None and self.seen == (state, key) and self.seen[0].raw is state.raw


_quiet = _Quiet()


def _passed_over(before: _State | None) -> None:
    """What this thread wrote since ``before`` is of no concern to ``observe`` (the push's sends: a push row's
    state and times, ICCAM's pause, audit events): a pass that found nothing at ``before`` still holds. Only when
    nothing else was written in between: the mark must stand exactly at ``before`` (this connection wrote nothing
    else since) and no other connection committed."""
    seen = _quiet.seen
    if before is None or seen is None or seen[0] != before or seen[0].raw is not before.raw:
        return
    now = _state()
    _quiet.seen = (now, seen[1]) if now is not None and now.raw is before.raw and now.version == before.version \
        else None


# ------------------------------------------------------------------ observe


def observe(table: Table, *, analyst: str, country: str, now: datetime) -> int:
    """Queue the writes our items' facts call for, in one transaction at the end (``writes.queue_pushes``: a
    pass cut off before it queues nothing, and the next pass finds the same facts). Returns how many rows were
    queued."""
    unreported, pending = _found(country)
    rows = _new_reports(unreported, table, analyst=analyst, country=country, now=now) + _content_writes(
        pending, table, analyst=analyst, country=country, now=now)
    return writes.queue_pushes(rows, now=now)


class _Facts:
    """What ``observe`` reads about a batch of items, in one query per kind (not per item), each compiled once per
    process (``prepared``; ``observe`` reads them on every pass with work): the final assessment, its judged files
    with their URLs, the latest trace with its provider's name, whether a referral was sent, the takedown."""

    def __init__(self, item_ids: set[int]) -> None:
        self.finals: dict[int, Assessment] = {}
        self.judged: dict[int, list[MediaAssessment]] = {}  # by assessment, in order
        self.traces: dict[int, Trace] = {}
        self.referred: set[int] = set()
        self.takedowns: dict[int, Takedown] = {}
        if not item_ids:  # the usual case for new reports: no query at all
            return
        ids = prepared.padded(sorted(item_ids))
        self.finals = {a.item_id: a for a in prepared.objects("iccam.finals", _finals, ids=ids)}
        for row in prepared.objects("iccam.judged", _judged, ids=ids):
            self.judged.setdefault(row.assessment_id, []).append(row)
        self.traces = {t.item_id: t for t in prepared.objects("iccam.latest_traces", _latest_traces, ids=ids)}
        self.referred = {item_id for (item_id,) in prepared.rows("iccam.referred", _referred, ids=ids)}
        self.takedowns = {t.item_id: t for t in prepared.objects("iccam.takedowns", lambda ids: Takedown.objects.filter(
            item_id__in=ids), ids=ids)}

    def row_for(self, final: Assessment, url: str) -> Any:
        """What ICCAM gets for one content item: the judged file at its URL, else the deciding file, else the
        item's assessment itself (nothing captured)."""
        rows = self.judged.get(final.pk, [])
        return next((r for r in rows if getattr(r, "media_url", None) == url), None) or deciding(rows) or final


def _finals(ids: list[int]) -> QuerySet[Assessment]:
    return Assessment.objects.filter(item_id__in=ids, is_final=True)


def _judged(ids: list[int]) -> QuerySet[MediaAssessment]:
    """The files judged by these items' final assessments, each with its URL (``media_url``), in order."""
    return (MediaAssessment.objects.filter(assessment__item_id__in=ids, assessment__is_final=True)
            .annotate(media_url=F("media__url")).order_by("pk"))


def _latest_traces(ids: list[int]) -> QuerySet[Trace]:
    """Each item's latest trace, with its provider's name (``provider_name``; None without a provider)."""
    latest = Trace.objects.filter(item_id=OuterRef("item_id")).order_by("-traced_at", "-pk").values("pk")[:1]
    return Trace.objects.filter(item_id__in=ids, pk=Subquery(latest)).annotate(provider_name=F("provider__name"))


def _referred(ids: list[int]) -> QuerySet[Any]:
    return Referral.items.through.objects.filter(item_id__in=ids, referral__sent_at__isnull=False).values_list(
        "item_id").distinct()


def _new_reports(ids: list[int], table: Table, *, analyst: str, country: str, now: datetime) -> list[Push]:
    items = prepared.objects("iccam.new_items", lambda ids: Item.objects.filter(pk__in=ids).order_by("pk"),
                             ids=prepared.padded(ids)) if ids else []
    queued: list[Push] = []
    facts = _Facts({item.pk for item in items})
    for item in items:
        trace, final = facts.traces.get(item.pk), facts.finals.get(item.pk)
        if trace is None or trace.outcome != TraceOutcome.OK or trace.country in ("", country) or final is None:
            continue
        payload = _report_body(table, item, facts.row_for(final, item.canonical_url), final, trace,
                               analyst=analyst, now=now)
        queued.append(writes.unsaved_push(kind=PushKind.REPORT, dedup=f"report:{item.pk}", lane=f"i{item.pk}",
                                          item_id=item.pk, payload=payload, now=now))
    return queued


def _unreported(country: str) -> QuerySet[Item]:
    """National items assessed illegal whose latest trace is abroad, neither in ICCAM nor queued for it.
    The latest trace, as ``_Facts`` reads it: an item first hosted at home and moved abroad is reported
    when it moves (an earlier trace at home or without a country does not hold it back). Read from the final
    illegal assessments (the items' reports are looked up per item, not scanned: a pass runs it on every call)."""
    item = OuterRef("pk")
    illegal = Assessment.objects.filter(is_final=True, verdict__in=("baseline", "national")).values("item_id")
    latest = Trace.objects.filter(item=item).order_by("-traced_at", "-pk")
    return (Item.objects.filter(pk__in=illegal)
            .filter(Exists(ReportItem.objects.filter(item=item, report__source__in=NATIONAL_SOURCES)))
            .exclude(Exists(ReportItem.objects.filter(item=item, report__source=Source.ICCAM)))
            .exclude(Exists(Content.objects.filter(item=item)))
            .exclude(Exists(Push.objects.filter(item=item, kind=PushKind.REPORT)))
            .annotate(trace_country=Subquery(latest.values("country")[:1]),
                      trace_outcome=Subquery(latest.values("outcome")[:1]))
            .filter(trace_outcome=TraceOutcome.OK).exclude(trace_country__in=("", country))
            .order_by("pk")[:BATCH])


# (database alias, country) -> the finding queries' SQL and parameters
_COMPILED: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}


def _found(country: str) -> tuple[list[int], list[int]]:
    """The ids the two finding queries name: the items to report (``_unreported``) and the content items with a
    write pending (``pending_contents``), each in the order of its ids. Compiled once per process: Django takes
    milliseconds to compile these subquery-heavy queries, far more than the database takes to run them when
    nothing is new, and ``push_step`` runs them on every call. They depend on nothing but the country (no time,
    no ids), and run as one statement (``UNION ALL``, each row tagged with its query): one round trip a pass."""
    key = (connection.alias, country)
    if key not in _COMPILED:
        parts, bound = [], []
        for tag, query in enumerate((_unreported(country), pending_contents(country).order_by("pk")[:BATCH])):
            sql, part = query.values_list("pk", flat=True).query.get_compiler(using=connection.alias).as_sql()
            parts.append(f"SELECT {tag} AS tag, found.* FROM ({sql}) found")  # noqa: S608 (compiled SQL, no input)
            bound += part
        _COMPILED[key] = (" UNION ALL ".join(parts), tuple(bound))
    sql, params = _COMPILED[key]
    found: tuple[list[int], list[int]] = ([], [])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for tag, pk in cursor.fetchall():
            found[tag].append(pk)
    return sorted(found[0]), sorted(found[1])


def _report_body(table: Table, item: Item, row: Any, final: Assessment, trace: Trace, *, analyst: str,
                 now: datetime) -> dict[str, Any]:
    reference = f"HL-ITEM-{item.pk}_{now.strftime(writes.REFERENCE_STAMP)}"
    ip = str(trace.addresses[0].get("ip", "")) if trace.addresses else ""
    provider = getattr(trace, "provider_name", None) or ""  # read with the trace (_Facts)
    url: dict[str, Any] = {
           "urlString": item.canonical_url, "hotlineReference": reference, "hostingCountryCode": trace.country,
           "hostingIpAddress": ip, "hostingIsp": provider, "hostingOrganization": {"organizationName": provider},
           "isSourceUrl": True, "memo": "", "contentType": 2, "assessment": assessment_body(
               table, row, analyst=analyst), "actions": []}
    return {"reportingAnalystName": analyst, "hotlineReceivedDate": item.first_reported_at.strftime(
                "%Y-%m-%dT%H:%M:%SZ"), "hotlineReference": reference, "memo": "",
            "sourceUrlUsername": "", "sourceUrlPassword": "", "sourceUrlReferrer": None,
            "sourceUrlSiteType": table.iccam(CodeField.SITE_TYPE, final.site_type),
            "sourceUrlCommerciality": table.iccam(CodeField.COMMERCIALITY, final.commerciality),
            "sourceUrlPaymentMethods": [1], "urls": [url]}


def _content_writes(ids: list[int], table: Table, *, analyst: str, country: str, now: datetime) -> list[Push]:
    if not ids:  # the usual pass: nothing pending, and no query built for an empty batch
        return []
    padded = prepared.padded(ids)
    contents: list[Content] = prepared.objects("iccam.contents", lambda ids: Content.objects.filter(
        pk__in=ids).order_by("pk"), ids=padded)
    queued = {dedup for (dedup,) in prepared.rows("iccam.queued", lambda ids: Push.objects.filter(
        content_id__in=ids).values_list("dedup"), ids=padded)}
    facts = _Facts({content.item_id for content in contents if content.item_id is not None})
    return [row for content in contents
            for row in _writes_for(content, table, queued, facts, analyst=analyst, country=country, now=now)]


def pending_contents(country: str) -> QuerySet[Content]:
    """The content items with a fact whose write is not queued yet, found in one query: an item whose
    writes are all queued is not read at all, so a pass costs nothing per unchanged item however many are
    open. No state of its own (no high-water mark that a crash could lose or move past a change): a change
    is pending until its row exists, and the row's unique ``dedup`` keeps it to once.

    A superset of what ``_facts`` queues, never less: it reads each fact as ``_facts`` does (the latest
    trace, a referral sent, the takedown's first notice and removal, a final verdict that ends the item)
    and asks whether the write it calls for exists. Where it says more (a referral of an item that is not
    illegal), ``_writes_for`` queues nothing and the item is read again next pass: a cost, never a loss."""
    item = OuterRef("item_id")
    finals = Assessment.objects.filter(item=item, is_final=True)
    written = Push.objects.filter(content=OuterRef("pk"))
    latest = Trace.objects.filter(item=item).order_by("-traced_at", "-pk")
    move = Concat(Value("move:"), OuterRef("trace_country"), Value(":"), Cast(OuterRef("content_id"), CharField()))
    referred = Referral.items.through.objects.filter(item_id=item, referral__sent_at__isnull=False)
    noticed = Takedown.objects.filter(item_id=item, first_notice_at__isnull=False)
    removed = Takedown.objects.filter(item_id=item, removed_at__isnull=False)
    ending = finals.filter(verdict__in=("not_illegal", "other_harm", "unreachable"))
    return (Content.objects.filter(item__isnull=False).filter(Exists(finals))
            .exclude(Exists(written.filter(action_type__in=FINAL_ACTION_TYPES)))
            .annotate(trace_country=Subquery(latest.values("country")[:1]),
                      trace_outcome=Subquery(latest.values("outcome")[:1]))
            .filter(Q(Exists(ending)) | Q(Exists(removed))
                    | Q(origin=Origin.PULLED) & ~Q(Exists(written.filter(kind=PushKind.ASSESSMENT)))
                    | Q(Exists(referred)) & ~Q(Exists(written.filter(action_type=ACTIONS["to_police"])))
                    | Q(Exists(noticed)) & ~Q(Exists(written.filter(action_type=ACTIONS["to_host"])))
                    | Q(trace_outcome=TraceOutcome.OK, assigned_country=country)
                    & ~Q(trace_country__in=("", country)) & ~Q(Exists(written.filter(kind=PushKind.MOVE, dedup=move)))))


def _writes_for(content: Content, table: Table, existing: set[str], facts: _Facts, *, analyst: str, country: str,
                now: datetime) -> list[Push]:
    final = facts.finals.get(content.item_id or 0)
    if final is None:
        return []
    lane, queued = f"c{content.pk}", []

    def queue(kind: str, dedup: str, *, action_type: int | None = None, payload: dict[str, Any]) -> None:
        if f"{dedup}:{content.content_id}" in existing:
            return  # queued before: the unique dedup would refuse it anyway, this saves the round trip
        queued.append(writes.unsaved_push(kind=kind, dedup=f"{dedup}:{content.content_id}", lane=lane,
                                          item_id=content.item_id or 0, content=content, action_type=action_type,
                                          payload=payload, now=now))

    row = facts.row_for(final, content.url)
    if content.origin == Origin.PULLED:
        queue(PushKind.ASSESSMENT, "assessment", payload=assessment_body(table, row, analyst=analyst))
    for code, happened in _facts(content, final, facts, country=country):
        if code == "moved":
            queue(PushKind.MOVE, f"move:{happened['country']}", payload=happened)
            continue
        body = {"actionType": ACTIONS[code], "actioningAnalystName": analyst}
        if ACTIONS[code] > 3:
            reason = final.reason or "other"
            body |= {"reasonId": table.iccam(CodeField.REASON, reason), "reasonText": reason}
        queue(PushKind.ACTION, f"action:{ACTIONS[code]}", action_type=ACTIONS[code], payload=body)
    return queued


def _facts(content: Content, final: Assessment, known: _Facts, *, country: str) -> list[tuple[str, dict[str, Any]]]:
    """The actions our records show for this item, in the order they happen."""
    item_id = content.item_id or 0
    if final.verdict in ("not_illegal", "other_harm"):
        return [("not_illegal", {})]
    if final.verdict == "unreachable":
        return [("unavailable", {})]
    facts: list[tuple[str, dict[str, Any]]] = []
    if item_id in known.referred:
        facts.append(("to_police", {}))
    takedown = known.takedowns.get(item_id)
    if takedown is not None and takedown.first_notice_at is not None:
        facts.append(("to_host", {}))
    trace = known.traces.get(item_id)
    if (trace is not None and trace.outcome == TraceOutcome.OK and trace.country not in ("", country)
            and content.assigned_country == country):
        ip = str(trace.addresses[0].get("ip", "")) if trace.addresses else ""
        facts.append(("moved", {"country": trace.country, "ip": ip}))
    if takedown is not None and takedown.removed_at is not None:
        facts.append(("removed", {}))
    return facts


# ------------------------------------------------------------------ send


def send(session: IccamSession, push: Push, *, country: str, now: datetime) -> None:
    """Send one claimed row and record the outcome (sent, refused, retry or failed)."""
    try:
        if push.kind == PushKind.REPORT:
            _create_report(session, push, now=now)
            return
        note = _send_content_write(session, push, country=country)
    except Refusal as exc:
        writes.push_refused(push, str(exc), now=now)
        return
    except IccamError as exc:
        if exc.refused:
            writes.push_refused(push, str(exc), now=now)
            return
        if push.kind == PushKind.REPORT and exc.status == 0:
            writes.push_uncertain(push, now=now)  # the request may have arrived: never post it twice
            return
        if exc.retry_after:
            writes.pause(now=now, seconds=exc.retry_after)
        writes.push_failed(push, str(exc), retry=exc.retry, max_attempts=conf.push_attempts(), now=now,
                             retry_after=exc.retry_after)
        return
    except Exception as exc:  # a bug or an answer we cannot read: never re-post a report, retry the rest
        if push.kind == PushKind.REPORT:
            writes.push_uncertain(push, now=now)
        else:
            writes.push_failed(push, f"{type(exc).__name__}: {exc}", retry=True,
                                 max_attempts=conf.push_attempts(), now=now)
        raise
    writes.push_sent(push, now=now, note=note)


def _create_report(session: IccamSession, push: Push, *, now: datetime) -> None:
    report_id = session.post("rest/reports", push.payload)
    if not isinstance(report_id, int):
        raise IccamError(f"report creation answered {report_id!r}, not a report id", retry=False, refused=True)
    writes.report_created(push, session.get(f"rest/Reports/{report_id}"), now=now)


def _send_content_write(session: IccamSession, push: Push, *, country: str) -> str:
    assert push.content_id is not None
    # read with the claimed row (``claim_push``), else from its content item
    cid = getattr(push, "iccam_content_id", None) or push.content.content_id  # type: ignore[union-attr]
    current = session.get(f"rest/Content/{cid}")
    if push.kind == PushKind.MOVE:
        return _move(session, push, current, country=country)
    if current.get("assignedCountryCode") != country:
        raise Refusal(f"ICCAM: the item is assigned to {current.get('assignedCountryCode') or 'no country'}, "
                      f"not {country}")
    if push.kind == PushKind.ASSESSMENT:
        return _assess(session, push, current)
    return _act(session, push, current)


def _assess(session: IccamSession, push: Push, current: dict[str, Any]) -> str:
    assessments = current.get("assessments") or []
    last = assessments[-1] if assessments else None
    if last is not None and push.attempts > 1 and _same_assessment(last, push.payload):
        return "already in ICCAM (an earlier attempt arrived)"
    if last is not None and (last.get("classification") == BASELINE_ID or current.get("actions")):
        raise Refusal("ICCAM: the item is already assessed (baseline, or it has actions) and cannot be re-assessed")
    session.put(f"rest/Content/{current['contentId']}/assessment", push.payload)
    return ""


def _same_assessment(last: dict[str, Any], ours: dict[str, Any]) -> bool:
    return all(last.get(k) == v for k, v in ours.items() if k != "assessingAnalystName")


def _act(session: IccamSession, push: Push, current: dict[str, Any]) -> str:
    done = {int(a.get("actionType", 0)) for a in current.get("actions") or []}
    if push.action_type in done:
        if push.attempts > 1:
            return "already in ICCAM (an earlier attempt arrived)"
        raise Refusal(f"ICCAM: the item already has action {push.action_type}")
    if done & FINAL_ACTION_TYPES:
        raise Refusal("ICCAM: the item already has a final action")
    body = dict(push.payload) | {"actionDate": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    session.post(f"rest/Content/{current['contentId']}/actions", body)
    return ""


def _move(session: IccamSession, push: Push, current: dict[str, Any], *, country: str) -> str:
    new = str(push.payload["country"])
    cid = current["contentId"]
    if (current.get("url") or {}).get("hostingCountryCode") != new:
        if current.get("assignedCountryCode") != country:
            raise Refusal(f"ICCAM: the item is assigned to {current.get('assignedCountryCode')}, not {country}")
        session.put(f"rest/Content/{cid}/url/hosting", newIpAddress=push.payload.get("ip") or "",
                    newCountryCode=new)
    if current.get("assignedCountryCode") == new:
        return "already in ICCAM"
    if current.get("assignedCountryCode") != country:
        raise Refusal(f"ICCAM: the item is assigned to {current.get('assignedCountryCode')}, not {country}")
    session.put(f"rest/Content/{cid}/assigned-country", newCountryCode=new)
    return ""
