"""Evidence: encrypted content-addressed blobs, captures of items, and the media found in them."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib.fields import EncryptedTextField
from hotline.reports.models import CAPTURABLE


class Blob(models.Model):
    """One stored file, encrypted at rest. The same content is stored once (by SHA-256).

    ``wrapped_key`` is the blob's own AES-256 data key, encrypted with the store master key
    ``key_id``; rotating the master key re-wraps these rows and never touches the stored bytes.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    storage_name = models.CharField(max_length=128, unique=True)
    key_id = models.CharField(max_length=32)
    wrapped_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Key rotation: blobs still wrapped with an old master key.
            models.Index(fields=["key_id"], name="blob_key_id_idx"),
        ]

    def __str__(self) -> str:
        return f"blob {self.sha256[:12]}… ({self.size} bytes)"


class CaptureOutcome(models.TextChoices):
    CAPTURED = "captured", _("Captured")
    FAILED = "failed", _("Failed")


class CaptureQuerySet(models.QuerySet["Capture"]):
    def screenshot_due(self, now: datetime) -> CaptureQuerySet:
        return self.filter(screenshot_due_at__lte=now).order_by("screenshot_due_at", "pk")


class Capture(models.Model):
    """One attempt to capture an item: the page, its media, and a WARC file of every exchange."""

    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="captures")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=CaptureOutcome.choices)
    requested_url = models.TextField()
    final_url = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    peer_ip = models.GenericIPAddressField(null=True, blank=True)
    page_mime = models.CharField(max_length=100, blank=True)
    redirects = models.JSONField(default=list, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_reason = models.TextField(blank=True)
    reason_code = models.CharField(max_length=32, blank=True, help_text="DOMAIN §3 unavailable reason")
    media_found = models.PositiveIntegerField(default=0)
    warc = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Set when the media of this capture were matched against the hash banks (hashes.match_step);
    # ``known_verdict`` is the inherited verdict when every good media file is known content.
    matched_at = models.DateTimeField(null=True, blank=True)
    known_verdict = models.CharField(max_length=20, blank=True)
    # A readable text extract of the page (hotline.lib.pagetext), encrypted like other evidence;
    # ``page_links`` holds one absolute URL a line.
    page_title = EncryptedTextField(blank=True)
    page_text = EncryptedTextField(blank=True)
    page_links = EncryptedTextField(blank=True)
    # A screenshot rendered from the WARC (evidence.screenshot): due while ``screenshot_due_at``
    # is set; ``screenshot_error`` says why there is none.
    screenshot = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    screenshot_due_at = models.DateTimeField(null=True, blank=True)
    screenshot_error = models.CharField(max_length=300, blank=True)
    # Times the browser went away under this capture's screenshot (retried up to BROWSER_ATTEMPTS in all).
    screenshot_browser_gone = models.PositiveSmallIntegerField(default=0)

    objects: ClassVar[CaptureQuerySet] = CaptureQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # The screenshot worker: captures whose screenshot is due (screenshot_due()).
            models.Index(fields=["screenshot_due_at"], name="capture_screenshot_due_idx",
                         condition=models.Q(screenshot_due_at__isnull=False)),
            # The item page and the evidence export: captures of one item, newest first.
            models.Index(fields=["item", "-started_at"], name="capture_item_idx"),
            # The match worker: captures whose media still wait for matching.
            models.Index(fields=["started_at"], name="capture_match_due_idx",
                         condition=models.Q(matched_at__isnull=True, outcome="captured")),
        ]

    def __str__(self) -> str:
        return f"capture {self.pk} of item {self.item_id}: {self.outcome}"

    @property
    def failed(self) -> bool:
        return self.outcome == CaptureOutcome.FAILED

    @property
    def link_list(self) -> list[str]:
        return [line for line in self.page_links.splitlines() if line]

    @property
    def redirect_hops(self) -> list[tuple[str, int | None, str]]:
        """``(url, status, ip)`` of each URL that answered with a redirect, in order."""
        hops: list[tuple[str, int | None, str]] = []
        for hop in self.redirects or []:
            values = list(hop.values()) if isinstance(hop, dict) else list(hop)
            status = values[1] if len(values) > 1 and isinstance(values[1], int) else None
            hops.append((str(values[0]) if values else "", status, str(values[2]) if len(values) > 2 else ""))
        return hops

    @property
    def next_retry_at(self) -> datetime | None:
        """When the capture is tried again, if this is the item's newest failed capture."""
        item = self.item
        if not self.failed or item.status not in CAPTURABLE:
            return None
        return item.next_capture_at


class MediaKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    OTHER = "other", _("Other")


class Media(models.Model):
    """One media file found in a capture, with its hashes; the bytes live in an encrypted blob."""

    capture = models.ForeignKey(Capture, on_delete=models.CASCADE, related_name="media")
    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="media")
    url = models.TextField()
    blob = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="media")
    kind = models.CharField(max_length=10, choices=MediaKind.choices)
    mime = models.CharField(_("type (sniffed)"), max_length=100, blank=True)
    declared_mime = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    md5 = models.CharField(max_length=32, blank=True)
    sha1 = models.CharField(max_length=40, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    frames = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    pdq = models.CharField(max_length=64, blank=True)
    pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    vpdq = models.JSONField(default=list, blank=True)
    is_bad = models.BooleanField(default=False)
    bad_reason = models.TextField(blank=True)
    fetched_at = models.DateTimeField()
    # Known content: the verdict inherited from a trusted bank's exact match, and from where.
    inherited_verdict = models.CharField(max_length=20, blank=True)
    inherited_from = models.CharField(max_length=300, blank=True)
    # What the file's own metadata says about how it was made (evidence/provenance.py): a hint for the
    # analyst, never a verdict. ``ai_hint``: the metadata says generated by a model (or a known generator).
    provenance = models.JSONField(default=dict, blank=True)
    ai_hint = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # Hash look-ups: "have we seen this file before?" (known content, re-uploads).
            models.Index(fields=["sha256"], name="media_sha256_idx"),
            models.Index(fields=["md5"], name="media_md5_idx"),
            # The item page lists the media of its newest capture.
            models.Index(fields=["item", "capture"], name="media_item_capture_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["capture", "url"], name="media_unique_url_per_capture"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12] or '(bad)'} in capture {self.capture_id}"


class Exposure(models.Model):
    """How long one analyst had media pages open on one day (analyst welfare, DOMAIN.md §2)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exposures")
    day = models.DateField()
    seconds = models.PositiveIntegerField(default=0)
    reveals = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField()
    streak_started_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="exposure_one_row_per_user_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.seconds}s"
