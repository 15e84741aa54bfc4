"""Case vocabulary: case kinds and the police outcome codes with their labels in NL, FR and EN.

The outcome labels are legal terms the police and prosecutors use (NL "seponering", FR "classement sans
suite"), so they live here next to the codes, exact, rather than only in the translation catalogue. The
CSV import accepts a code or any of its labels.
"""

from __future__ import annotations

import unicodedata

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class CaseKind(models.TextChoices):
    """Why these items belong together."""

    SAME_SITE = "same_site", _("Same site")
    SAME_SERIES = "same_series", _("Same series")
    SAME_SUSPECT = "same_suspect", _("Same suspect account")
    OTHER = "other", _("Other")


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class OutcomeCode(models.TextChoices):
    """What the police or the prosecutor did with a case, one event at a time."""

    RECEIVED = "received", _("Received by the police")
    INVESTIGATION = "investigation", _("Investigation opened")
    DISMISSED = "dismissed", _("Dismissed")
    PROSECUTED = "prosecuted", _("Prosecuted")
    CONVICTED = "convicted", _("Convicted")
    ACQUITTED = "acquitted", _("Acquitted")


class DismissalReason(models.TextChoices):
    """Why a case was dismissed (NL seponeringsgrond, FR motif du classement sans suite)."""

    INSUFFICIENT_EVIDENCE = "insufficient_evidence", _("Insufficient evidence")
    OFFENDER_UNKNOWN = "offender_unknown", _("Offender unknown")
    NOT_PUNISHABLE = "not_punishable", _("Not punishable")
    OTHER = "other", _("Other")


class OutcomeSource(models.TextChoices):
    MANUAL = "manual", _("Recorded by hand")
    CSV = "csv", _("CSV import")


LABELS: dict[str, dict[str, str]] = {
    OutcomeCode.RECEIVED: {"en": "Received by the police", "nl": "Ontvangen door de politie",
                           "fr": "Reçu par la police"},
    OutcomeCode.INVESTIGATION: {"en": "Investigation opened", "nl": "Onderzoek geopend",
                                "fr": "Enquête ouverte"},
    OutcomeCode.DISMISSED: {"en": "Dismissed", "nl": "Seponering", "fr": "Classement sans suite"},
    OutcomeCode.PROSECUTED: {"en": "Prosecuted", "nl": "Vervolgd", "fr": "Poursuivi"},
    OutcomeCode.CONVICTED: {"en": "Convicted", "nl": "Veroordeeld", "fr": "Condamné"},
    OutcomeCode.ACQUITTED: {"en": "Acquitted", "nl": "Vrijgesproken", "fr": "Acquitté"},
}
REASON_LABELS: dict[str, dict[str, str]] = {
    DismissalReason.INSUFFICIENT_EVIDENCE: {"en": "Insufficient evidence", "nl": "Onvoldoende bewijs",
                                            "fr": "Charges insuffisantes"},
    DismissalReason.OFFENDER_UNKNOWN: {"en": "Offender unknown", "nl": "Dader onbekend",
                                       "fr": "Auteur inconnu"},
    DismissalReason.NOT_PUNISHABLE: {"en": "Not punishable", "nl": "Geen misdrijf",
                                     "fr": "Absence d'infraction"},
    DismissalReason.OTHER: {"en": "Other", "nl": "Andere", "fr": "Autre"},
}


def _language(language: str | None) -> str:
    code = (language or get_language() or "en").split("-")[0].lower()
    return code if code in ("en", "nl", "fr") else "en"


def outcome_label(code: str, language: str | None = None) -> str:
    """The label of an outcome code in `language` (default: the active one); the code itself if unknown."""
    return LABELS.get(code, {}).get(_language(language), code)


def reason_label(code: str, language: str | None = None) -> str:
    return REASON_LABELS.get(code, {}).get(_language(language), code)


def _fold(text: str) -> str:
    """Case, accents, spaces, dashes and underscores do not matter when matching a label or a code."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(plain.replace("_", " ").replace("-", " ").split())


def _lookup(table: dict[str, dict[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for code, labels in table.items():
        for spelling in (code, *labels.values()):
            found[_fold(spelling)] = str(code)
    return found


_OUTCOMES = _lookup(LABELS)
_REASONS = _lookup(REASON_LABELS)


def parse_outcome(text: str) -> str | None:
    """The outcome code named by `text` (a code, or its label in NL, FR or EN), or None."""
    return _OUTCOMES.get(_fold(text))


def parse_reason(text: str) -> str | None:
    return _REASONS.get(_fold(text))
