"""Intake: turn incoming reports into Report rows and deduplicated Items, in bulk, audited.

Every channel (public form, partner API, CSV import, later e-mail) calls ``receive_reports``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from hotline.accounts.models import ApiClient
from hotline.audit.services import Actor, Change, record_many
from hotline.lib.urls import CanonicalURL, InvalidURL, canonicalize
from hotline.reports.models import AWAITING_ASSESSMENT, PRIORITY_SOURCES, Item, ItemStatus, Report, ReportItem

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

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


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
    changes: list[Change] = [
        Change("report.received", r, after={"source": r.source, "urls": r.url_count}) for r in reports
    ]
    ReportItem.objects.bulk_create(_link(parsed, reports, items, created, changes), batch_size=_CHUNK)
    # 3. Count this batch's reports on the items that existed before it.
    _bump_existing([tally[k] for k in tally if k not in created], items, now=now)
    record_many(actor, changes, now=now)


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
        for url_result, canonical in p.accepted:
            key = canonical.dedup_key
            if key in seen:
                continue
            seen.add(key)
            entry = tally.setdefault(key, _Tally(canonical, url_result.url))
            entry.reports += 1
            entry.priority_source |= p.incoming.source in PRIORITY_SOURCES
    return tally


def _items_for(tally: dict[str, _Tally], *, now: datetime) -> tuple[dict[str, Item], set[str]]:
    """Return items by dedup key, and the keys of the items this batch created."""
    for _attempt in range(3):
        items = _existing(list(tally))
        new = [_new_item(tally[key], now=now) for key in tally if key not in items]
        try:
            with transaction.atomic():
                Item.objects.bulk_create(new, batch_size=_CHUNK)
        except IntegrityError:
            continue  # another intake created some of them meanwhile: look again
        items.update((item.dedup_key, item) for item in new)
        return items, {item.dedup_key for item in new}
    raise IntegrityError("could not settle concurrent creation of the same items")


def _existing(keys: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        for item in Item.objects.filter(dedup_key__in=chunk):
            found[item.dedup_key] = item
    return found


def _new_item(entry: _Tally, *, now: datetime) -> Item:
    return Item(
        raw_url=entry.raw.strip()[:4096],
        canonical_url=entry.canonical.url,
        dedup_key=entry.canonical.dedup_key,
        host=entry.canonical.host[:255],
        report_count=entry.reports,
        priority=priority_for(priority_source=entry.priority_source, report_count=entry.reports),
        first_reported_at=now,
        last_reported_at=now,
        status_changed_at=now,
        next_capture_at=now,
    )


def _create_reports(parsed: list[_Parsed], *, now: datetime) -> list[Report]:
    reports = [
        Report(
            source=p.incoming.source,
            received_at=p.incoming.received_at or now,
            language=p.incoming.language[:8],
            text=p.incoming.text[:MAX_TEXT_LENGTH],
            reporter_contact=p.incoming.reporter_contact[:MAX_CONTACT_LENGTH],
            external_ref=p.incoming.external_ref[:200],
            api_client=p.incoming.api_client,
            submitted_by_id=p.incoming.submitted_by_id,
            url_count=len(p.accepted),
        )
        for p in parsed
    ]
    created = Report.objects.bulk_create(reports, batch_size=_CHUNK)
    for p, report in zip(parsed, created, strict=True):
        p.result.reference, p.result.report_id = report.reference, report.pk
    return created


def _link(
    parsed: list[_Parsed],
    reports: list[Report],
    items: dict[str, Item],
    created: set[str],
    changes: list[Change],
) -> list[ReportItem]:
    links: list[ReportItem] = []
    announced: set[str] = set()
    for p, report in zip(parsed, reports, strict=True):
        seen: set[str] = set()
        for url_result, canonical in p.accepted:
            key = canonical.dedup_key
            item = items[key]
            url_result.item_id = item.pk
            if key in seen:
                continue  # the same resource twice in one report counts once
            seen.add(key)
            links.append(ReportItem(report=report, item=item, raw_url=url_result.url[:4096],
                                    position=url_result.index))
            is_new = key in created and key not in announced
            announced.add(key)
            url_result.result = "created" if is_new else "merged"
            if is_new:
                changes.append(Change("item.created", item,
                                      after={"url": canonical.url, "report": report.reference}))
            else:
                changes.append(Change("item.report_added", item, after={"report": report.reference}))
    return links


def _bump_existing(entries: list[_Tally], items: dict[str, Item], *, now: datetime) -> None:
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for entry in entries:
        # An existing item reported again is a repeat report by definition.
        floor = priority_for(priority_source=entry.priority_source, report_count=2)
        groups[(entry.reports, floor)].append(items[entry.canonical.dedup_key].pk)
    for (count, floor), ids in groups.items():
        for start in range(0, len(ids), _CHUNK):
            Item.objects.filter(pk__in=ids[start : start + _CHUNK]).update(
                report_count=F("report_count") + count,
                last_reported_at=Greatest(F("last_reported_at"), Value(now)),
                priority=Greatest(F("priority"), Value(floor)),
            )


def public_status(reference: str) -> str | None:
    """Coarse status for the reporter: received, in_progress or handled. Never a verdict."""
    report = Report.objects.filter(reference=reference).first()
    if report is None:
        return None
    statuses = list(report.items.values_list("status", flat=True))
    done = {ItemStatus.ASSESSED, ItemStatus.CLOSED}
    if statuses and all(s in done for s in statuses):
        return "handled"
    started = any(s not in (ItemStatus.NEW, *AWAITING_ASSESSMENT) for s in statuses)
    if started or report.items.filter(claimed_by__isnull=False).exists():
        return "in_progress"
    return "received"
