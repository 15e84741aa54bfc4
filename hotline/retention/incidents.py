"""The data class of reports without a URL: what the reporter told and showed, once the report is closed.

The clock starts when staff close the incident. A purge clears every text that can name a person (what
happened, account names, platform, when, staff notes, the reporter's contact), destroys the screenshots'
encrypted blobs, and keeps the kind, urgency, status, annotations, time stamps and the screenshots' hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from hotline.assessment.models import Incident, IncidentScreenshot, IncidentStatus
from hotline.reports.models import Report
from hotline.retention.blobs import destroy_unreferenced
from hotline.retention.policy import START, Policy, PurgeResult, already_purged, mark_purged, sha256_text
from hotline.retention.records import canonical

_CLEARED = ("description", "accounts", "platform", "happened_when", "staff_notes")


class IncidentPolicy(Policy):
    name = "incidents"
    label = _("Reports without a URL")
    start_label = _("report closed")
    default = "365d"
    destroys = _("what happened, account names, platform, when, staff notes, the reporter's contact and the "
                 "screenshots (encrypted files)")
    keeps = _("the report: reference, kind, urgency, status, annotations, every time stamp, the screenshots' "
              "SHA-256")
    item_path = None  # a report without a URL names no item (legal holds are on items and cases)

    def rows(self) -> QuerySet[Incident]:
        return (Incident.objects.filter(status=IncidentStatus.CLOSED).filter(~already_purged(self.name))
                .select_related("report").annotate(**{START: F("closed_at")}))

    def purge(self, rows: Sequence[Incident], *, now: datetime) -> PurgeResult:
        ids = [row.pk for row in rows]
        digests = {row.pk: sha256_text(canonical([getattr(row, f) for f in _CLEARED]
                                                 + [row.report.reporter_contact])) for row in rows}
        shots = IncidentScreenshot.objects.filter(incident_id__in=ids, blob__isnull=False)
        blob_ids = set(shots.values_list("blob_id", flat=True))
        mark_purged(self.name, digests, now)
        Incident.objects.filter(pk__in=ids).update(**dict.fromkeys(_CLEARED, ""))
        Report.objects.filter(incident__in=ids).update(reporter_contact="")
        IncidentScreenshot.objects.filter(incident_id__in=ids).update(blob=None)
        destroyed = destroy_unreferenced(blob_ids)
        return PurgeResult(data_class=self.name, object_ids=ids, digests=list(digests.values()),
                           details={"blobs_destroyed": len(destroyed),
                                    "bytes_destroyed": sum(blob.size for blob in destroyed)})
