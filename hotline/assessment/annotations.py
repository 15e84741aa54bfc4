"""The CyberTipline annotations of an item's final assessment, as referrals and the exchange carry them."""

from __future__ import annotations

from typing import Any

from hotline.assessment.codes import ANNOTATION_SCHEME, FILE_ANNOTATIONS, REPORT_ANNOTATIONS, annotations_of
from hotline.assessment.models import Assessment
from hotline.reports.models import Item


def item_annotations(item: Item) -> dict[str, Any]:
    """``report``: the report annotations; ``file``: file annotations of the item as a whole (set on the
    page, or on any of its files); ``files``: per distinct file (SHA-256) its own file annotations."""
    found: dict[str, Any] = {"scheme": ANNOTATION_SCHEME, "report": [], "file": [], "files": []}
    final = Assessment.objects.final().filter(item=item).first()
    if final is None:
        return found
    found["report"] = annotations_of(final, REPORT_ANNOTATIONS)
    found["file"] = annotations_of(final, FILE_ANNOTATIONS)
    per_file: dict[str, list[str]] = {}
    for row in final.media_assessments.select_related("media").order_by("media_id"):
        codes = annotations_of(row, FILE_ANNOTATIONS)
        if codes and row.media.sha256:
            per_file.setdefault(row.media.sha256, codes)
    found["files"] = [{"sha256": sha256, "annotations": codes} for sha256, codes in per_file.items()]
    return found
