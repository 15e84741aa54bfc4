"""Reports without a URL (sextortion, grooming, solicitation): intake, the support queue, audited views.

Such a report is a ``Report`` of its own ``kind`` with ``url_count`` 0 and an ``Incident`` beside it;
it never creates an ``Item``, so it never reaches the URL queue. Screenshots go into the encrypted
evidence store (``evidence.store.put_blob``); each time staff open one, an audit event says who and when.
Every write here is one ``@transaction.atomic`` verb with its audit event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hotline.accounts.models import Role, User
from hotline.assessment import actions
from hotline.assessment.codes import REPORT_ANNOTATIONS, annotation_field, annotations_of
from hotline.assessment.models import (
    INCIDENT_TRANSITIONS,
    Incident,
    IncidentScreenshot,
    IncidentStatus,
    Urgency,
)
from hotline.audit.services import Actor, record
from hotline.evidence.store import get_blob_bytes, put_blob
from hotline.lib import thumbnails
from hotline.lib.sniff import sniff
from hotline.lib.states import InvalidTransition, move
from hotline.lib.support import SupportContact
from hotline.lib.support import parse as parse_contacts
from hotline.lib.textguard import text_problem
from hotline.reports import actions as report_actions
from hotline.reports.models import NO_URL_KINDS, Report, ReportKind, Source

# Who works the support queue: analysts and the police liaison (the people who act on such reports).
INCIDENT_STAFF = (Role.ANALYST, Role.SENIOR_ANALYST, Role.POLICE_LIAISON)
SCREENSHOT_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
MAX_DESCRIPTION = 5000
MAX_ACCOUNTS = 1000


class IncidentError(Exception):
    """The action is not possible (bad input, wrong status, no such screenshot)."""


@dataclass
class IncomingIncident:
    kind: str
    description: str
    platform: str = ""
    accounts: str = ""
    happened_when: str = ""
    ongoing: bool = False
    contact: str = ""
    language: str = ""
    screenshots: Sequence[bytes] = field(default_factory=tuple)


def urgency_for(kind: str, *, ongoing: bool) -> int:
    """Someone being threatened or approached right now comes first; sextortion before the rest."""
    if ongoing:
        return Urgency.URGENT
    return Urgency.HIGH if kind == ReportKind.SEXTORTION else Urgency.NORMAL


def support_contacts(kind: str | None = None) -> list[SupportContact]:
    """The configured helplines (``HOTLINE_SUPPORT_CONTACTS``), those for ``kind`` when given."""
    contacts = parse_contacts(settings.HOTLINE_SUPPORT_CONTACTS)
    return [c for c in contacts if kind is None or kind in c.kinds]


def screenshot_problem(data: bytes) -> str | None:
    """Why ``data`` cannot be accepted as a screenshot (too large, not an image), or None."""
    if len(data) > settings.HOTLINE_INCIDENT_MAX_SCREENSHOT_BYTES:
        return "too large"
    if sniff(data) not in SCREENSHOT_TYPES:
        return "not an image"
    return None


def _check(incoming: IncomingIncident) -> None:
    if incoming.kind not in NO_URL_KINDS:
        raise IncidentError(f"kind {incoming.kind!r} is not a report without a URL")
    if not incoming.description.strip():
        raise IncidentError("say what happened")
    texts = {"description": incoming.description, "platform": incoming.platform, "accounts": incoming.accounts,
             "happened_when": incoming.happened_when, "contact": incoming.contact}
    for name, value in texts.items():
        if (problem := text_problem(value)) is not None:
            raise IncidentError(f"{name}: {problem}")
    if len(incoming.screenshots) > settings.HOTLINE_INCIDENT_MAX_SCREENSHOTS:
        raise IncidentError("too many screenshots")
    for data in incoming.screenshots:
        if (problem := screenshot_problem(data)) is not None:
            raise IncidentError(f"screenshot: {problem}")


def receive_incident(incoming: IncomingIncident, *, actor: Actor, now: datetime | None = None) -> Report:
    """Store a report without a URL: the report, its incident and its screenshots (encrypted), audited.

    One transaction: a failure leaves no row, at most ciphertext files without a blob row, which the
    store's orphan sweep (``evidence.store.orphans``) finds.
    """
    now = now or timezone.now()
    _check(incoming)
    with transaction.atomic():
        blobs = [put_blob(data) for data in incoming.screenshots]
        report = Report.objects.create(
            source=Source.PUBLIC, kind=incoming.kind, received_at=now, language=incoming.language[:8],
            reporter_contact=incoming.contact.strip()[:500], url_count=0)
        incident = Incident.objects.create(
            report=report, received_at=now, urgency=urgency_for(incoming.kind, ongoing=incoming.ongoing),
            description=incoming.description.strip()[:MAX_DESCRIPTION], platform=incoming.platform.strip()[:200],
            accounts=incoming.accounts.strip()[:MAX_ACCOUNTS], happened_when=incoming.happened_when.strip()[:100],
            ongoing=incoming.ongoing, status_changed_at=now)
        IncidentScreenshot.objects.bulk_create([
            IncidentScreenshot(incident=incident, blob=blob, sha256=blob.sha256, size=blob.size,
                               mime=sniff(data), position=index)
            for index, (blob, data) in enumerate(zip(blobs, incoming.screenshots, strict=True))])
        record(actor, report_actions.REPORT_RECEIVED, report, now=now,
               after={"source": report.source, "kind": report.kind, "urls": 0})
        record(actor, actions.INCIDENT_RECEIVED, incident, now=now,
               after={"report": report.reference, "kind": report.kind, "urgency": incident.urgency,
                      "screenshots": [blob.sha256 for blob in blobs]})
    return report


# --- the support queue ------------------------------------------------------------------------------


def _require_staff(user: User) -> None:
    if not user.has_role(*INCIDENT_STAFF):
        raise IncidentError("only analysts and the police liaison work on these reports")


def _move(incident: Incident, to: str, action: str, *, user: User, now: datetime, **changes: Any) -> Incident:
    before = {"status": incident.status}
    try:
        move(Incident.objects.filter(pk=incident.pk), to, table=INCIDENT_TRANSITIONS, now=now, field="status",
             status_changed_at=now, **changes)
    except InvalidTransition as exc:
        raise IncidentError(f"an incident that is {incident.status} cannot become {to}") from exc
    incident.refresh_from_db()
    after: dict[str, Any] = {"status": to, **{k: v for k, v in changes.items() if k == "police_reference"}}
    record(Actor.of_user(user), action, incident, before=before, after=after, now=now)
    return incident


@transaction.atomic
def take_incident(incident: Incident, *, user: User, now: datetime | None = None) -> Incident:
    """Start working on a new (or reopen a closed) incident: it becomes yours."""
    _require_staff(user)
    now = now or timezone.now()
    return _move(incident, IncidentStatus.IN_PROGRESS, actions.INCIDENT_IN_PROGRESS, user=user, now=now,
                 handled_by=user)


@transaction.atomic
def refer_incident(incident: Incident, *, user: User, police_reference: str = "",
                   now: datetime | None = None) -> Incident:
    """Record that the police have the report (with their reference, when they gave one)."""
    _require_staff(user)
    if (problem := text_problem(police_reference)) is not None:
        raise IncidentError(problem)
    now = now or timezone.now()
    return _move(incident, IncidentStatus.REFERRED, actions.INCIDENT_REFERRED, user=user, now=now, handled_by=user,
                 police_reference=police_reference.strip()[:100])


@transaction.atomic
def close_incident(incident: Incident, *, user: User, now: datetime | None = None) -> Incident:
    _require_staff(user)
    now = now or timezone.now()
    return _move(incident, IncidentStatus.CLOSED, actions.INCIDENT_CLOSED, user=user, now=now)


@transaction.atomic
def annotate_incident(incident: Incident, codes: Sequence[str], *, user: User,
                      now: datetime | None = None) -> Incident:
    """Set the report annotations (``codes.REPORT_ANNOTATIONS``) to exactly ``codes``."""
    _require_staff(user)
    unknown = sorted(set(codes) - set(REPORT_ANNOTATIONS))
    if unknown:
        raise IncidentError(f"unknown annotation {unknown[0]!r}")
    now = now or timezone.now()
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    before = annotations_of(locked, REPORT_ANNOTATIONS)
    changes = {annotation_field(code): code in codes for code in REPORT_ANNOTATIONS}
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.save(update_fields=list(changes))
    after = annotations_of(locked, REPORT_ANNOTATIONS)
    if before != after:
        record(Actor.of_user(user), actions.INCIDENT_ANNOTATED, locked, before={"annotations": before},
               after={"annotations": after}, now=now)
    return locked


@transaction.atomic
def view_screenshot(shot: IncidentScreenshot, *, user: User, sharp: bool,
                    now: datetime | None = None) -> bytes:
    """The screenshot as a PNG (blurred and greyscale, or sharp), audited each time it is shown."""
    _require_staff(user)
    if shot.blob is None:
        raise IncidentError("this screenshot was destroyed under the retention plan")
    now = now or timezone.now()
    record(Actor.of_user(user), actions.INCIDENT_SCREENSHOT_VIEWED, shot.incident, now=now,
           after={"screenshot": shot.position, "sha256": shot.sha256, "sharp": sharp})
    data = get_blob_bytes(shot.blob)
    if hashlib.sha256(data).hexdigest() != shot.sha256:
        raise IncidentError("the stored screenshot does not match its hash")
    try:
        return thumbnails.safe_thumbnail(data, size=(1280, 1280) if sharp else (360, 360), blur=not sharp)
    except thumbnails.PreviewError:
        return thumbnails.placeholder((240, 240), "no preview")


def opened_by_staff(incident: Incident, *, user: User, now: datetime | None = None) -> None:
    """Reading an incident's personal details is audited like a media view (who, when)."""
    _require_staff(user)
    with transaction.atomic():
        record(Actor.of_user(user), actions.INCIDENT_OPENED, incident, now=now or timezone.now(),
               after={"report": incident.report.reference})
