"""Notice-and-takedown: one life cycle row per item, notices (rows before they are sent), per-contact
sending policy and escalation contacts, and information requests to companies."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib import states
from hotline.lib.outbox import OutboxRow
from hotline.reports.models import InvalidTransition, Item


class TakedownState(models.TextChoices):
    ONLINE = "online", _("Online")
    REMOVAL_PENDING = "removal_pending", _("Removal pending (misses being confirmed)")
    REMOVED = "removed", _("Removed")
    REAPPEARED = "reappeared", _("Reappeared (re-upload)")


ACTIVE_STATES = (TakedownState.ONLINE, TakedownState.REMOVAL_PENDING, TakedownState.REAPPEARED)
# Notices repeat only while the content is known to be there.
NOTICE_STATES = (TakedownState.ONLINE, TakedownState.REAPPEARED)

# The only life-cycle changes there are. The times that matter (removed_at = first confirming miss,
# reappeared_at) are stamped by the service, which knows them; state_changed_at is always stamped.
TAKEDOWN_TRANSITIONS: frozenset[tuple[str, str]] = frozenset({
    (TakedownState.ONLINE, TakedownState.REMOVAL_PENDING),
    (TakedownState.REAPPEARED, TakedownState.REMOVAL_PENDING),
    (TakedownState.REMOVAL_PENDING, TakedownState.ONLINE),
    (TakedownState.REMOVAL_PENDING, TakedownState.REMOVED),
    (TakedownState.REMOVED, TakedownState.REAPPEARED),
})


class TakedownQuerySet(models.QuerySet["Takedown"]):
    def active(self) -> TakedownQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def check_due(self, now: datetime) -> TakedownQuerySet:
        return self.filter(next_check_at__lte=now)

    def repeat_due(self, now: datetime) -> TakedownQuerySet:
        return self.filter(next_notice_at__lte=now)

    def escalation_due(self, now: datetime) -> TakedownQuerySet:
        return self.filter(next_escalation_at__lte=now, state__in=ACTIVE_STATES)


class Takedown(models.Model):
    """Where one item stands in notice-and-takedown, with the time each fact became true."""

    item = models.OneToOneField("reports.Item", on_delete=models.CASCADE, related_name="takedown")
    state = models.CharField(_("state"), max_length=16, choices=TakedownState.choices, default=TakedownState.ONLINE)
    state_changed_at = models.DateTimeField()
    opened_at = models.DateTimeField(_("opened"))
    reported_at = models.DateTimeField(_("first reported"))
    decision = models.ForeignKey("routing.Decision", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    contact = models.ForeignKey("tracing.AbuseContact", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="takedowns")
    provider = models.ForeignKey("tracing.Provider", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="takedowns")
    # Notices.
    first_notice_at = models.DateTimeField(_("first notice"), null=True, blank=True)
    last_notice_at = models.DateTimeField(_("last notice"), null=True, blank=True)
    notices_sent = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(_("repeat notices"), default=0)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    provider_removed_at = models.DateTimeField(_("provider says removed"), null=True, blank=True)
    # Liveness.
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_outcome = models.CharField(max_length=40, blank=True)
    checks = models.PositiveIntegerField(default=0)
    consecutive_misses = models.PositiveSmallIntegerField(default=0)
    first_miss_at = models.DateTimeField(null=True, blank=True)
    last_miss_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    # The first removal, kept when the content comes back and is removed again (statistics use it).
    first_removed_at = models.DateTimeField(_("first removed"), null=True, blank=True)
    removal_confirmed_at = models.DateTimeField(null=True, blank=True)
    reappeared_at = models.DateTimeField(_("reappeared"), null=True, blank=True)
    reuploads = models.PositiveIntegerField(_("re-uploads"), default=0)
    # Escalation.
    escalation_rung = models.PositiveSmallIntegerField(default=0)
    police_flagged_at = models.DateTimeField(_("flagged to police"), null=True, blank=True)
    managers_flagged_at = models.DateTimeField(_("flagged to managers"), null=True, blank=True)
    # Due times: the worker steps claim rows whose time has come (None = nothing to do).
    next_check_at = models.DateTimeField(null=True, blank=True)
    next_notice_at = models.DateTimeField(null=True, blank=True)
    next_escalation_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[TakedownQuerySet] = TakedownQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # check_due(): the liveness worker.
            models.Index(fields=["next_check_at"], name="takedown_check_due_idx",
                         condition=models.Q(next_check_at__isnull=False)),
            # repeat_due(): repeat notices.
            models.Index(fields=["next_notice_at"], name="takedown_repeat_due_idx",
                         condition=models.Q(next_notice_at__isnull=False)),
            # escalation_due(): the escalation ladder.
            models.Index(fields=["next_escalation_at"], name="takedown_escalation_due_idx",
                         condition=models.Q(next_escalation_at__isnull=False)),
            # Scorecards and non-responders: per contact / provider and state.
            models.Index(fields=["contact", "state"], name="takedown_contact_state_idx"),
            models.Index(fields=["provider", "state"], name="takedown_provider_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=TakedownState.values), name="takedown_state_valid"),
            models.CheckConstraint(
                condition=~models.Q(state=TakedownState.REMOVED) | models.Q(removed_at__isnull=False),
                name="takedown_removed_has_time"),
        ]

    def __str__(self) -> str:
        return f"takedown of item {self.item_id}: {self.state}"

    def transition(self, to: str, *, now: datetime) -> list[str]:
        """Move to state ``to``; return the fields changed (for ``save(update_fields=...)``)."""
        if (self.state, to) not in TAKEDOWN_TRANSITIONS:
            raise InvalidTransition(f"takedown of item {self.item_id}: {self.state} -> {to} is not allowed")
        self.state = to
        self.state_changed_at = now
        return ["state", "state_changed_at"]


class NoticeKind(models.TextChoices):
    FIRST = "first", _("First notice")
    REPEAT = "repeat", _("Repeat notice")
    ESCALATION = "escalation", _("Escalation notice")


class EscalationRole(models.TextChoices):
    NONE = "", _("The hosting provider")
    UPSTREAM = "upstream", _("Upstream network")
    REGISTRAR = "registrar", _("Registrar")
    SITE_OWNER = "site_owner", _("Site owner")


class NoticeState(models.TextChoices):
    BATCHING = "batching", _("Collecting items (batching window)")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (gave up)")
    CANCELLED = "cancelled", _("Cancelled (nothing left to send)")


OUTBOX_STATES = (NoticeState.BATCHING, NoticeState.QUEUED, NoticeState.SENDING)

# (from, to) -> the time field the move stamps. A new notice starts batching; the sender claims a due one
# (its lease may have run out: sending -> sending) and records the outcome.
NOTICE_TRANSITIONS: states.Transitions = {
    (NoticeState.BATCHING, NoticeState.QUEUED): None,  # the batch is full
    (NoticeState.BATCHING, NoticeState.SENDING): None,  # claimed (the batching window is over)
    (NoticeState.QUEUED, NoticeState.SENDING): None,
    (NoticeState.SENDING, NoticeState.SENDING): None,  # a dead sender's lease ran out
    (NoticeState.SENDING, NoticeState.SENT): "sent_at",
    (NoticeState.SENDING, NoticeState.QUEUED): None,  # a retry
    (NoticeState.SENDING, NoticeState.FAILED): None,
    (NoticeState.SENDING, NoticeState.CANCELLED): None,  # nothing left to send after the re-trace
}
# An information request's e-mails reuse the notice states: queued at once, never batching.
REQUEST_MESSAGE_TRANSITIONS: states.Transitions = {
    (NoticeState.QUEUED, NoticeState.SENDING): None,
    (NoticeState.SENDING, NoticeState.SENDING): None,
    (NoticeState.SENDING, NoticeState.SENT): "sent_at",
    (NoticeState.SENDING, NoticeState.QUEUED): None,
    (NoticeState.SENDING, NoticeState.FAILED): None,
    (NoticeState.QUEUED, NoticeState.CANCELLED): None,  # a reminder not needed any more
}


class NoticeQuerySet(models.QuerySet["Notice"]):
    def due(self, now: datetime) -> NoticeQuerySet:
        """Ready to send: the batching window (or the retry delay) is over, or a sender's lease ran out."""
        return self.filter(state__in=OUTBOX_STATES, next_attempt_at__lte=now)

    def open_batch(self, contact_id: int, kind: str, role: str) -> NoticeQuerySet:
        return self.filter(contact_id=contact_id, kind=kind, role=role, state=NoticeState.BATCHING)

    def bounced_to_current_address(self) -> NoticeQuerySet:
        """Per abuse contact its latest bounced notice, while the contact's address is still the one that
        bounced: an address someone has to fix (the non-responders page)."""
        latest = (Notice.objects.filter(contact=models.OuterRef("contact"), bounced_at__isnull=False)
                  .order_by("-bounced_at", "-pk").values("pk")[:1])
        return self.filter(bounced_at__isnull=False, pk=models.Subquery(latest),
                           recipient=models.F("contact__email"))


class Notice(OutboxRow):
    """One message to one abuse contact about one or more items. It exists, with its idempotency key,
    before anything is sent: the e-mail Message-ID and the API idempotency header derive from ``key``."""

    transitions = NOTICE_TRANSITIONS
    sending_state, retry_state, failed_state = NoticeState.SENDING, NoticeState.QUEUED, NoticeState.FAILED
    backoff_cap = timedelta(hours=6)

    kind = models.CharField(_("kind"), max_length=12, choices=NoticeKind.choices)
    role = models.CharField(_("addressed as"), max_length=12, choices=EscalationRole.choices, blank=True)
    contact = models.ForeignKey("tracing.AbuseContact", on_delete=models.PROTECT, related_name="notices")
    provider = models.ForeignKey("tracing.Provider", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="notices")
    channel = models.CharField(_("channel"), max_length=10)
    recipient = models.CharField(_("recipient"), max_length=300)
    language = models.CharField(_("language"), max_length=8)
    state = models.CharField(_("state"), max_length=10, choices=NoticeState.choices, default=NoticeState.BATCHING)
    created_at = models.DateTimeField(_("created"))
    retraced_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    bounce_reason = models.TextField(blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    removal_confirmed_at = models.DateTimeField(_("provider confirmed removal"), null=True, blank=True)
    items: models.ManyToManyField[Item, NoticeItem] = models.ManyToManyField(
        Item, through="NoticeItem", related_name="notices")

    objects: ClassVar[NoticeQuerySet] = NoticeQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # due(): the notice worker.
            models.Index(fields=["next_attempt_at"], name="notice_due_idx",
                         condition=models.Q(state__in=["batching", "queued", "sending"])),
            # open_batch(): one open batch per contact, kind and role.
            models.Index(fields=["contact", "kind", "role", "state"], name="notice_batch_idx"),
            # Scorecards: notices sent per contact.
            models.Index(fields=["contact", "sent_at"], name="notice_contact_sent_idx"),
            # bounced_to_current_address(): the few bounced notices, latest per contact.
            models.Index(fields=["contact", "bounced_at"], name="notice_bounced_idx",
                         condition=models.Q(bounced_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["contact", "kind", "role"], condition=models.Q(state="batching"),
                                    name="notice_one_open_batch"),
        ]

    def __str__(self) -> str:
        return f"notice {self.reference} to {self.recipient}"

    @property
    def reference(self) -> str:
        return f"N-{str(self.key)[:8].upper()}"


class NoticeItem(models.Model):
    """That a notice names an item, with the trace facts it states (IP and time) as they were sent."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="notice_lines")
    takedown = models.ForeignKey(Takedown, on_delete=models.CASCADE, related_name="notice_lines")
    trace = models.ForeignKey("tracing.Trace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    url = models.TextField()
    ip = models.CharField(max_length=45, blank=True)
    traced_at = models.DateTimeField(null=True, blank=True)
    added_at = models.DateTimeField()
    # Set when a re-trace just before sending showed another host: the item was re-routed instead.
    dropped_at = models.DateTimeField(null=True, blank=True)
    drop_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "item"], name="noticeitem_unique_pair"),
        ]
        indexes = [
            # The item page: notices of one item.
            models.Index(fields=["item", "notice"], name="noticeitem_item_idx"),
        ]

    def __str__(self) -> str:
        return f"notice {self.notice_id} -> item {self.item_id}"


class ContactPolicy(models.Model):
    """Per-contact sending rules: office-hours window, holidays, batching and template override."""

    contact = models.OneToOneField("tracing.AbuseContact", on_delete=models.CASCADE, related_name="takedown_policy")
    weekdays = models.JSONField(_("sending days (0 = Monday)"), default=list, blank=True)
    window_start = models.TimeField(_("window opens"), null=True, blank=True)
    window_end = models.TimeField(_("window closes"), null=True, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    holidays = models.JSONField(_("holidays (YYYY-MM-DD)"), default=list, blank=True)
    batch_minutes = models.PositiveIntegerField(_("batching window (minutes)"), null=True, blank=True)
    template = models.CharField(_("template set"), max_length=100, blank=True,
                                help_text=_("Directory under takedown/notices/ (default: the contact's language)."))

    class Meta:
        verbose_name_plural = _("contact policies")

    def __str__(self) -> str:
        return f"policy for contact {self.contact_id}"


class EscalationContact(models.Model):
    """Who to notify on an escalation rung: a provider's upstream, or a domain's registrar or site owner."""

    role = models.CharField(_("role"), max_length=12, choices=EscalationRole.choices[1:])
    provider = models.ForeignKey("tracing.Provider", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="escalation_contacts")
    domain = models.CharField(_("registered domain"), max_length=253, blank=True)
    contact = models.ForeignKey("tracing.AbuseContact", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(provider__isnull=True, domain=""),
                                   name="escalation_contact_has_scope"),
        ]
        indexes = [
            models.Index(fields=["role", "domain"], name="escalation_domain_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.domain or self.provider_id} -> {self.contact_id}"


class RequestKind(models.TextChoices):
    PRESERVATION = "preservation", _("Preservation of data")
    DISCLOSURE = "disclosure", _("Disclosure of data")


class OnBehalfOf(models.TextChoices):
    POLICE = "police", _("The police")
    HOTLINE = "hotline", _("The hotline")


class SubjectType(models.TextChoices):
    ACCOUNT = "account", _("Account")
    URL = "url", _("URL")


class RequestState(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    PARTIAL = "partial", _("Partially answered")
    REFUSED = "refused", _("Refused")
    NO_ANSWER = "no_answer", _("No answer")


ANSWER_STATES = (RequestState.ANSWERED, RequestState.PARTIAL, RequestState.REFUSED, RequestState.NO_ANSWER)
# (from, to) -> the time field the move stamps. An open request gets its answer; an answer can be corrected.
INFO_REQUEST_TRANSITIONS: states.Transitions = {
    (before, after): None for before in (RequestState.OPEN, *ANSWER_STATES) for after in ANSWER_STATES}


class InfoRequestQuerySet(models.QuerySet["InfoRequest"]):
    def open(self) -> InfoRequestQuerySet:
        return self.filter(state=RequestState.OPEN)

    def follow_up_due(self, now: datetime) -> InfoRequestQuerySet:
        return self.filter(state=RequestState.OPEN, next_follow_up_at__lte=now)


class InfoRequest(models.Model):
    """A request to a company to preserve or disclose data about an account or URL, until it is answered."""

    key = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=12, choices=RequestKind.choices)
    on_behalf_of = models.CharField(_("on behalf of"), max_length=8, choices=OnBehalfOf.choices)
    company = models.ForeignKey("tracing.Provider", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="info_requests")
    company_name = models.CharField(_("company"), max_length=200)
    email = models.EmailField(_("company's address for requests"))
    language = models.CharField(_("language"), max_length=8, default="en")
    subject_type = models.CharField(_("about"), max_length=8, choices=SubjectType.choices)
    subject = models.CharField(_("account or URL"), max_length=2000)
    item = models.ForeignKey("reports.Item", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="info_requests")
    legal_basis = models.TextField(_("legal basis"))
    police_reference = models.CharField(_("police reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    deadline_at = models.DateTimeField(_("deadline"))
    reminder_hours = models.PositiveIntegerField(_("remind every (hours)"), default=72)
    state = models.CharField(_("state"), max_length=10, choices=RequestState.choices, default=RequestState.OPEN)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    answer_note = models.TextField(_("answer"), blank=True)
    answered_via = models.CharField(max_length=10, blank=True)
    # When the next reminder or escalation is due (None once answered).
    next_follow_up_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[InfoRequestQuerySet] = InfoRequestQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # follow_up_due(): the information-request worker.
            models.Index(fields=["next_follow_up_at"], name="inforequest_followup_idx",
                         condition=models.Q(state="open")),
            models.Index(fields=["company", "state"], name="inforequest_company_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} to {self.company_name}"

    @property
    def reference(self) -> str:
        return f"R-{str(self.key)[:8].upper()}"


class RequestMessageKind(models.TextChoices):
    REQUEST = "request", _("Request")
    REMINDER = "reminder", _("Reminder")


class RequestMessageQuerySet(models.QuerySet["RequestMessage"]):
    def due(self, now: datetime) -> RequestMessageQuerySet:
        """Ready to send: queued and due (a retry's delay over), or a sender's lease ran out."""
        return self.filter(state__in=[NoticeState.QUEUED, NoticeState.SENDING], next_attempt_at__lte=now)


class RequestMessage(OutboxRow):
    """One outbound e-mail of an information request (the request or a reminder), a row before it is sent."""

    transitions = REQUEST_MESSAGE_TRANSITIONS
    sending_state, retry_state, failed_state = NoticeState.SENDING, NoticeState.QUEUED, NoticeState.FAILED
    backoff_cap = timedelta(hours=6)

    request = models.ForeignKey(InfoRequest, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=10, choices=RequestMessageKind.choices)
    number = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=10, choices=NoticeState.choices, default=NoticeState.QUEUED)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[RequestMessageQuerySet] = RequestMessageQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], name="requestmessage_due_idx",
                         condition=models.Q(state__in=["queued", "sending"])),
        ]
        constraints = [
            models.UniqueConstraint(fields=["request", "kind", "number"], name="requestmessage_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.number} of {self.request_id}"


def move_notice(query: models.QuerySet[Notice], to: str, *, now: datetime, strict: bool = True,
                **changes: Any) -> int:
    """The one way a notice changes state (see NOTICE_TRANSITIONS)."""
    return states.move(query, to, table=NOTICE_TRANSITIONS, now=now, strict=strict, **changes)


def move_request_message(query: models.QuerySet[RequestMessage], to: str, *, now: datetime, strict: bool = True,
                         **changes: Any) -> int:
    """The one way an information request's e-mail changes state (see REQUEST_MESSAGE_TRANSITIONS)."""
    return states.move(query, to, table=REQUEST_MESSAGE_TRANSITIONS, now=now, strict=strict, **changes)


def move_info_request(query: models.QuerySet[InfoRequest], to: str, *, now: datetime, strict: bool = True,
                      **changes: Any) -> int:
    """The one way an information request changes state (see INFO_REQUEST_TRANSITIONS)."""
    return states.move(query, to, table=INFO_REQUEST_TRANSITIONS, now=now, strict=strict, **changes)
