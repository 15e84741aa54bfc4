"""E-mail intake: the allow-list of senders, every mail received with its outcome, and the mailbox's poll state."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import ClassVar

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from hotline.reports.models import Source

# The report sources an allow-listed sender can have (the others belong to other channels).
SENDER_SOURCES = [(s.value, s.label) for s in (Source.PARTNER, Source.POLICE, Source.INDUSTRY, Source.EMAIL)]


class TrustMethod(models.TextChoices):
    AUTH_RESULTS = "auth", _("Authentication results of our mail server")
    TOKEN = "token", _("Sender token in subject or body")
    EITHER = "either", _("Authentication results or token")
    BOTH = "both", _("Authentication results and token")


class AllowedSender(models.Model):
    """An address whose mails become reports, once the mail also passes the sender's trust method.

    The token is stored as a SHA-256 (it has 192 random bits, so no slow hash is needed) and shown once.
    """

    address = models.CharField(_("e-mail address"), max_length=320, unique=True)
    organisation = models.CharField(_("organisation"), max_length=200)
    source = models.CharField(_("report source"), max_length=20, choices=SENDER_SOURCES)
    trust_method = models.CharField(_("trust method"), max_length=10, choices=TrustMethod.choices,
                                    default=TrustMethod.AUTH_RESULTS)
    token_hash = models.CharField(max_length=64, blank=True)
    token_issued_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(address=Lower("address")),
                                   name="allowedsender_address_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.organisation})"

    @property
    def needs_token(self) -> bool:
        return self.trust_method in (TrustMethod.TOKEN, TrustMethod.EITHER, TrustMethod.BOTH)

    @property
    def needs_auth(self) -> bool:
        return self.trust_method in (TrustMethod.AUTH_RESULTS, TrustMethod.EITHER, TrustMethod.BOTH)

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(24)


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted: report created")
    NO_URLS = "no_urls", _("Trusted sender, but no valid URL")
    UNKNOWN_SENDER = "unknown_sender", _("Unknown sender")
    UNAUTHENTICATED = "unauthenticated", _("Sender not authenticated")
    DUPLICATE = "duplicate", _("Duplicate of an accepted mail")
    MALFORMED = "malformed", _("Malformed mail")
    TOO_LARGE = "too_large", _("Too large to read")


class InboundMail(models.Model):
    """One mail as received: the original bytes (encrypted, as evidence), what was found and what came of it.

    ``sha256`` of the original bytes is the idempotency key: the same mail seen twice is recorded once.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    blob = models.ForeignKey("evidence.Blob", on_delete=models.PROTECT, related_name="+")
    size = models.PositiveBigIntegerField()
    message_id = models.CharField(_("message id"), max_length=500, blank=True)
    sender = models.CharField(_("sender (From)"), max_length=320, blank=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    allowed_sender = models.ForeignKey(AllowedSender, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="mails")
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    trusted_by = models.JSONField(default=list, blank=True)  # e.g. ["dkim=pass (partner.example)", "token"]
    errors = models.JSONField(default=list, blank=True)  # [{"where", "field", "message", "value"}]
    parts = models.JSONField(default=list, blank=True)  # MIME structure, never content
    url_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    report = models.ForeignKey("reports.Report", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    mailbox = models.CharField(max_length=300, blank=True)
    mailbox_ref = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered"))
    received_at = models.DateTimeField(_("processed"))

    class Meta:
        indexes = [
            # The mail list, newest first, optionally by outcome.
            models.Index(fields=["-received_at"], name="inboundmail_received_idx"),
            models.Index(fields=["outcome", "-received_at"], name="inboundmail_outcome_idx"),
            # Duplicate check: an accepted mail with this Message-ID from this sender.
            models.Index(fields=["allowed_sender", "message_id"], name="inboundmail_msgid_idx",
                         condition=models.Q(outcome="accepted")),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome="accepted", report__isnull=False)
                                   | ~models.Q(outcome="accepted"), name="inboundmail_accepted_has_report"),
        ]

    def __str__(self) -> str:
        return f"mail {self.pk} from {self.sender or '?'}: {self.outcome}"


class MailboxStateQuerySet(models.QuerySet["MailboxState"]):
    def claimable(self, now: datetime, *, force: bool = False) -> MailboxStateQuerySet:
        free = models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now)
        return self.filter(free) if force else self.filter(free, next_poll_at__lte=now)


class MailboxState(models.Model):
    """When a mailbox is polled next, and by whom now: a lease taken with a conditional UPDATE,
    so two workers never read the same mailbox at once."""

    key = models.CharField(max_length=300, unique=True)  # the mailbox URL without any secret
    next_poll_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failures = models.PositiveIntegerField(default=0)

    objects: ClassVar[MailboxStateQuerySet] = MailboxStateQuerySet.as_manager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.key
