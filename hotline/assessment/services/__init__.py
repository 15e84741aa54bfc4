"""The assessment domain's verbs, each audited: the analyst workflow (``workflow``: claim, assess,
release, review, inheritance), reports without a URL (``incidents``) and items re-opened when the known
content they were assessed on is withdrawn (``known``). The workflow's public names are importable from
here; use ``services.incidents`` and ``services.known`` as modules."""

from __future__ import annotations

from hotline.assessment.services.workflow import (
    FIELDS,
    FILE_ANNOTATION_FIELDS,
    MEDIA_FIELDS,
    REPORT_ANNOTATION_FIELDS,
    AssessmentData,
    AssessmentInvalid,
    MediaData,
    WorkflowError,
    assess_item,
    assessable_media,
    check,
    claim_item,
    expire_claims,
    inherit_known,
    media_needs_review,
    needs_review,
    next_item,
    release_item,
    request_review,
    resolve,
    review_item,
    validate,
)

__all__ = [
    "FIELDS",
    "FILE_ANNOTATION_FIELDS",
    "MEDIA_FIELDS",
    "REPORT_ANNOTATION_FIELDS",
    "AssessmentData",
    "AssessmentInvalid",
    "MediaData",
    "WorkflowError",
    "assess_item",
    "assessable_media",
    "check",
    "claim_item",
    "expire_claims",
    "inherit_known",
    "media_needs_review",
    "needs_review",
    "next_item",
    "release_item",
    "request_review",
    "resolve",
    "review_item",
    "validate",
]
