"""Data classes kept in database rows: reporter contact, report descriptions, assessment notes, trace
snapshots, notices, partner messages, and the audit log (which is never purged, only reported on by age).

Anonymising classes clear free text and message bodies, keep every code, count and time stamp,
and leave a ``PurgedObject`` marker; trace thinning deletes whole snapshots that repeat known facts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from hotline.assessment.models import Assessment
from hotline.audit.models import AuditEvent
from hotline.partners.models import InboundForward, InboundMessage, OutboundMessage
from hotline.reports.models import Report
from hotline.retention.policy import (
    START,
    Policy,
    PurgeResult,
    already_purged,
    held_item_ids,
    mark_purged,
    references_to,
    sha256_text,
)
from hotline.takedown.models import Notice, NoticeState
from hotline.tracing.models import Trace


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class _AnonymisingPolicy(Policy):
    """Sets each field of ``cleared`` to its empty value and marks the row; the digest of a row is
    the hash of its old values."""

    cleared: dict[str, Any]

    def purge(self, rows: Sequence[Any], *, now: datetime) -> PurgeResult:
        digests = {row.pk: sha256_text(canonical([getattr(row, f) for f in self.cleared])) for row in rows}
        if rows:
            mark_purged(self.name, digests, now)
            type(rows[0])._default_manager.filter(pk__in=list(digests)).update(**self.cleared)
        return PurgeResult(data_class=self.name, object_ids=list(digests), digests=list(digests.values()))


class ReporterContactPolicy(_AnonymisingPolicy):
    name = "reporter_contact"
    label = _("Reporter contact data")
    start_label = _("report received")
    default = "180d"
    destroys = _("the reporter's contact details (encrypted field)")
    keeps = _("the report: reference, source, time received, language, URLs and items")
    item_path = "items"
    cleared = {"reporter_contact": ""}

    def rows(self) -> QuerySet[Report]:
        return Report.objects.exclude(reporter_contact="").annotate(**{START: F("received_at")})


class ReportTextPolicy(_AnonymisingPolicy):
    """What reporters write about a URL can name people (themselves, a victim, a suspect): it is cleared
    once its time has come; the report's facts, which statistics count, stay."""

    name = "report_text"
    label = _("Report descriptions")
    start_label = _("report received")
    default = "365d"
    destroys = _("the reporter's free-text description")
    keeps = _("the report: reference, source, time received, language, URLs and items")
    item_path = "items"
    cleared = {"text": ""}

    def rows(self) -> QuerySet[Report]:
        return Report.objects.exclude(text="").annotate(**{START: F("received_at")})


class AssessmentNotesPolicy(_AnonymisingPolicy):
    name = "assessment_notes"
    label = _("Assessment notes")
    start_label = _("assessment made")
    default = "365d"
    destroys = _("the analyst's free-text notes")
    keeps = _("every code: verdict, legal limb, content, flags, age group, gender, site type, reason, times")
    cleared = {"notes": ""}

    def rows(self) -> QuerySet[Assessment]:
        return Assessment.objects.exclude(notes="").annotate(**{START: F("created_at")})


class NoticePolicy(_AnonymisingPolicy):
    name = "notices"
    label = _("Notices to providers")
    start_label = _("notice sent (or created, when never sent)")
    default = "365d"
    destroys = _("recipient address, delivery errors and bounce texts")
    keeps = _("kind, contact, provider, channel, language, state, every time stamp, the items named")
    item_path = "items"
    cleared = {"recipient": "", "last_error": "", "bounce_reason": ""}

    def rows(self) -> QuerySet[Notice]:
        final = (NoticeState.SENT, NoticeState.FAILED, NoticeState.CANCELLED)
        return (Notice.objects.filter(state__in=final).filter(~already_purged(self.name))
                .annotate(**{START: Coalesce("sent_at", "created_at")}))


def _stub(body: Any) -> dict[str, Any]:
    return {"purged": True, "sha256": sha256_text(canonical(body))}


class _MessagePolicy(Policy):
    """Replaces JSON bodies by a stub that keeps the body's SHA-256, and clears error texts."""

    bodies: tuple[str, ...]
    texts: tuple[str, ...] = ()
    nulls: tuple[str, ...] = ()

    def purge(self, rows: Sequence[Any], *, now: datetime) -> PurgeResult:
        digests: dict[int, str] = {}
        for row in rows:
            old = [getattr(row, f) for f in (*self.bodies, *self.texts, *self.nulls)]
            digests[row.pk] = sha256_text(canonical(old))
            for body in self.bodies:
                setattr(row, body, _stub(getattr(row, body)))
            for text in self.texts:
                setattr(row, text, "")
            for null in self.nulls:
                setattr(row, null, None)
        if rows:
            mark_purged(self.name, digests, now)
            type(rows[0])._default_manager.bulk_update(rows, [*self.bodies, *self.texts, *self.nulls])
        return PurgeResult(data_class=self.name, object_ids=list(digests), digests=list(digests.values()))


class PartnerOutboundPolicy(_MessagePolicy):
    name = "partner_outbound"
    label = _("Messages sent to partner hotlines")
    start_label = _("message delivered (or given up)")
    default = "365d"
    destroys = _("the message body and the partner's answer (a SHA-256 of the body stays)")
    keeps = _("message id, partner, kind, state, attempts, every time stamp; the forward and its statuses")
    item_path = "forward__item"
    bodies = ("body",)
    texts = ("last_error",)
    nulls = ("answer",)

    def rows(self) -> QuerySet[OutboundMessage]:
        return (OutboundMessage.objects.filter(state__in=("delivered", "failed")).filter(~already_purged(self.name))
                .annotate(**{START: Coalesce("delivered_at", "failed_at")}))


class PartnerInboundPolicy(_MessagePolicy):
    name = "partner_inbound"
    label = _("Messages received from partner hotlines (inbound log)")
    start_label = _("message received")
    default = "365d"
    destroys = _("the message as received and the refusal detail")
    keeps = _("time, sender, message id, kind, outcome, HTTP status, field, content SHA-256, our answer")
    item_path = None
    texts = ("detail",)
    nulls = ("message",)
    bodies = ()

    def rows(self) -> QuerySet[InboundMessage]:
        return (InboundMessage.objects.filter(Q(message__isnull=False) | ~Q(detail=""))
                .filter(~already_purged(self.name)).annotate(**{START: F("received_at")}))

    def pending(self) -> QuerySet[Any]:
        # A message that became a forward of a held item is held with it.
        held = InboundForward.objects.filter(partner=OuterRef("partner"), message_id=OuterRef("message_id"),
                                             item__in=held_item_ids())
        return super().pending().filter(~Exists(held))


class PartnerForwardInPolicy(_MessagePolicy):
    name = "partner_forwards"
    label = _("Forwards received from partner hotlines")
    start_label = _("forward received")
    default = "365d"
    destroys = _("the forward's payload as the partner sent it (a SHA-256 of it stays)")
    keeps = _("partner, message id, their reference, the report and item it became, times")
    bodies = ("body",)

    def rows(self) -> QuerySet[InboundForward]:
        return InboundForward.objects.filter(~already_purged(self.name)).annotate(**{START: F("received_at")})


class TraceSnapshotPolicy(Policy):
    name = "trace_snapshots"
    label = _("Trace snapshots")
    start_label = _("snapshot taken")
    default = "90d"
    destroys = _("snapshots that repeat the one before (same country and provider)")
    keeps = _("the first and the latest snapshot of each item, every snapshot where the country or provider "
              "changed, and every snapshot a routing decision or notice cites")

    def rows(self) -> QuerySet[Trace]:
        same_item = Trace.objects.filter(item=OuterRef("item"))
        later = same_item.filter(Q(traced_at__gt=OuterRef("traced_at"))
                                 | Q(traced_at=OuterRef("traced_at"), pk__gt=OuterRef("pk")))
        earlier = same_item.filter(Q(traced_at__lt=OuterRef("traced_at"))
                                   | Q(traced_at=OuterRef("traced_at"), pk__lt=OuterRef("pk")))
        rows = Trace.objects.filter(Exists(later), Exists(earlier), changed=False)
        for model, column in references_to(Trace):
            rows = rows.filter(~Exists(model._default_manager.filter(**{column: OuterRef("pk")})))
        return rows.annotate(**{START: F("traced_at")})

    def purge(self, rows: Sequence[Trace], *, now: datetime) -> PurgeResult:
        digests = {row.pk: sha256_text(canonical(_trace_facts(row))) for row in rows}
        Trace.objects.filter(pk__in=list(digests)).delete()
        return PurgeResult(data_class=self.name, object_ids=list(digests), digests=list(digests.values()))


def _trace_facts(trace: Trace) -> dict[str, Any]:
    return {"item": trace.item_id, "traced_at": trace.traced_at.isoformat(), "host": trace.host,
            "outcome": trace.outcome, "addresses": trace.addresses, "country": trace.country,
            "cname_chain": trace.cname_chain, "provider": trace.provider_id}


class AuditAgePolicy(Policy):
    """Audit events are never deleted: the hash chain must verify from the first event. This class
    only reports how many events are older than its duration, so an installation sees their age."""

    name = "audit"
    label = _("Audit events")
    start_label = _("event recorded")
    default = "3650d"
    destroys = _("nothing: the chain must verify, events are only reported by age")
    keeps = _("every event")
    item_path = None
    destructive = False

    def rows(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.annotate(**{START: F("at")})

    def purge(self, rows: Sequence[AuditEvent], *, now: datetime) -> PurgeResult:
        return PurgeResult(data_class=self.name)
