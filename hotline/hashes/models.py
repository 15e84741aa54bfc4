"""Hash banks: lists of known hashes with provenance, entries with per-entry disable and four-eyes
confirmation, and the matches found for captured media."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib import states


class BankKind(models.TextChoices):
    OWN = "own", _("Own confirmed assessments")
    PARTNER = "partner", _("Partner list")
    IMPORT = "import", _("Imported list")
    NEGATIVE = "negative", _("Known benign (suppresses matches)")


class SignalType(models.TextChoices):
    MD5 = "md5", "MD5"
    SHA1 = "sha1", "SHA-1"
    SHA256 = "sha256", "SHA-256"
    PDQ = "pdq", "PDQ"
    VIDEO_MD5 = "video_md5", "video MD5"
    VPDQ = "vpdq", "vPDQ"


EXACT_SIGNALS = frozenset({SignalType.MD5, SignalType.SHA1, SignalType.SHA256, SignalType.VIDEO_MD5})


class Bank(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=BankKind.choices)
    trusted = models.BooleanField(
        _("trusted"), default=False, help_text=_("An exact match gives the media this bank's verdict."))
    shared_via_api = models.BooleanField(_("answer partner look-ups from this bank"), default=False)
    pdq_radius = models.PositiveSmallIntegerField(_("PDQ match distance"), default=31)
    provenance = models.TextField(_("provenance"), blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class EntryStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting a second analyst")
    ACTIVE = "active", _("Active")
    DISABLED = "disabled", _("Disabled")


# (from, to) -> the time field the move stamps. An own-bank entry waits for a second analyst; any entry can be
# disabled (again, with a new reason) as a false positive.
ENTRY_TRANSITIONS: states.Transitions = {
    (EntryStatus.PENDING, EntryStatus.ACTIVE): None,
    (EntryStatus.PENDING, EntryStatus.DISABLED): None,
    (EntryStatus.ACTIVE, EntryStatus.DISABLED): None,
    (EntryStatus.DISABLED, EntryStatus.DISABLED): None,
}


class EntryQuerySet(models.QuerySet["Entry"]):
    def matchable(self) -> EntryQuerySet:
        return self.filter(status=EntryStatus.ACTIVE, bank__is_active=True)


class Entry(models.Model):
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="entries")
    signal_type = models.CharField(max_length=10, choices=SignalType.choices)
    value = models.TextField()
    classification = models.CharField(_("classification (original scheme)"), max_length=40, blank=True)
    scheme = models.CharField(_("classification scheme"), max_length=40, blank=True)
    verdict = models.CharField(_("verdict (our codes)"), max_length=20, blank=True)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    source_id = models.CharField(max_length=200, blank=True)
    source_item = models.ForeignKey("reports.Item", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    extra = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=EntryStatus.choices, default=EntryStatus.ACTIVE)
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    disabled_reason = models.TextField(blank=True)

    objects: ClassVar[EntryQuerySet] = EntryQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bank", "signal_type", "value"], name="entry_unique_per_bank"),
        ]
        indexes = [
            # Exact matching: matchable().filter(signal_type=..., value__in=...).
            models.Index(fields=["signal_type", "value"], name="entry_signal_value_idx",
                         condition=models.Q(status="active")),
            # The four-eyes queue: pending entries, oldest first.
            models.Index(fields=["status", "added_at"], name="entry_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.signal_type}:{self.value[:16]}… in {self.bank_id}"


class IndexVersion(models.Model):
    """One row; bumped on every change that affects matching, so each process knows when its
    in-memory PDQ index is stale and rebuilds it before the next look-up."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"index version {self.version}"


class MediaMatch(models.Model):
    media = models.ForeignKey("evidence.Media", on_delete=models.CASCADE, related_name="matches")
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="matches")
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="+")
    signal_type = models.CharField(max_length=10, choices=SignalType.choices)
    distance = models.PositiveSmallIntegerField(default=0)
    matched_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["media", "entry"], name="match_unique_media_entry")]

    def __str__(self) -> str:
        return f"media {self.media_id} ~ entry {self.entry_id} ({self.signal_type} d={self.distance})"


def move_entry(query: models.QuerySet[Entry], to: str, *, now: datetime, strict: bool = True, **changes: Any) -> int:
    """The one way a hash entry changes status (see ENTRY_TRANSITIONS)."""
    return states.move(query, to, table=ENTRY_TRANSITIONS, now=now, field="status", strict=strict, **changes)
