"""Reports as received, and the items (one per distinct canonical URL) they name."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib.fields import EncryptedTextField
from hotline.lib.states import InvalidTransition as InvalidTransition  # one exception for every transition table


class Source(models.TextChoices):
    PUBLIC = "public", _("Public")
    PARTNER = "partner", _("Partner hotline")
    INDUSTRY = "industry", _("Industry")
    POLICE = "police", _("Police")
    EMAIL = "email", _("E-mail")
    CSV = "csv", _("CSV import")
    ICCAM = "iccam", _("ICCAM")


class ReportKind(models.TextChoices):
    """What a report is about: web addresses (the URL queue), or a harm without a URL (the support queue)."""

    URL = "url", _("Web addresses")
    SEXTORTION = "sextortion", _("Sextortion")
    GROOMING = "grooming", _("Grooming")
    SOLICITATION = "solicitation", _("Asked for sexual images")


# Kinds that never name a URL: they create an ``assessment.Incident``, never an ``Item``.
NO_URL_KINDS = frozenset({ReportKind.SEXTORTION, ReportKind.GROOMING, ReportKind.SOLICITATION})


PRIORITY_SOURCES = frozenset({Source.PARTNER, Source.POLICE})

# Crockford base32 without look-alikes: codes are read aloud and typed by reporters.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """A random public reference such as ``HL-7QK2-M9XD-4TRA`` (60 bits)."""
    bits = secrets.randbits(60)  # 12 characters of 5 bits each (the alphabet has 32)
    chars = "".join([_CODE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(12)])
    return f"HL-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


# What people type for the letters the alphabet leaves out (Crockford's decoding rules).
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalize_reference(typed: str) -> str:
    """The reference as stored, from what a reporter typed.

    Accepts lower case, spaces, dots, missing or extra dashes, and O for 0 or I/L for 1
    (the alphabet has none of O, I, L). Without the ``HL`` prefix the twelve characters are
    enough. Anything that is not a reference comes back upper-cased and unmatched.
    """
    compact = "".join(ch for ch in typed.upper() if ch.isalnum() and ch.isascii())
    body = compact[2:] if len(compact) == 14 and compact.startswith("HL") else compact
    body = body.translate(_LOOK_ALIKES)
    if len(body) != 12 or any(ch not in _CODE_ALPHABET for ch in body):
        return typed.strip().upper()
    return f"HL-{body[:4]}-{body[4:8]}-{body[8:]}"


class Report(models.Model):
    """One report as it arrived: who sent it, when, and the URLs it named."""

    reference = models.CharField(_("reference"), max_length=20, unique=True, default=new_reference)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=ReportKind.choices, default=ReportKind.URL)
    received_at = models.DateTimeField(_("received at"))
    language = models.CharField(_("language"), max_length=8, blank=True)
    text = models.TextField(_("description"), blank=True)
    reporter_contact = EncryptedTextField(_("reporter contact"), blank=True)
    external_ref = models.CharField(_("sender's reference"), max_length=200, blank=True)
    api_client = models.ForeignKey(
        "accounts.ApiClient", null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    url_count = models.PositiveIntegerField(default=0)
    items: models.ManyToManyField[Item, ReportItem] = models.ManyToManyField(
        "Item", through="ReportItem", related_name="reports"
    )

    class Meta:
        indexes = [
            # Statistics by period and source: reports received between two dates.
            models.Index(fields=["received_at", "source"], name="report_received_source_idx"),
        ]

    def __str__(self) -> str:
        return self.reference


class ItemStatus(models.TextChoices):
    NEW = "new", _("Received, awaiting capture")
    CAPTURED = "captured", _("Captured, awaiting assessment")
    UNREACHABLE = "unreachable", _("Unreachable, awaiting assessment")
    IN_REVIEW = "in_review", _("Awaiting second review")
    ASSESSED = "assessed", _("Assessed")
    CLOSED = "closed", _("Closed")


AWAITING_ASSESSMENT = frozenset({ItemStatus.CAPTURED, ItemStatus.UNREACHABLE})
# Statuses in which the capture worker (re)captures a due item: a failed capture is "unreachable"
# at once (so it shows in the queue) while its retries still run.
CAPTURABLE = frozenset({ItemStatus.NEW, ItemStatus.UNREACHABLE})

# The only status changes there are; each names the time stamp it sets.
TRANSITIONS: dict[tuple[str, str], str] = {
    (ItemStatus.NEW, ItemStatus.CAPTURED): "captured_at",
    (ItemStatus.NEW, ItemStatus.UNREACHABLE): "unreachable_at",
    (ItemStatus.UNREACHABLE, ItemStatus.CAPTURED): "captured_at",
    (ItemStatus.CAPTURED, ItemStatus.ASSESSED): "assessed_at",
    (ItemStatus.CAPTURED, ItemStatus.IN_REVIEW): "review_requested_at",
    (ItemStatus.UNREACHABLE, ItemStatus.ASSESSED): "assessed_at",
    (ItemStatus.UNREACHABLE, ItemStatus.IN_REVIEW): "review_requested_at",
    (ItemStatus.IN_REVIEW, ItemStatus.ASSESSED): "assessed_at",
    (ItemStatus.ASSESSED, ItemStatus.IN_REVIEW): "review_requested_at",
    (ItemStatus.ASSESSED, ItemStatus.CLOSED): "closed_at",
    (ItemStatus.CLOSED, ItemStatus.NEW): "reopened_at",
    # Removed content that comes back (a re-upload): its verdict stands, the takedown starts again.
    (ItemStatus.CLOSED, ItemStatus.ASSESSED): "reopened_at",
    # The known content its verdict was inherited from turned out wrong (hashes.trust): a person decides again.
    (ItemStatus.CLOSED, ItemStatus.IN_REVIEW): "review_requested_at",
}


class ItemQuerySet(models.QuerySet["Item"]):
    def awaiting_assessment(self) -> ItemQuerySet:
        return self.filter(status__in=AWAITING_ASSESSMENT).order_by("-priority", "first_reported_at", "pk")

    def capture_due(self, now: datetime) -> ItemQuerySet:
        return self.filter(status__in=CAPTURABLE, next_capture_at__lte=now).order_by("next_capture_at", "pk")

    def awaiting_review(self) -> ItemQuerySet:
        return self.filter(status=ItemStatus.IN_REVIEW).order_by(
            "-priority", "review_requested_at", "pk"
        )

    def claim_expired(self, now: datetime) -> ItemQuerySet:
        return self.filter(claimed_by__isnull=False, claim_expires_at__lt=now)


class Item(models.Model):
    """One reported resource: every report naming the same canonical URL lands here."""

    raw_url = models.TextField(_("URL as first received"))
    canonical_url = models.TextField(_("canonical URL"))
    # Unique by a constraint, not ``unique=True``: on PostgreSQL the field option also builds a second,
    # ``varchar_pattern_ops`` index for LIKE queries, which a SHA-256 key never gets (and intake paid for).
    dedup_key = models.CharField(max_length=64)
    host = models.CharField(_("host"), max_length=255)
    status = models.CharField(
        _("status"), max_length=20, choices=ItemStatus.choices, default=ItemStatus.NEW
    )
    verdict = models.CharField(_("verdict"), max_length=20, blank=True)
    report_count = models.PositiveIntegerField(_("reports"), default=1)
    # Earlier items whose media re-appear here (known content at a new URL).
    reupload_of = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="reuploads")
    priority = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    first_reported_at = models.DateTimeField(_("first reported"))
    last_reported_at = models.DateTimeField(_("last reported"))
    status_changed_at = models.DateTimeField()
    captured_at = models.DateTimeField(null=True, blank=True)
    unreachable_at = models.DateTimeField(null=True, blank=True)
    # Capture scheduling: due time (None = nothing to do) and attempts so far.
    next_capture_at = models.DateTimeField(null=True, blank=True)
    capture_attempts = models.PositiveSmallIntegerField(default=0)
    assessed_at = models.DateTimeField(null=True, blank=True)
    review_requested_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[ItemQuerySet] = ItemQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # The analyst queue and review queue: awaiting_assessment(), awaiting_review().
            models.Index(
                fields=["status", "-priority", "first_reported_at"], name="item_queue_idx"
            ),
            # Expired claims swept by the worker: claim_expired().
            models.Index(fields=["claim_expires_at"], name="item_claim_expiry_idx",
                         condition=models.Q(claimed_by__isnull=False)),
            # The capture worker: capture_due().
            models.Index(fields=["next_capture_at"], name="item_capture_due_idx",
                         condition=models.Q(next_capture_at__isnull=False)),
            # "Everything on this site" lists and later per-host tracing.
            models.Index(fields=["host"], name="item_host_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dedup_key"], name="item_dedup_key_unique"),
            models.CheckConstraint(condition=models.Q(report_count__gte=1), name="item_report_count_positive"),
            models.CheckConstraint(
                condition=models.Q(claimed_by__isnull=True, claim_expires_at__isnull=True)
                | models.Q(claimed_by__isnull=False, claim_expires_at__isnull=False),
                name="item_claim_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.canonical_url[:80]}"

    def transition(self, to: str, *, now: datetime) -> list[str]:
        """Move to status ``to``; return the fields changed (for ``save(update_fields=...)``)."""
        stamp = TRANSITIONS.get((self.status, to))
        if stamp is None:
            raise InvalidTransition(f"item #{self.pk}: {self.status} -> {to} is not allowed")
        self.status = to
        self.status_changed_at = now
        setattr(self, stamp, now)
        return ["status", "status_changed_at", stamp]

    def is_claimed_by(self, user_id: int | None, now: datetime) -> bool:
        return (
            self.claimed_by_id is not None
            and self.claimed_by_id == user_id
            and self.claim_expires_at is not None
            and self.claim_expires_at > now
        )


class ReportItem(models.Model):
    """That a report named an item, and how it wrote the URL."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="links")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="links")
    raw_url = models.TextField()
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "item"], name="reportitem_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"report {self.report_id} -> item {self.item_id}"


class Submission(models.Model):
    """An API batch, kept so that a resend with the same id returns the same answer."""

    api_client = models.ForeignKey("accounts.ApiClient", on_delete=models.PROTECT, related_name="+")
    submission_id = models.CharField(max_length=100)
    body_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    # The 200 answer as JSON text, without "replayed": stored as written (a jsonb column parsed about 1 MB
    # per 5,000-URL batch, a tenth of the database's intake CPU), read back only for a replay.
    result = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "submission_id"], name="submission_unique_per_client"
            ),
        ]

    def __str__(self) -> str:
        return self.submission_id
