"""Hash banks: lists of known hashes with provenance, entries with per-entry disable and four-eyes
confirmation, and the matches found for captured media."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from hotline.lib import prepared, states


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
    # Flood quarantine: an entry matching more than ``flood_items`` distinct items, or media on more than
    # ``flood_hosts`` hosts, within ``flood_window_hours`` is quarantined (its matches become suggestions).
    flood_items = models.PositiveIntegerField(_("quarantine above this many items"), default=50)
    flood_hosts = models.PositiveIntegerField(_("quarantine above this many hosts"), default=20)
    flood_window_hours = models.PositiveIntegerField(_("flood window (hours)"), default=24)
    # Votes: an entry of a third-party bank rejected by this many analysts is quarantined.
    reject_threshold = models.PositiveSmallIntegerField(_("quarantine at this many rejections"), default=2)

    def __str__(self) -> str:
        return self.name


class EntryStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting a second analyst")
    ACTIVE = "active", _("Active")
    DISABLED = "disabled", _("Disabled")
    QUARANTINED = "quarantined", _("Quarantined (matches are only suggestions)")


# (from, to) -> the time field the move stamps. An own-bank entry waits for a second analyst; any entry can be
# disabled (again, with a new reason) as a false positive. An active entry that floods or is voted down is
# quarantined until a senior analyst confirms it (back to active) or disables it.
ENTRY_TRANSITIONS: states.Transitions = {
    (EntryStatus.PENDING, EntryStatus.ACTIVE): None,
    (EntryStatus.PENDING, EntryStatus.DISABLED): None,
    (EntryStatus.ACTIVE, EntryStatus.DISABLED): None,
    (EntryStatus.DISABLED, EntryStatus.DISABLED): None,
    (EntryStatus.ACTIVE, EntryStatus.QUARANTINED): "quarantined_at",
    (EntryStatus.QUARANTINED, EntryStatus.ACTIVE): "flood_cleared_at",
    (EntryStatus.QUARANTINED, EntryStatus.DISABLED): None,
}
# Entries that still match: quarantined ones too, but their hits never give a verdict.
MATCHING = (EntryStatus.ACTIVE, EntryStatus.QUARANTINED)


class EntryQuerySet(models.QuerySet["Entry"]):
    def matchable(self) -> EntryQuerySet:
        return self.filter(status__in=MATCHING, bank__is_active=True)


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
    status = models.CharField(max_length=12, choices=EntryStatus.choices, default=EntryStatus.ACTIVE)
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    disabled_reason = models.TextField(blank=True)
    quarantined_at = models.DateTimeField(null=True, blank=True)
    # A senior analyst confirmed the entry after a quarantine: the flood window counts from here.
    flood_cleared_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[EntryQuerySet] = EntryQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bank", "signal_type", "value"], name="entry_unique_per_bank"),
        ]
        indexes = [
            # Exact matching: matchable().filter(signal_type=..., value__in=...).
            models.Index(fields=["signal_type", "value"], name="entry_signal_value_idx",
                         condition=models.Q(status__in=["active", "quarantined"])),
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


class WithdrawalKind(models.TextChoices):
    DISABLED = "disabled", _("Entry disabled")
    OVERRULED = "overruled", _("Inherited verdict overruled")
    DEMOTED = "demoted", _("Bank demoted")
    QUARANTINED = "quarantined", _("Entry quarantined")


class MediaMatchQuerySet(models.QuerySet["MediaMatch"]):
    def supports(self) -> MediaMatchQuerySet:
        """The matches inherited verdicts rest on now."""
        return self.filter(inherited=True, withdrawn_at__isnull=True)


class MediaMatch(models.Model):
    media = models.ForeignKey("evidence.Media", on_delete=models.CASCADE, related_name="matches")
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="matches")
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="+")
    signal_type = models.CharField(max_length=10, choices=SignalType.choices)
    distance = models.PositiveSmallIntegerField(default=0)
    matched_at = models.DateTimeField()
    # Provenance: this match is one the media's inherited verdict rests on (an exact hit in a trusted bank
    # with the verdict the media took). ``withdrawn_*`` say when and why it stopped counting.
    inherited = models.BooleanField(default=False)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_kind = models.CharField(max_length=12, choices=WithdrawalKind.choices, blank=True)
    withdrawn_reason = models.TextField(blank=True)

    objects: ClassVar[MediaMatchQuerySet] = MediaMatchQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [models.UniqueConstraint(fields=["media", "entry"], name="match_unique_media_entry")]
        indexes = [
            # Undo by source: the live supports of one entry (supports().filter(entry__in=...)).
            models.Index(fields=["entry"], name="match_support_idx",
                         condition=models.Q(inherited=True, withdrawn_at__isnull=True)),
            # Flood check and bank health: an entry's matches within a window.
            models.Index(fields=["entry", "matched_at"], name="match_entry_time_idx"),
        ]

    def __str__(self) -> str:
        return f"media {self.media_id} ~ entry {self.entry_id} ({self.signal_type} d={self.distance})"


class QuarantineCause(models.TextChoices):
    FLOOD = "flood", _("Matched too much too fast")
    VOTES = "votes", _("Rejected by analysts")


class Resolution(models.TextChoices):
    OPEN = "", _("Awaiting a senior analyst")
    CONFIRMED = "confirmed", _("Confirmed (matches again)")
    DISABLED = "disabled", _("Disabled")


class Quarantine(models.Model):
    """One time an entry was quarantined, and what a senior analyst decided. Open rows flag managers."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="quarantines")
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="quarantines")
    cause = models.CharField(max_length=8, choices=QuarantineCause.choices)
    detail = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry"], condition=models.Q(resolved_at__isnull=True),
                                    name="quarantine_one_open_per_entry"),
        ]
        indexes = [
            # The managers' flag: open quarantines, oldest first.
            models.Index(fields=["started_at"], name="quarantine_open_idx",
                         condition=models.Q(resolved_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"entry {self.entry_id} quarantined ({self.cause})"


class Vote(models.TextChoices):
    CONFIRM = "confirm", _("Confirm")
    REJECT = "reject", _("Reject")


class EntryVote(models.Model):
    """An analyst's word on a third-party entry, given when they saw its match."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    media = models.ForeignKey("evidence.Media", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    vote = models.CharField(max_length=8, choices=Vote.choices)
    note = models.TextField(blank=True)
    voted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "user"], name="vote_one_per_analyst")]

    def __str__(self) -> str:
        return f"{self.vote} on entry {self.entry_id} by {self.user_id}"


def bump_version() -> None:
    """Every change that affects matching moves the one version on (see ``services.pdq_index``). This
    process's own index re-checks the version at its next look-up, and again once the change commits
    (another thread may have checked in between), without waiting for ``HOTLINE_HASH_INDEX_MAX_AGE``."""
    # compiled once per process (``prepared.update``): every final decision and confirmation bumps it
    if not prepared.update("hashes.bump_version", _bumped):  # the row exists but once
        IndexVersion.objects.get_or_create(pk=1)
        prepared.update("hashes.bump_version", _bumped)
    _count_local_bump()
    transaction.on_commit(_count_local_bump)


def _bumped() -> tuple[models.QuerySet[IndexVersion], dict[str, Any]]:
    """``bump_version``'s UPDATE: the one version row, one more."""
    return IndexVersion.objects.filter(pk=1), {"version": models.F("version") + 1}


_local_bumps = [0]


def _count_local_bump() -> None:
    _local_bumps[0] += 1


def local_bumps() -> int:
    """How many times this process has bumped the version (each bump and each commit of one counts)."""
    return _local_bumps[0]


def move_entry(query: models.QuerySet[Entry], to: str, *, now: datetime, strict: bool = True, **changes: Any) -> int:
    """The one way a hash entry changes status (see ENTRY_TRANSITIONS)."""
    return states.move(query, to, table=ENTRY_TRANSITIONS, now=now, field="status", strict=strict, **changes)
