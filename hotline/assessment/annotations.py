"""The CyberTipline annotations of an item's final assessment, as referrals and the exchange carry them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch

from hotline.assessment.codes import ANNOTATION_SCHEME, FILE_ANNOTATIONS, REPORT_ANNOTATIONS, annotations_of
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.reports.models import Item


def item_annotations(item: Item) -> dict[str, Any]:
    """``report``: the report annotations; ``file``: file annotations of the item as a whole (set on the
    page, or on any of its files); ``files``: per distinct file (SHA-256) its own file annotations."""
    return _annotations(Assessment.objects.final().filter(item=item).first())


def items_annotations(item_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``item_annotations`` of several items, read in two queries (not two per item)."""
    ids = list(item_ids)
    rows = Prefetch("media_assessments", queryset=MediaAssessment.objects.select_related("media").order_by("media_id"))
    finals = {a.item_id: a for a in Assessment.objects.final().filter(item_id__in=ids).prefetch_related(rows)}
    return {pk: _annotations(finals.get(pk)) for pk in ids}


def _annotations(final: Assessment | None) -> dict[str, Any]:
    found: dict[str, Any] = {"scheme": ANNOTATION_SCHEME, "report": [], "file": [], "files": []}
    if final is None:
        return found
    found["report"] = annotations_of(final, REPORT_ANNOTATIONS)
    found["file"] = annotations_of(final, FILE_ANNOTATIONS)
    per_file: dict[str, list[str]] = {}
    rows = final.media_assessments.all() if "media_assessments" in getattr(final, "_prefetched_objects_cache", {}) \
        else final.media_assessments.select_related("media").order_by("media_id")
    for row in rows:
        codes = annotations_of(row, FILE_ANNOTATIONS)
        if codes and row.media.sha256:
            per_file.setdefault(row.media.sha256, codes)
    found["files"] = [{"sha256": sha256, "annotations": codes} for sha256, codes in per_file.items()]
    return found
