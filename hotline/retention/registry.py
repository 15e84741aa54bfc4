"""Every data class, in the order the plan page lists them, with durations from the settings."""

from __future__ import annotations

from collections.abc import Mapping

from hotline.retention import conf
from hotline.retention.blobs import MediaPolicy, PreviewPolicy, WarcPolicy
from hotline.retention.incidents import IncidentPolicy
from hotline.retention.policy import Policy
from hotline.retention.records import (
    AssessmentNotesPolicy,
    AuditAgePolicy,
    NoticePolicy,
    PartnerForwardInPolicy,
    PartnerInboundPolicy,
    PartnerOutboundPolicy,
    ReporterContactPolicy,
    ReportTextPolicy,
    TraceSnapshotPolicy,
)

# A new data class is one Policy subclass added here (and a line in docs/retention.md).
POLICY_CLASSES: tuple[type[Policy], ...] = (
    ReporterContactPolicy,
    ReportTextPolicy,
    IncidentPolicy,
    MediaPolicy,
    WarcPolicy,
    PreviewPolicy,
    AssessmentNotesPolicy,
    TraceSnapshotPolicy,
    NoticePolicy,
    PartnerOutboundPolicy,
    PartnerInboundPolicy,
    PartnerForwardInPolicy,
    AuditAgePolicy,
)
DEFAULTS: dict[str, str] = {cls.name: cls.default for cls in POLICY_CLASSES}
NAMES = tuple(DEFAULTS)


def policies(configured: Mapping[str, object] | None = None) -> list[Policy]:
    """One policy per class with its duration (``ImproperlyConfigured`` names a bad class)."""
    durations = conf.durations(DEFAULTS, configured)
    return [cls(durations[cls.name]) for cls in POLICY_CLASSES]


def policy(name: str) -> Policy:
    for candidate in policies():
        if candidate.name == name:
            return candidate
    raise KeyError(f"no data class {name!r} (known: {', '.join(NAMES)})")
