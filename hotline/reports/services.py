"""Intake: turn incoming reports into Report rows and deduplicated Items, in bulk, audited.

Every channel (public form, partner API, CSV import, later e-mail) calls ``receive_reports``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_text  # a JSON string, ASCII as canonical JSON
from typing import Any, Literal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from hotline.accounts.models import ApiClient
from hotline.audit.services import Actor, Encoded, record_encoded
from hotline.lib.bulk import copy_insert, insert_or_find
from hotline.lib.urls import CanonicalURL, InvalidURL, canonicalize
from hotline.reports import actions
from hotline.reports.models import (
    AWAITING_ASSESSMENT,
    NO_URL_KINDS,
    PRIORITY_SOURCES,
    Item,
    ItemStatus,
    Report,
    ReportItem,
    new_reference,
)

MAX_TEXT_LENGTH = 10_000
MAX_CONTACT_LENGTH = 500
_CHUNK = 2000

Outcome = Literal["created", "merged", "rejected"]


@dataclass
class IncomingReport:
    source: str
    urls: Sequence[str]
    received_at: datetime | None = None
    text: str = ""
    language: str = ""
    reporter_contact: str = ""
    external_ref: str = ""
    api_client: ApiClient | None = None
    submitted_by_id: int | None = None


@dataclass
class UrlResult:
    index: int
    url: str
    result: Outcome
    item_id: int | None = None
    canonical_url: str | None = None
    code: str | None = None
    reason: str | None = None


@dataclass
class ReportResult:
    reference: str | None
    report_id: int | None
    external_ref: str
    urls: list[UrlResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for u in self.urls if u.result == outcome)


def priority_for(*, priority_source: bool, report_count: int) -> int:
    """Queue priority: partner and police reports first, then URLs reported more than once."""
    return (2 if priority_source else 0) + (1 if report_count > 1 else 0)


@dataclass
class _Parsed:
    incoming: IncomingReport
    result: ReportResult
    accepted: list[tuple[UrlResult, CanonicalURL]]


def _parse(incoming: IncomingReport) -> _Parsed:
    result = ReportResult(reference=None, report_id=None, external_ref=incoming.external_ref)
    accepted: list[tuple[UrlResult, CanonicalURL]] = []
    for index, raw in enumerate(incoming.urls):
        try:
            canonical = canonicalize(raw)
        except InvalidURL as exc:
            result.urls.append(UrlResult(index, raw, "rejected", code=exc.code, reason=exc.message))
            continue
        url_result = UrlResult(index, raw, "merged", canonical_url=canonical.url)
        result.urls.append(url_result)
        accepted.append((url_result, canonical))
    return _Parsed(incoming, result, accepted)


def receive_reports(
    batch: Sequence[IncomingReport], *, actor: Actor, now: datetime | None = None
) -> list[ReportResult]:
    """Store every report that names at least one valid URL; reject bad URLs one by one.

    A report whose URLs are all invalid is not stored (its result lists why). Runs in one
    transaction, so a batch is either wholly stored or not at all.
    """
    now = now or timezone.now()
    parsed = [_parse(incoming) for incoming in batch]
    kept = [p for p in parsed if p.accepted]
    if kept:
        _store(kept, actor=actor, now=now)
    return [p.result for p in parsed]


@transaction.atomic
def _store(parsed: list[_Parsed], *, actor: Actor, now: datetime) -> None:
    # 1. Find or create one item per distinct canonical URL; new items carry their counts.
    tally = _tally(parsed)
    items, created = _items_for(tally, now=now)
    # 2. Store the reports, then the report -> item links (one per distinct item per report).
    reports = _create_reports(parsed, now=now)
    # Audit events as record_encoded takes them; their JSON written here (tests/test_intake_events.py).
    events: list[Encoded] = [
        (actions.REPORT_RECEIVED, "reports.report", str(pk),
         "null", f'{{"source":{_json_text(p.incoming.source)},"urls":{len(p.accepted)}}}')
        for p, pk in zip(parsed, reports, strict=True)
    ]
    copy_insert(ReportItem, _link(parsed, items, created, events))
    # 3. Count this batch's reports on the items that existed before it.
    _bump_existing([tally[k] for k in tally if k not in created], items, now=now)
    # 4. One audit event per report, new item and merge, written in bulk to one audit stream.
    record_encoded(actor, events, now=now)


@dataclass
class _Tally:
    canonical: CanonicalURL
    raw: str
    reports: int = 0
    priority_source: bool = False


def _tally(parsed: list[_Parsed]) -> dict[str, _Tally]:
    """How many distinct reports of this batch name each canonical URL, and from which sources."""
    tally: dict[str, _Tally] = {}
    for p in parsed:
        seen: set[str] = set()
        priority_source = p.incoming.source in PRIORITY_SOURCES
        for url_result, canonical in p.accepted:
            key = canonical.dedup_key
            if key in seen:
                continue
            seen.add(key)
            entry = tally.get(key)
            if entry is None:
                entry = tally[key] = _Tally(canonical, url_result.url)
            entry.reports += 1
            entry.priority_source |= priority_source
    return tally


def _items_for(tally: dict[str, _Tally], *, now: datetime) -> tuple[dict[str, int], set[str]]:
    """Return item ids by dedup key, and the keys of the items this batch created."""
    # Inserted in key order: two batches creating the same new items take their index entries in one
    # order, so they wait for each other instead of deadlocking. A key another batch creates meanwhile
    # is skipped (after waiting for its commit) and then found as an existing item.
    items, created = insert_or_find(Item, [_new_item(entry, now=now) for entry in tally.values()],
                                    unique="dedup_key")
    if len(items) < len(tally):
        raise IntegrityError("an item created by a concurrent intake disappeared before this one finished")
    return items, created


_NEW = ItemStatus.NEW.value


def _new_item(entry: _Tally, *, now: datetime) -> dict[str, Any]:
    return {
        "raw_url": entry.raw.strip()[:4096],
        "canonical_url": entry.canonical.url,
        "dedup_key": entry.canonical.dedup_key,
        "host": entry.canonical.host[:255],
        "status": _NEW,
        "report_count": entry.reports,
        "priority": priority_for(priority_source=entry.priority_source, report_count=entry.reports),
        "first_reported_at": now,
        "last_reported_at": now,
        "status_changed_at": now,
        "next_capture_at": now,
    }


def _create_reports(parsed: list[_Parsed], *, now: datetime) -> list[int]:
    references = [new_reference() for _ in parsed]
    rows: list[dict[str, Any]] = [
        {
            "reference": reference,
            "source": p.incoming.source,
            "received_at": p.incoming.received_at or now,
            "language": p.incoming.language[:8],
            "text": p.incoming.text[:MAX_TEXT_LENGTH],
            "reporter_contact": p.incoming.reporter_contact[:MAX_CONTACT_LENGTH],
            "external_ref": p.incoming.external_ref[:200],
            "api_client_id": p.incoming.api_client.pk if p.incoming.api_client else None,
            "submitted_by_id": p.incoming.submitted_by_id,
            "url_count": len(p.accepted),
        }
        for p, reference in zip(parsed, references, strict=True)
    ]
    ids = copy_insert(Report, rows)
    for p, reference, pk in zip(parsed, references, ids, strict=True):
        p.result.reference, p.result.report_id = reference, pk
    return ids


def _link(
    parsed: list[_Parsed],
    items: dict[str, int],
    created: set[str],
    events: list[Encoded],
) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    announced: set[str] = set()
    for p in parsed:
        seen: set[str] = set()
        report_id = p.result.report_id
        reference = "null" if p.result.reference is None else _json_text(p.result.reference)
        for url_result, canonical in p.accepted:
            key = canonical.dedup_key
            item_id = items[key]
            url_result.item_id = item_id
            if key in seen:
                continue  # the same resource twice in one report counts once
            seen.add(key)
            links.append({"report_id": report_id, "item_id": item_id, "raw_url": url_result.url[:4096],
                          "position": url_result.index})
            is_new = key in created and key not in announced
            announced.add(key)
            url_result.result = "created" if is_new else "merged"
            if is_new:
                events.append((actions.ITEM_CREATED, "reports.item", str(item_id), "null",
                               f'{{"report":{reference},"url":{_json_text(canonical.url)}}}'))
            else:
                events.append((actions.ITEM_REPORT_ADDED, "reports.item", str(item_id), "null",
                               f'{{"report":{reference}}}'))
    return links


def _bump_existing(entries: list[_Tally], items: dict[str, int], *, now: datetime) -> None:
    if not entries:
        return
    rows = sorted(
        # An existing item reported again is a repeat report by definition.
        (items[e.canonical.dedup_key], e.reports, priority_for(priority_source=e.priority_source, report_count=2))
        for e in entries
    )
    if connection.vendor == "postgresql":
        # Lock the rows in id order first (two batches bumping the same items cannot deadlock),
        # then one UPDATE for the whole batch.
        ids, counts, floors = (list(column) for column in zip(*rows, strict=True))
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM reports_item WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])
            cursor.execute(
                "UPDATE reports_item SET report_count = report_count + v.n,"
                " last_reported_at = GREATEST(last_reported_at, %s), priority = GREATEST(priority, v.floor)"
                " FROM unnest(%s::bigint[], %s::int[], %s::int[]) AS v(id, n, floor) WHERE reports_item.id = v.id",
                [now, ids, counts, floors],
            )
        return
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, count, floor in rows:
        groups[(count, floor)].append(pk)
    for (count, floor), pks in groups.items():
        for start in range(0, len(pks), _CHUNK):
            Item.objects.filter(pk__in=pks[start : start + _CHUNK]).update(
                report_count=F("report_count") + count,
                last_reported_at=Greatest(F("last_reported_at"), Value(now)),
                priority=Greatest(F("priority"), Value(floor)),
            )


def public_status(reference: str) -> str | None:
    """Coarse status for the reporter: received, in_progress or handled. Never a verdict."""
    report = Report.objects.filter(reference=reference).first()
    if report is None:
        return None
    if report.kind in NO_URL_KINDS:
        # A report without a URL has its incident (assessment.Incident) instead of items.
        incident = getattr(report, "incident", None)
        status = getattr(incident, "status", "new")
        return {"new": "received", "closed": "handled"}.get(status, "in_progress")
    statuses = list(report.items.values_list("status", flat=True))
    done = {ItemStatus.ASSESSED, ItemStatus.CLOSED}
    if statuses and all(s in done for s in statuses):
        return "handled"
    started = any(s not in (ItemStatus.NEW, *AWAITING_ASSESSMENT) for s in statuses)
    if started or report.items.filter(claimed_by__isnull=False).exists():
        return "in_progress"
    return "received"
