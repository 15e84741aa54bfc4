"""Gather an item's evidence (WARCs, media, capture metadata, audit trail) into a signed bag."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.audit.services import Actor, Change, record_many
from hotline.evidence import actions
from hotline.evidence.bag import BagFile, encrypt_to_recipient, load_signing_key, write_bag
from hotline.evidence.models import Capture, Media
from hotline.evidence.store import get_blob_bytes
from hotline.lib import prepared
from hotline.reports.models import Item, ReportItem

T = TypeVar("T")

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
               "video/mp4": "mp4", "video/webm": "webm", "image/bmp": "bmp", "image/avif": "avif"}


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=1, sort_keys=True, default=str, ensure_ascii=False).encode()


def _capture_meta(capture: Capture) -> dict[str, Any]:
    return {
        "capture": capture.pk, "started_at": capture.started_at, "finished_at": capture.finished_at,
        "outcome": capture.outcome, "requested_url": capture.requested_url, "final_url": capture.final_url,
        "resolved_ip": capture.peer_ip, "http_status": capture.http_status, "redirects": capture.redirects,
        "failure": capture.failure_reason or None, "warc_sha256": capture.warc.sha256 if capture.warc else None,
        "warc_file": f"warc/item-{capture.item_id}-capture-{capture.pk}.warc.gz" if capture.warc else None,
    }


def _item_meta(item: Item, captures: list[Capture], links: list[ReportItem]) -> dict[str, Any]:
    reports = [{"reference": link.report.reference, "source": link.report.source,
                "received_at": link.report.received_at, "url_as_written": link.raw_url} for link in links]
    return {
        "item": item.pk, "canonical_url": item.canonical_url, "first_reported_at": item.first_reported_at,
        "status": item.status, "verdict": item.verdict, "reports": reports,
        "captures": [_capture_meta(c) for c in captures],
    }


def _media_csv(media: Sequence[Media]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["item", "capture", "file", "url", "mime", "size", "md5", "sha1", "sha256", "pdq",
                     "pdq_quality", "width", "height", "bad_reason"])
    for m in media:
        writer.writerow([m.item_id, m.capture_id, _media_path(m) if m.blob_id else "", m.url, m.mime, m.size, m.md5,
                         m.sha1, m.sha256, m.pdq, m.pdq_quality or "", m.width or "", m.height or "", m.bad_reason])
    return out.getvalue().encode()


def _media_path(media: Media) -> str:
    return f"media/{media.sha256}.{_EXTENSIONS.get(media.mime, 'bin')}"


def _audit(events: list[AuditEvent]) -> list[dict[str, Any]]:
    return [{"seq": e.seq, "at": e.at, "actor": e.actor_label, "action": e.action, "before": e.before,
             "after": e.after, "prev_hash": e.prev_hash, "hash": e.hash} for e in events]


def _by_item(rows: Iterable[T], item_id: Callable[[T], int]) -> dict[int, list[T]]:
    grouped: dict[int, list[T]] = defaultdict(list)
    for row in rows:
        grouped[item_id(row)].append(row)
    return grouped


def _captures(ids: list[int]) -> QuerySet[Capture]:
    return Capture.objects.filter(item_id__in=ids).select_related("warc").order_by("started_at", "pk")


def _media(ids: list[int]) -> QuerySet[Media]:
    return Media.objects.filter(item_id__in=ids).select_related("blob").order_by("capture_id", "pk")


def _links(ids: list[int]) -> QuerySet[ReportItem]:
    return ReportItem.objects.filter(item_id__in=ids).select_related("report").order_by("report__received_at", "pk")


def _events(ids: list[str]) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type="reports.item", object_id__in=ids).order_by("seq")


def collect(items: Sequence[Item]) -> list[BagFile]:
    """Every file of the bag, decrypted into memory only. The items' captures, files, reports and audit
    trails are read once for all of them (a referral may group many items), each with SQL compiled once per
    process (``prepared.instances``: the same queries, rows and instances as the ORM's)."""
    ids = prepared.padded([item.pk for item in items]) if items else []  # no items: nothing to read
    captures = _by_item(prepared.instances("evidence.export_captures", _captures, ids=ids) if ids else [],
                        lambda c: c.item_id)
    media_of = _by_item(prepared.instances("evidence.export_media", _media, ids=ids) if ids else [],
                        lambda m: m.item_id)
    links = _by_item(prepared.instances("evidence.export_links", _links, ids=ids) if ids else [],
                     lambda link: link.item_id)
    events = _by_item(prepared.instances("evidence.export_events", _events, ids=[str(pk) for pk in ids])
                      if ids else [], lambda e: int(e.object_id))
    files: dict[str, bytes] = {}
    all_media: list[Media] = []
    for item in items:
        for capture in captures[item.pk]:
            if capture.warc is not None:
                files[f"warc/item-{item.pk}-capture-{capture.pk}.warc.gz"] = get_blob_bytes(capture.warc)
        media = media_of[item.pk]
        for m in media:
            if m.blob is not None:
                files.setdefault(_media_path(m), get_blob_bytes(m.blob))
        all_media += media
        files[f"metadata/item-{item.pk}.json"] = _json(_item_meta(item, captures[item.pk], links[item.pk]))
        files[f"audit/item-{item.pk}.json"] = _json(_audit(events[item.pk]))
    files["metadata/media.csv"] = _media_csv(all_media)
    return [BagFile(path, content) for path, content in sorted(files.items())]


def export_items(
    items: Sequence[Item], target: Path, *, actor: Actor, organisation: str, encrypt_to: Any | None = None
) -> Path:
    """Write the bag to ``target`` (or, with ``encrypt_to``, an encrypted container at ``target``)."""
    now = timezone.now()
    info = {
        "Source-Organization": organisation, "Bagging-Date": now.date().isoformat(),
        "External-Identifier": "items-" + "-".join(str(i.pk) for i in items),
        "Hotline-Item-Ids": ",".join(str(i.pk) for i in items), "Hotline-Exported-At": now.isoformat(),
    }
    files = collect(items)
    if encrypt_to is None:
        bag = write_bag(target, files, info=info, signing_key=load_signing_key())
    else:
        staging = target.with_name(target.name + ".bag")
        bag = write_bag(staging, files, info=info, signing_key=load_signing_key())
        try:
            encrypt_to_recipient(bag, target, encrypt_to)
        finally:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
        bag = target
    after = {"target": str(bag), "files": len(files), "encrypted": encrypt_to is not None}
    with transaction.atomic():
        record_many(actor, [Change(actions.EVIDENCE_EXPORTED, item, after=after) for item in items], now=now)
    return bag
