"""Data classes stored as encrypted blobs: captured media, WARC files, and previews (never stored).

The clock starts when the item is settled: a not-illegal verdict, a confirmed removal, or closing.
A purge keeps every row with its hashes and clears the pointer; a blob is destroyed when no row
of any kind points to it any more (blobs are shared by content).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, DateTimeField, F, Q, QuerySet, When
from django.utils.translation import gettext_lazy as _

from hotline.assessment.codes import Verdict
from hotline.evidence.backends import storage_from_settings
from hotline.evidence.models import Blob, Capture, Media
from hotline.reports.models import ItemStatus
from hotline.retention.policy import START, Policy, PurgeResult, mark_purged, references_to

SETTLED_LABEL = _("item settled: not-illegal verdict, confirmed removal or closing")


def settled_at(item: str = "item") -> Case:
    """When the item stopped needing its evidence; null while it is still open and illegal.

    The branches are in the order the events happen, so the first match is the earliest.
    """
    p = f"{item}__"
    return Case(
        When(Q(**{f"{p}verdict": Verdict.NOT_ILLEGAL, f"{p}status__in": (ItemStatus.ASSESSED, ItemStatus.CLOSED)}),
             then=F(f"{p}assessed_at")),
        When(Q(**{f"{p}takedown__state": "removed"}), then=F(f"{p}takedown__removed_at")),
        When(Q(**{f"{p}status": ItemStatus.CLOSED}), then=F(f"{p}closed_at")),
        default=None, output_field=DateTimeField(),
    )


def destroy_unreferenced(blob_ids: Iterable[int]) -> list[Blob]:
    """Delete the blobs among ``blob_ids`` that no row of any model points to; return them.

    Every relation to ``Blob`` is checked, hidden ones included (``Capture.warc``, mail intake).
    1. lock the candidate blob rows, so a capture storing the same content now waits for us (and
    then fails its foreign key and retries) instead of pointing at a blob we delete; 2. drop those
    still referenced; 3. delete the rows now, in the caller's transaction, and the files after commit.
    """
    wanted = set(Blob.objects.select_for_update().filter(pk__in=set(blob_ids)).values_list("pk", flat=True))
    for model, column in references_to(Blob):
        if not wanted:
            return []
        wanted -= set(model._default_manager.filter(**{f"{column}__in": wanted}).values_list(column, flat=True))
    doomed = list(Blob.objects.filter(pk__in=wanted).order_by("pk"))
    _delete_blobs(doomed)
    return doomed


def _delete_blobs(blobs: list[Blob]) -> None:
    """``store.delete_blob`` for many blobs at once: the rows now (in the caller's transaction), the
    files after commit. A crash in between leaves orphan files whose data keys are gone with the rows
    (unreadable; ``store.orphans`` finds them)."""
    if not blobs:
        return
    Blob.objects.filter(pk__in=[blob.pk for blob in blobs]).delete()
    storage = storage_from_settings()
    names = [blob.storage_name for blob in blobs]

    def remove_files() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(remove_files)


def _blob_result(name: str, rows: Sequence[Any], destroyed: list[Blob]) -> PurgeResult:
    return PurgeResult(
        data_class=name, object_ids=[row.pk for row in rows], digests=[blob.sha256 for blob in destroyed],
        details={"blobs_destroyed": len(destroyed), "bytes_destroyed": sum(blob.size for blob in destroyed),
                 "blobs_still_used": len({_blob_id(row, name) for row in rows} - {b.pk for b in destroyed})},
    )


def _blob_id(row: Any, name: str) -> int:
    value: int = row.warc_id if name == "warc" else row.blob_id
    return value


class MediaPolicy(Policy):
    name = "media"
    label = _("Captured media files")
    start_label = SETTLED_LABEL
    default = "90d"
    destroys = _("the encrypted media file")
    keeps = _("the media row: URL, type, size, MD5, SHA-1, SHA-256, PDQ, vPDQ, dimensions, verdicts")

    def rows(self) -> QuerySet[Media]:
        return Media.objects.filter(blob__isnull=False).select_related("blob").annotate(**{START: settled_at()})

    def purge(self, rows: Sequence[Media], *, now: datetime) -> PurgeResult:
        # 1. markers and cleared pointers, 2. blob rows without references: one transaction, so no
        # row ever points to a destroyed blob, and a crash before commit changes nothing.
        blob_ids = {row.blob_id for row in rows if row.blob_id is not None}
        mark_purged(self.name, {row.pk: _sha_of(row) for row in rows}, now)
        Media.objects.filter(pk__in=[row.pk for row in rows]).update(blob=None)
        return _blob_result(self.name, rows, destroy_unreferenced(blob_ids))


def _sha_of(media: Media) -> str:
    return media.blob.sha256 if media.blob is not None else media.sha256


class WarcPolicy(Policy):
    name = "warc"
    label = _("WARC files of captures")
    start_label = SETTLED_LABEL
    default = "90d"
    destroys = _("the encrypted WARC file (every HTTP exchange of the capture) and the screenshot and text "
                 "extract made from it")
    keeps = _("the capture row: times, final URL, HTTP status, address, redirects, media count, outcome")

    def rows(self) -> QuerySet[Capture]:
        return Capture.objects.filter(Q(warc__isnull=False) | Q(screenshot__isnull=False)).select_related(
            "warc").annotate(**{START: settled_at()})

    def purge(self, rows: Sequence[Capture], *, now: datetime) -> PurgeResult:
        # The screenshot and the text extract are made from the WARC: they go with it.
        blob_ids = {b for row in rows for b in (row.warc_id, row.screenshot_id) if b is not None}
        mark_purged(self.name, {row.pk: row.warc.sha256 if row.warc else "" for row in rows}, now)
        Capture.objects.filter(pk__in=[row.pk for row in rows]).update(
            warc=None, screenshot=None, screenshot_due_at=None, page_title="", page_text="", page_links="")
        return _blob_result(self.name, rows, destroy_unreferenced(blob_ids))


class PreviewPolicy(Policy):
    """Previews and thumbnails are made in memory from the media blob on each request and never
    stored (``evidence/previews.py``): there is nothing to purge, and purging media ends them."""

    name = "previews"
    label = _("Previews and thumbnails")
    start_label = _("not stored: made in memory from the media file on each view")
    default = "forever"
    destroys = _("nothing (never stored); they disappear with the media file")
    keeps = _("nothing is stored")
    destructive = False

    def rows(self) -> QuerySet[Media]:
        return Media.objects.none().annotate(**{START: settled_at()})

    def purge(self, rows: Sequence[Media], *, now: datetime) -> PurgeResult:
        return PurgeResult(data_class=self.name)
