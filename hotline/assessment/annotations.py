"""The CyberTipline annotations of an item's final assessment, as referrals and the exchange carry them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from hotline.assessment.codes import ANNOTATION_SCHEME, FILE_ANNOTATIONS, REPORT_ANNOTATIONS, annotations_of
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.lib import prepared
from hotline.reports.models import Item


def item_annotations(item: Item) -> dict[str, Any]:
    """``report``: the report annotations; ``file``: file annotations of the item as a whole (set on the
    page, or on any of its files); ``files``: per distinct file (SHA-256) its own file annotations."""
    return _annotations(Assessment.objects.final().filter(item=item).first())


def items_annotations(item_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``item_annotations`` of several items, read in two queries (not two per item), each compiled once per
    process (``prepared``: every referral reads them; built by the ORM, with a prefetch, they cost several times
    what the database takes to answer them)."""
    ids = list(item_ids)
    if not ids:
        return {}
    padded = prepared.padded(ids)
    finals = {a.item_id: a for a in prepared.instances("assessment.annotated_finals", _finals, ids=padded)}
    files: dict[int, list[MediaAssessment]] = {}
    for row in prepared.instances("assessment.annotated_files", _files, ids=padded) if finals else ():
        files.setdefault(row.assessment_id, []).append(row)  # no final assessment, no files to read (as a prefetch)
    return {pk: _annotations(final, files.get(final.pk, [])) if (final := finals.get(pk)) else _annotations(None)
            for pk in ids}


def _finals(ids: list[int]) -> QuerySet[Assessment]:
    return Assessment.objects.final().filter(item_id__in=ids)


def _files(ids: list[int]) -> QuerySet[MediaAssessment]:
    """The file rows of these items' final assessments with their files, in the order of the files' ids."""
    return (MediaAssessment.objects.filter(assessment__item_id__in=ids, assessment__is_final=True)
            .select_related("media").order_by("media_id"))


def _annotations(final: Assessment | None, rows: Iterable[MediaAssessment] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"scheme": ANNOTATION_SCHEME, "report": [], "file": [], "files": []}
    if final is None:
        return found
    found["report"] = annotations_of(final, REPORT_ANNOTATIONS)
    found["file"] = annotations_of(final, FILE_ANNOTATIONS)
    per_file: dict[str, list[str]] = {}
    if rows is None:
        rows = final.media_assessments.select_related("media").order_by("media_id")
    for row in rows:
        codes = annotations_of(row, FILE_ANNOTATIONS)
        if codes and row.media.sha256:
            per_file.setdefault(row.media.sha256, codes)
    found["files"] = [{"sha256": sha256, "annotations": codes} for sha256, codes in per_file.items()]
    return found
