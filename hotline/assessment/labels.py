"""Translated labels for every stored code an analyst sees (verdicts, reasons, statuses, audit actions),
so no page shows ``not_illegal`` or ``item.media_viewed`` where a sentence belongs."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from hotline.assessment import codes
from hotline.assessment.models import Kind
from hotline.evidence.models import CaptureOutcome, MediaKind
from hotline.hashes.models import BankKind, SignalType
from hotline.reports.models import ItemStatus, Source

CHOICES: dict[str, type[models.TextChoices]] = {
    "verdict": codes.Verdict, "legal_limb": codes.LegalLimb, "content_type": codes.ContentType,
    "age_group": codes.AgeGroup, "gender": codes.Gender, "site_type": codes.SiteType,
    "commerciality": codes.Commerciality, "reason": codes.Reason, "other_harm": codes.OtherHarm,
    "status": ItemStatus, "source": Source, "kind": Kind, "media_kind": MediaKind, "signal_type": SignalType,
    "bank_kind": BankKind, "capture_outcome": CaptureOutcome,
}

# What each audited action on an item means, as the timeline says it ("<who> <sentence>").
ACTIONS: dict[str, Promise] = {
    "item.created": _("created the item from a report"),
    "item.report_added": _("added another report of the item"),
    "item.captured": _("captured the page and its media"),
    "item.capture_failed": _("could not capture the page (will try again)"),
    "item.unreachable": _("gave up capturing: the page is unreachable"),
    "item.matched": _("matched the media against the hash lists"),
    "item.claimed": _("claimed the item"),
    "item.released": _("released the item"),
    "item.skipped": _("skipped the item"),
    "item.claim_expired": _("let an expired claim go"),
    "item.media_viewed": _("opened the blurred media"),
    "item.assessed": _("assessed the item"),
    "item.assessed_by_inheritance": _("assessed the item from known content"),
    "item.reviewed": _("reviewed the assessment"),
    "item.review_requested": _("asked for a second review"),
    "item.reopened": _("reopened the item"),
    "item.closed": _("closed the item"),
    "item.traced": _("traced where the item is hosted"),
    "item.trace_requested": _("asked for a new hosting trace"),
    "item.trace_failed": _("could not trace the hosting"),
    "item.origin_recorded": _("recorded the origin behind the CDN"),
    "incident.received": _("received the report without a URL"),
    "incident.opened": _("opened the report"),
    "incident.in_progress": _("took the report"),
    "incident.referred": _("recorded the report as referred to the police"),
    "incident.closed": _("closed the report"),
    "incident.annotated": _("changed the annotations"),
    "incident.screenshot_viewed": _("viewed a screenshot"),
    "bank.entries_proposed": _("proposed the media hashes for our own list"),
    "bank.entries_added": _("added the media hashes to our own list"),
    "bank.entries_confirmed": _("confirmed the media hashes in our own list"),
    "routing.reopened": _("re-opened the routing decision: the known content it rested on was withdrawn"),
}


def label(code: object, kind: str) -> str:
    """The translated label of ``code`` in the vocabulary ``kind``; the code itself when unknown."""
    if code in (None, ""):
        return ""
    choices = CHOICES.get(kind)
    if choices is not None:
        for value, text in choices.choices:
            if value == code:
                return str(text)
    return str(code)


# Who did it, as the timeline's subject: the audit trail stores "<kind>:<name>" labels.
ACTOR_KINDS = {
    "partner": _("partner hotline %(name)s"),
    "api": _("API client %(name)s"),
    "mail": _("e-mail from %(name)s"),
    "import": _("import of %(name)s"),
}
ACTOR_NAMES = {
    "system": _("the system"),
    "public": _("the public form"),
    "anonymous": _("someone not logged in"),
}


def actor_name(actor_label: str) -> str:
    """``user:ana`` -> ``ana``, ``system`` -> "the system", ``partner:nl`` -> "partner hotline nl"."""
    kind, sep, name = actor_label.partition(":")
    if not sep:
        known = ACTOR_NAMES.get(actor_label)
        return str(known) if known is not None else actor_label
    if kind in ("user", "company"):
        return name
    if kind == "provider":
        return gettext("the hosting provider")
    template = ACTOR_KINDS.get(kind)
    return str(template) % {"name": name} if template is not None else actor_label


def action_label(action: str) -> str:
    text = ACTIONS.get(action)
    return str(text) if text is not None else action


def event_details(after: Any) -> str:
    """The codes an event carries, in words: "Baseline (…) · Content not found"."""
    if not isinstance(after, dict):
        return ""
    parts = [label(after.get(name), kind) for name, kind in (("verdict", "verdict"), ("status", "status"))
             if after.get(name)]
    reason = after.get("reason")
    if isinstance(reason, str) and reason:
        parts.append(label(reason, "reason") if reason in codes.Reason.values else reason)
    if isinstance(after.get("media"), dict) and after["media"]:
        parts.append(gettext("%(n)s media classified") % {"n": len(after["media"])})
    return " · ".join(parts)
