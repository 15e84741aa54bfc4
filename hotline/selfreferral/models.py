"""Self-referrals: a young person's request to find and remove their own images, known to us only by
hashes computed on their device; each referral's hashes are entries of the self-referral bank."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib import states
from hotline.lib.fields import EncryptedTextField

BANK_NAME = "Self-referral (young people)"
CLASSIFICATION = "self_referral"
# Crockford base32 without look-alikes (as report references): the code is typed by its owner.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A random anonymous code such as ``SR-7QK2-M9XD-4TRA-K2P9`` (80 bits: it is the only credential)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return f"SR-{chars[:4]}-{chars[4:8]}-{chars[8:12]}-{chars[12:]}"


def normalize_code(typed: str) -> str:
    """The code as issued, from what its owner typed (case, spaces, dashes, O/I/L look-alikes)."""
    compact = "".join(ch for ch in typed.upper() if ch.isalnum() and ch.isascii())
    body = (compact[2:] if len(compact) == 18 and compact.startswith("SR") else compact).translate(_LOOK_ALIKES)
    if len(body) != 16 or any(ch not in _ALPHABET for ch in body):
        return ""
    return f"SR-{body[:4]}-{body[4:8]}-{body[8:12]}-{body[12:]}"


def code_digest(code: str) -> str:
    """What we store instead of the code: a database leak must not let anyone open a status page."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


class ReferralStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Waiting for a first analyst")
    FIRST_CONFIRMED = "first_confirmed", _("Waiting for a second analyst")
    CONFIRMED = "confirmed", _("Confirmed: searching")
    REJECTED = "rejected", _("Not accepted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# (from, to) -> the time field the move stamps. Four eyes: two different analysts confirm; either may reject.
TRANSITIONS: states.Transitions = {
    (ReferralStatus.SUBMITTED, ReferralStatus.FIRST_CONFIRMED): "first_confirmed_at",
    (ReferralStatus.FIRST_CONFIRMED, ReferralStatus.CONFIRMED): "confirmed_at",
    (ReferralStatus.SUBMITTED, ReferralStatus.REJECTED): "closed_at",
    (ReferralStatus.FIRST_CONFIRMED, ReferralStatus.REJECTED): "closed_at",
    (ReferralStatus.SUBMITTED, ReferralStatus.WITHDRAWN): "closed_at",
    (ReferralStatus.FIRST_CONFIRMED, ReferralStatus.WITHDRAWN): "closed_at",
    (ReferralStatus.CONFIRMED, ReferralStatus.WITHDRAWN): "closed_at",
}
AWAITING = (ReferralStatus.SUBMITTED, ReferralStatus.FIRST_CONFIRMED)


class ReferralQuerySet(models.QuerySet["Referral"]):
    def awaiting_confirmation(self) -> ReferralQuerySet:
        return self.filter(status__in=AWAITING).order_by("submitted_at", "pk")

    def scan_due(self, now: datetime) -> ReferralQuerySet:
        return self.filter(status=ReferralStatus.CONFIRMED, scan_due_at__lte=now).order_by("scan_due_at", "pk")


class Referral(models.Model):
    code_digest = models.CharField(max_length=64, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=ReferralStatus.choices,
                              default=ReferralStatus.SUBMITTED)
    language = models.CharField(max_length=8, blank=True)
    contact_email = EncryptedTextField(_("e-mail (optional)"), blank=True)
    submitted_at = models.DateTimeField(_("submitted"))
    first_confirmed_at = models.DateTimeField(null=True, blank=True)
    first_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(blank=True)
    # Matching what was captured before the confirmation (and video frames, which the capture matcher
    # does not look at): media with a larger pk than scanned_through are still to be scanned.
    scanned_through = models.BigIntegerField(default=0)
    scan_due_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[ReferralQuerySet] = ReferralQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # awaiting_confirmation(): the analysts' queue.
            models.Index(fields=["status", "submitted_at"], name="selfref_status_idx"),
            # scan_due(): the scan worker.
            models.Index(fields=["scan_due_at"], name="selfref_scan_due_idx",
                         condition=models.Q(scan_due_at__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ReferralStatus.values), name="selfref_status_valid"),
        ]

    def __str__(self) -> str:
        return f"self-referral {self.pk} ({self.status})"


class ReferralHash(models.Model):
    """One hash a referral sent, and the bank entry that holds it (shared when two referrals send the
    same file: the bank holds each value once)."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="hashes")
    entry = models.ForeignKey("hashes.Entry", on_delete=models.PROTECT, related_name="+")
    file_index = models.PositiveSmallIntegerField()
    media_kind = models.CharField(max_length=8)
    signal_type = models.CharField(max_length=10)
    frame_time = models.FloatField(null=True, blank=True)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["referral", "entry"], name="selfref_hash_unique")]

    def __str__(self) -> str:
        return f"{self.signal_type} of file {self.file_index} in referral {self.referral_id}"


def move_referral(query: models.QuerySet[Referral], to: str, *, now: datetime, strict: bool = True,
                  **changes: Any) -> int:
    """The one way a referral changes status (see TRANSITIONS)."""
    return states.move(query, to, table=TRANSITIONS, now=now, field="status", strict=strict, **changes)
