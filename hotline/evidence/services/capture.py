"""Capturing items: claim due items, fetch, store encrypted, record Capture and Media, move status.

The worker step (``hotline.evidence.steps.capture_step``) claims an item by moving its
``next_capture_at`` forward with a conditional UPDATE (a lease), so any number of workers never
capture the same item at the same time; a crash leaves the lease to expire and the item is captured
again.
"""

from __future__ import annotations

import logging
from concurrent.futures import as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM, Actor, record
from hotline.evidence import actions, screenshot
from hotline.evidence.analysis import MediaFacts, analyse
from hotline.evidence.capture import CaptureResult, MediaFetch, PageFailure, capture_url
from hotline.evidence.models import Capture, CaptureOutcome, Media
from hotline.evidence.store import put_blob, put_blobs
from hotline.evidence.warc import Exchange, build_warc
from hotline.lib import claim, prepared
from hotline.lib.http import FetchPolicy, Resolver, policy_from_settings
from hotline.lib.pagetext import PageText, extract_page_text
from hotline.lib.pools import kept_pool
from hotline.reports.models import CAPTURABLE, Item, ItemStatus

log = logging.getLogger("hotline.evidence")
LEASE = timedelta(minutes=10)
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


@dataclass(frozen=True)
class CaptureConfig:
    policy: FetchPolicy
    resolver: Resolver | None = None
    max_attempts: int = 3
    max_media: int = 100


def config_from_settings() -> CaptureConfig:
    return CaptureConfig(
        policy=policy_from_settings(),
        max_attempts=int(getattr(settings, "HOTLINE_CAPTURE_ATTEMPTS", 3)),
        max_media=int(getattr(settings, "HOTLINE_CAPTURE_MAX_MEDIA", 100)),
    )


def claim_due(now: datetime, limit: int) -> list[Item]:
    """Lease up to ``limit`` due items (SKIP LOCKED on PostgreSQL, a conditional UPDATE elsewhere); nothing
    claimed, and no write transaction opened, when a probe compiled once says none is due."""
    if not prepared.any_row("evidence.capture_due", Item.objects.capture_due, now=now):
        return []
    return claim.claim_due(Item.objects.capture_due(now), limit=limit, update={"next_capture_at": now + LEASE},
                           match=("next_capture_at",), where={"status__in": CAPTURABLE})



def capture_items(items: list[Item], *, config: CaptureConfig, now: datetime, concurrency: int) -> None:
    """Capture claimed items, several at a time: what needs no database (fetching the page and its files,
    building the WARC, analysing the files) in threads kept across calls, storing and recording each item in
    this thread as its fetch is done (one item: all in this thread). A failing item is logged and the rest
    recorded; it stays leased and is captured again when the lease ends."""
    if len(items) == 1:
        for item in items:
            capture_item(item, config=config, now=now)
        return
    pool = kept_pool("capture", concurrency)
    pending = {pool.submit(_fetch_item, item, config, now): item for item in items}
    for future in as_completed(pending):
        item = pending[future]
        try:
            _record(item, future.result(), config)
        except Exception:
            log.exception("capture of item %s failed", item.pk)


def capture_item(item: Item, *, config: CaptureConfig, now: datetime | None = None) -> Capture:
    """Fetch, store and record one capture of ``item`` (the network part runs outside any transaction)."""
    return _record(item, _fetch_item(item, config, now), config)


@dataclass(frozen=True)
class _Fetched:
    """An item's capture as fetched and prepared, before anything is stored: no database needed."""

    result: CaptureResult
    started: datetime
    finished: datetime
    warc: bytes | None = None  # a success's WARC
    facts: tuple[MediaFacts | None, ...] = ()  # a success's files analysed (None: not fetched)


def _fetch_item(item: Item, config: CaptureConfig, now: datetime | None) -> _Fetched:
    """The page and its files fetched; for a success, the WARC built and the files analysed. No database."""
    started = now or timezone.now()
    result = capture_url(item.canonical_url, policy=config.policy, resolver=config.resolver,
                         max_media=config.max_media)
    finished = timezone.now() if now is None else now
    if result.failure is not None:
        return _Fetched(result, started, finished)
    return _Fetched(result, started, finished, _warc(item, result, config, started, None),
                    tuple(_analyse(m) for m in result.media))


def _record(item: Item, fetched: _Fetched, config: CaptureConfig) -> Capture:
    if fetched.result.failure is not None:
        return _record_failure(item, fetched.result, config, started=fetched.started, finished=fetched.finished)
    return _record_success(item, fetched, config)


def _exchanges(result: CaptureResult, user_agent: str) -> list[Exchange]:
    found = [Exchange(result.page.final_url, result.page, user_agent)] if result.page else []
    found += [Exchange(m.url, m.result, user_agent) for m in result.media
              if m.result is not None and m.result is not result.page]
    return found


def _warc(item: Item, result: CaptureResult, config: CaptureConfig, started: datetime,
          failure: PageFailure | None) -> bytes | None:
    exchanges = _exchanges(result, config.policy.user_agent)
    if not exchanges:
        return None
    context = {
        "item_id": item.pk, "capture_ref": f"{item.pk}-{started.strftime('%Y%m%dT%H%M%S%f')}",
        "requested_url": item.canonical_url, "captured_at": started.isoformat(),
        "redirects": [hop._asdict() for hop in (result.page.redirects if result.page else [])],
        "media_urls": [m.url for m in result.media], "failure": failure.message if failure else None,
        "user_agent": config.policy.user_agent,
    }
    return build_warc(f"item-{item.pk}.warc.gz", exchanges, context, at=started)


def _store_warc(item: Item, result: CaptureResult, config: CaptureConfig, started: datetime,
                failure: PageFailure | None) -> tuple[str, int] | None:
    warc = _warc(item, result, config, started, failure)
    if warc is None:
        return None
    blob = put_blob(warc)
    return blob.sha256, blob.pk


def _record_failure(item: Item, result: CaptureResult, config: CaptureConfig, *,
                    started: datetime, finished: datetime) -> Capture:
    """Record a failed attempt. The first failure makes the item "unreachable" at once, so it
    shows in the queue with its failure; retries continue until the last attempt."""
    failure = result.failure
    assert failure is not None
    warc = _store_warc(item, result, config, started, failure)
    with transaction.atomic():
        item = _locked(item.pk)
        capture = Capture.objects.create(
            item=item, started_at=started, finished_at=finished, outcome=CaptureOutcome.FAILED,
            requested_url=item.canonical_url, final_url=result.page.final_url if result.page else "",
            http_status=result.page.status_code if result.page else None,
            peer_ip=result.page.peer_ip if result.page else None, page_mime=result.page_mime,
            redirects=[list(h) for h in result.page.redirects] if result.page else [],
            failure_code=failure.code, failure_reason=failure.message, reason_code=failure.reason_code,
            warc_id=warc[1] if warc else None,
        )
        item.capture_attempts += 1
        final = not failure.retryable or item.capture_attempts >= config.max_attempts
        fields = ["capture_attempts", "next_capture_at"]
        if item.status == ItemStatus.NEW:
            fields += item.transition(ItemStatus.UNREACHABLE, now=finished)
        if final or item.status not in CAPTURABLE:
            item.next_capture_at = None
        else:
            item.next_capture_at = finished + RETRY_DELAYS[min(item.capture_attempts, len(RETRY_DELAYS)) - 1]
        item.save(update_fields=fields)
        record(SYSTEM, actions.ITEM_UNREACHABLE if final else actions.ITEM_CAPTURE_FAILED, item, now=finished, after={
            "capture": capture.pk, "code": failure.code, "reason": failure.message,
            "reason_code": failure.reason_code, "attempt": item.capture_attempts,
            "retry_at": item.next_capture_at.isoformat() if item.next_capture_at else None,
        })
    return capture


def _record_success(item: Item, fetched: _Fetched, config: CaptureConfig) -> Capture:
    result, started, finished = fetched.result, fetched.started, fetched.finished
    page = result.page
    assert page is not None
    warc, analysed = _store_files(fetched)
    text = _page_text(result)
    with transaction.atomic():
        item = _locked(item.pk)
        capture = Capture(
            item=item, started_at=started, finished_at=finished, outcome=CaptureOutcome.CAPTURED,
            requested_url=item.canonical_url, final_url=page.final_url, http_status=page.status_code,
            peer_ip=page.peer_ip, page_mime=result.page_mime, redirects=[list(h) for h in page.redirects],
            media_found=len(result.media), warc_id=warc[1] if warc else None,
            page_title=text.title if text else "", page_text=text.text if text else "",
            page_links="\n".join(text.links) if text else "",
            screenshot_due_at=finished if warc and text and screenshot.enabled() else None,
        )
        # the capture's row and its files' rows: each INSERT compiled once (they have no signal receivers)
        prepared.insert([capture])
        prepared.insert([_media_row(capture, item, fetch, stored, finished) for fetch, stored in analysed])
        item.capture_attempts += 1
        item.next_capture_at = None
        # An analyst may have assessed the item (as unavailable) while this retry ran: keep that.
        fields = item.transition(ItemStatus.CAPTURED, now=finished) if item.status in CAPTURABLE else []
        item.save(update_fields=[*fields, "capture_attempts", "next_capture_at"])
        bad = sum(1 for _, stored in analysed if stored.bad)
        record(SYSTEM, actions.ITEM_CAPTURED, item, now=finished, after={
            "capture": capture.pk, "final_url": page.final_url, "ip": page.peer_ip, "http_status": page.status_code,
            "media": len(analysed), "bad_media": bad, "warc_sha256": warc[0] if warc else None,
        })
    return capture


def _locked(pk: int) -> Item:
    """The item, read afresh and locked for the recording's transaction (``SELECT … FOR UPDATE`` on PostgreSQL),
    with the SQL compiled once; ``Item.DoesNotExist`` when it is gone, as ``get`` raises."""
    locked: Item = prepared.get("evidence.locked_item", _item_for_update, item=pk)
    return locked


def _item_for_update(item: int) -> QuerySet[Item]:
    return Item.objects.select_for_update().filter(pk=item)


def _page_text(result: CaptureResult) -> PageText | None:
    if result.page is None or result.page_mime != "text/html":
        return None
    return extract_page_text(result.page.body, result.page.final_url, result.page.header("content-type") or "")


@dataclass(frozen=True)
class _Stored:
    facts: MediaFacts | None
    blob_id: int | None
    error: str = ""

    @property
    def bad(self) -> bool:
        return self.facts is None or bool(self.facts.bad_reason)


def _store_files(fetched: _Fetched) -> tuple[tuple[str, int] | None, list[tuple[MediaFetch, _Stored]]]:
    """The WARC and every fetched file stored (which of them are stored already is asked once): the WARC's
    SHA-256 and blob id, and each file's facts and blob id."""
    media, warc = fetched.result.media, fetched.warc
    bodies = [m.result.body for m in media if m.result is not None and not m.error]
    # each file's SHA-256 as its analysis computed it from the same bytes (the WARC's is computed in the store)
    hashes: list[str | None] = [facts.sha256 for facts in fetched.facts if facts is not None]
    blobs = iter(put_blobs([warc, *bodies] if warc is not None else bodies,
                           sha256s=[None, *hashes] if warc is not None else hashes))
    warc_blob = next(blobs) if warc is not None else None
    analysed = [(m, _Stored(None, None, m.error) if found is None else _Stored(found, next(blobs).pk))
                for m, found in zip(media, fetched.facts, strict=True)]
    return (warc_blob.sha256, warc_blob.pk) if warc_blob else None, analysed


def _analyse(fetched: MediaFetch) -> MediaFacts | None:
    if fetched.result is None or fetched.error:
        return None
    declared = (fetched.result.header("content-type") or "").split(";")[0].strip().lower()
    return analyse(fetched.result.body, declared)


def _media_row(capture: Capture, item: Item, fetched: MediaFetch, stored: _Stored, at: datetime) -> Media:
    declared = ((fetched.result.header("content-type") or "") if fetched.result else "")[:100]
    facts = stored.facts
    if facts is None:
        return Media(capture=capture, item=item, url=fetched.url, kind="other", is_bad=True, declared_mime=declared,
                     bad_reason=f"could not fetch: {stored.error}", fetched_at=at)
    return Media(
        capture=capture, item=item, url=fetched.url, blob_id=stored.blob_id, kind=facts.kind, mime=facts.mime,
        declared_mime=declared, size=facts.size, md5=facts.md5, sha1=facts.sha1, sha256=facts.sha256,
        width=facts.width, height=facts.height, frames=facts.frames, duration=facts.duration, pdq=facts.pdq,
        pdq_quality=facts.pdq_quality, vpdq=facts.vpdq, is_bad=bool(facts.bad_reason), bad_reason=facts.bad_reason,
        provenance=facts.provenance, ai_hint=bool(facts.provenance.get("ai")), fetched_at=at,
    )


class RetryRefused(Exception):
    pass


@transaction.atomic
def retry_capture_now(item: Item, *, user: User, now: datetime | None = None) -> None:
    """Make a failed item's capture due now (the worker picks it up on its next step); audited."""
    now = now or timezone.now()
    locked = Item.objects.select_for_update().get(pk=item.pk)
    if locked.status not in CAPTURABLE or not locked.captures.exists():
        raise RetryRefused("only an item whose capture failed can be captured again")
    before = {"retry_at": locked.next_capture_at.isoformat() if locked.next_capture_at else None}
    locked.next_capture_at = now
    locked.save(update_fields=["next_capture_at"])
    item.next_capture_at = now
    record(Actor.of_user(user), actions.ITEM_CAPTURE_RETRY_REQUESTED, locked, now=now, before=before,
           after={"retry_at": now.isoformat()})
