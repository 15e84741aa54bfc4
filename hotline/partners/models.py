"""Partner directory (hotlines per country, police contacts) and the hotline-to-hotline exchange:
outbound messages, forwards with their status history, the inbound log and forwards received."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib import states
from hotline.lib.outbox import OutboxRow


class PartnerHotlineQuerySet(models.QuerySet["PartnerHotline"]):
    def serving(self, country: str) -> PartnerHotline | None:
        """The active hotline that serves a country (JSON containment works on both databases this way)."""
        for hotline in self.filter(active=True).order_by("pk"):
            if country.upper() in hotline.countries:
                return hotline
        return None


class PartnerHotline(models.Model):
    """A partner hotline: the countries it serves and how to reach its exchange endpoint."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    countries = models.JSONField(_("countries served"), default=list)
    endpoint = models.URLField(_("exchange endpoint"), blank=True)
    public_key = models.CharField(_("public key (Ed25519, base64)"), max_length=100, blank=True)
    languages = models.JSONField(_("languages"), default=list)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    objects = PartnerHotlineQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PoliceContact(models.Model):
    """A police unit the hotline refers to: the national unit or the international channel."""

    class Kind(models.TextChoices):
        NATIONAL = "national", _("National unit")
        INTERNATIONAL = "international", _("International channel")

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        HTTP = "http", _("HTTP endpoint")

    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2)
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    email = models.EmailField(_("e-mail"), blank=True)
    endpoint = models.URLField(_("endpoint"), blank=True)
    languages = models.JSONField(_("languages"), default=list)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["country", "kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.country}, {self.get_kind_display()})"


# ------------------------------------------------------------------ the exchange (docs/exchange.md)


class InvalidTransition(Exception):
    """A forward status change that the transition table does not allow."""


class ExchangeStatus(models.TextChoices):
    """What a partner tells us happened to an item we forwarded (and what we tell them)."""

    RECEIVED = "received", _("Received")
    ASSESSED = "assessed", _("Assessed illegal")
    NOTICE_SENT = "notice_sent", _("Notice sent to the provider")
    REMOVED = "removed", _("Removed")
    NOT_ILLEGAL = "not_illegal", _("Not illegal in their country")


class ForwardStatus(models.TextChoices):
    QUEUED = "queued", _("Queued for delivery")
    RECEIVED = "received", _("Received")
    ASSESSED = "assessed", _("Assessed illegal")
    NOTICE_SENT = "notice_sent", _("Notice sent to the provider")
    REMOVED = "removed", _("Removed")
    NOT_ILLEGAL = "not_illegal", _("Not illegal in their country")


_PARTNER_REPORTS = ("received", "assessed", "not_illegal", "notice_sent", "removed")
# The only status changes a forward makes; each names the time stamp it sets. Anything else a
# partner reports (late, repeated, out of order) is kept in the history without changing the status.
FORWARD_TRANSITIONS: dict[tuple[str, str], str] = {
    **{("queued", to): f"{to}_at" for to in _PARTNER_REPORTS},
    **{("received", to): f"{to}_at" for to in _PARTNER_REPORTS[1:]},
    ("assessed", "notice_sent"): "notice_sent_at",
    ("assessed", "removed"): "removed_at",
    ("assessed", "not_illegal"): "not_illegal_at",
    ("not_illegal", "assessed"): "assessed_at",
    ("notice_sent", "removed"): "removed_at",
}


class MessageKind(models.TextChoices):
    FORWARD = "forward", _("Forward")
    STATUS = "status", _("Status")
    ACK = "ack", _("Acknowledgement")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


# (from, to) -> the time field the move stamps. A message stays pending while it is sent (a claim is a
# lease on its due time: pending -> pending, as is a retry). A failed message may be sent again (requeue).
OUTBOUND_TRANSITIONS: states.Transitions = {
    (DeliveryState.PENDING, DeliveryState.PENDING): None,  # claimed, or a retry after the back-off
    (DeliveryState.PENDING, DeliveryState.DELIVERED): "delivered_at",
    (DeliveryState.PENDING, DeliveryState.FAILED): "failed_at",
    (DeliveryState.FAILED, DeliveryState.PENDING): None,
}


class OutboundMessageQuerySet(models.QuerySet["OutboundMessage"]):
    def due(self, now: datetime) -> OutboundMessageQuerySet:
        return self.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at", "pk")


class OutboundMessage(OutboxRow):
    """A message to a partner: a row first, sent by the worker after commit, retried with backoff.

    ``key`` is the idempotency key, sent as the protocol's message id (``message_id``): every attempt sends
    the same id, body and ``created_at``. ``next_attempt_at`` is the due time while pending (a lease while a
    worker sends it); None once delivered or failed.
    """

    transitions = OUTBOUND_TRANSITIONS
    # No separate sending state: a claimed message stays pending, leased by its due time.
    sending_state, retry_state, failed_state = DeliveryState.PENDING, DeliveryState.PENDING, DeliveryState.FAILED

    partner = models.ForeignKey(PartnerHotline, on_delete=models.PROTECT, related_name="outbound")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    body = models.JSONField()
    created_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)  # HOTLINE_EXCHANGE_MAX_ATTEMPTS has no upper bound
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)

    objects: ClassVar[OutboundMessageQuerySet] = OutboundMessageQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # The delivery worker: due().
            models.Index(fields=["next_attempt_at"], name="outbound_due_idx",
                         condition=models.Q(state="pending")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state="pending") | models.Q(next_attempt_at__isnull=True),
                name="outbound_due_only_when_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} to {self.partner_id}: {self.state}"

    @property
    def message_id(self) -> uuid.UUID:
        """The protocol's name for the key: the message id every copy of this message carries."""
        return self.key

    @classmethod
    def retry_policy(cls) -> tuple[timedelta, timedelta]:
        """The one back-off policy with the exchange's own base and cap (seconds, from settings): a partner's
        endpoint is a machine that usually recovers within seconds, so the first retries come quickly."""
        return (timedelta(seconds=settings.HOTLINE_EXCHANGE_RETRY_BASE_SECONDS),
                timedelta(seconds=settings.HOTLINE_EXCHANGE_RETRY_MAX_SECONDS))


class Forward(models.Model):
    """That we forwarded an item to a partner hotline, and what they told us since."""

    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="forwards")
    partner = models.ForeignKey(PartnerHotline, on_delete=models.PROTECT, related_name="forwards")
    message = models.OneToOneField(OutboundMessage, on_delete=models.PROTECT, related_name="forward")
    reference = models.CharField(_("our reference"), max_length=200)
    partner_reference = models.CharField(_("their reference"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=ForwardStatus.choices,
                              default=ForwardStatus.QUEUED)
    created_at = models.DateTimeField(_("forwarded at"))
    created_by = models.CharField(max_length=200)
    status_changed_at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)
    assessed_at = models.DateTimeField(null=True, blank=True)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    not_illegal_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # forward_item() is idempotent per (item, partner).
            models.UniqueConstraint(fields=["item", "partner"], name="forward_one_per_item_partner"),
        ]
        indexes = [
            # The forwards page: newest first.
            models.Index(fields=["-created_at"], name="forward_created_idx"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} -> {self.partner_id}: {self.status}"

    def transition(self, to: str, *, at: datetime) -> list[str]:
        """Move to ``to``; return the fields changed (for ``save(update_fields=...)``)."""
        stamp = FORWARD_TRANSITIONS.get((self.status, to))
        if stamp is None:
            raise InvalidTransition(f"forward {self.pk}: {self.status} -> {to} is not allowed")
        self.status = to
        self.status_changed_at = at
        setattr(self, stamp, at)
        return ["status", "status_changed_at", stamp]


class ForwardEvent(models.Model):
    """One status a partner reported for a forward (history; ``applied`` says whether it moved it)."""

    forward = models.ForeignKey(Forward, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=12, choices=ExchangeStatus.choices)
    at = models.DateTimeField(_("at the partner"))
    recorded_at = models.DateTimeField()
    message_id = models.UUIDField(null=True, blank=True)
    note = models.TextField(blank=True)
    applied = models.BooleanField(default=True)

    class Meta:
        ordering = ["recorded_at", "pk"]

    def __str__(self) -> str:
        return f"forward {self.forward_id}: {self.status}"


class InboundOutcome(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    DUPLICATE = "duplicate", _("Duplicate (answered again)")
    BAD_SIGNATURE = "bad_signature", _("Bad signature")
    UNKNOWN_SENDER = "unknown_sender", _("Unknown sender")
    REPLAY = "replay", _("Replay")
    BAD_SCHEMA = "bad_schema", _("Bad schema")


class InboundMessage(models.Model):
    """Every request to the exchange endpoint and what became of it (the inbound log).

    An accepted message keeps its answer, so a resend of the same id is answered identically.
    """

    received_at = models.DateTimeField()
    remote_addr = models.CharField(max_length=45, blank=True)
    sender_code = models.CharField(max_length=100, blank=True)
    partner = models.ForeignKey(PartnerHotline, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="inbound")
    message_id = models.UUIDField(null=True, blank=True)
    kind = models.CharField(max_length=10, blank=True)
    outcome = models.CharField(max_length=16, choices=InboundOutcome.choices)
    http_status = models.PositiveSmallIntegerField()
    field = models.CharField(max_length=200, blank=True)
    detail = models.TextField(blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    message = models.JSONField(null=True, blank=True)
    # The exact JSON text answered (text, not JSON: a resend gets the same bytes on every database).
    answer = models.TextField(blank=True)

    class Meta:
        constraints = [
            # One accepted message per (sender, id): a concurrent resend loses here and is a duplicate.
            models.UniqueConstraint(fields=["partner", "message_id"], condition=models.Q(outcome="accepted"),
                                    name="inbound_accepted_once"),
        ]
        indexes = [
            # The inbound log page: newest first, optionally by outcome.
            models.Index(fields=["-received_at"], name="inbound_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_code or '?'} {self.message_id or '-'}: {self.outcome}"


class InboundForwardQuerySet(models.QuerySet["InboundForward"]):
    def verdict_unreported(self) -> InboundForwardQuerySet:
        """Forwards whose item got a verdict after the last one we reported to the partner."""
        later = models.Q(item__assessed_at__gt=models.F("verdict_reported_for"))
        return self.filter(item__assessed_at__isnull=False, item__status__in=("assessed", "closed")).filter(
            models.Q(verdict_reported_for__isnull=True) | later)


class InboundForward(models.Model):
    """A forward a partner sent us: the report it became, and what we have told them since."""

    partner = models.ForeignKey(PartnerHotline, on_delete=models.PROTECT, related_name="inbound_forwards")
    message_id = models.UUIDField()
    report = models.ForeignKey("reports.Report", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="inbound_forwards")
    reference = models.CharField(_("their reference"), max_length=200)
    body = models.JSONField()
    received_at = models.DateTimeField()
    # The item's ``assessed_at`` whose verdict we last reported (verdict_status_step).
    verdict_reported_for = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[InboundForwardQuerySet] = InboundForwardQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "message_id"], name="inbound_forward_once"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.reference} -> item {self.item_id}"


def move_outbound(query: models.QuerySet[OutboundMessage], to: str, *, now: datetime, strict: bool = True,
                  **changes: Any) -> int:
    """The one way an exchange message changes state (see OUTBOUND_TRANSITIONS)."""
    return states.move(query, to, table=OUTBOUND_TRANSITIONS, now=now, strict=strict, **changes)
