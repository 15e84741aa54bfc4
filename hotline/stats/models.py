"""Statistics facts: one row per item with the stamps and dimensions every figure is computed from.

A fact is derived only from status time stamps and trace snapshots of the other domains (see
``facts.compute``); it is recomputed by the worker (``steps.refresh_step``) and by ``hotline stats
refresh``. Figures then aggregate one narrow table instead of joining seven per request.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ItemFact(models.Model):
    """What the statistics know about one item. Durations are whole seconds from ``reported_at``."""

    item = models.OneToOneField("reports.Item", primary_key=True, on_delete=models.CASCADE,
                                related_name="stats_fact")
    # The moment the first report naming the item was received (docs/statistics.md, "start").
    reported_at = models.DateTimeField(_("reported at"))
    source = models.CharField(_("source"), max_length=20, blank=True)
    verdict = models.CharField(_("verdict"), max_length=20, blank=True)
    illegal = models.BooleanField(default=False)
    content_type = models.CharField(max_length=10, blank=True)
    age_group = models.CharField(max_length=16, blank=True)
    site_type = models.CharField(max_length=20, blank=True)
    # From the latest trace that located the item.
    country = models.CharField(_("hosting country"), max_length=2, blank=True)
    provider = models.ForeignKey("tracing.Provider", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    route = models.CharField(max_length=24, blank=True)
    forwarded = models.BooleanField(default=False)
    in_takedown = models.BooleanField(default=False)
    reupload = models.BooleanField(default=False)
    reappearances = models.PositiveIntegerField(default=0)
    # Distinct files (SHA-256) the final assessment classified illegal: the network counts per image/video.
    illegal_media = models.PositiveIntegerField(default=0)
    # Removed once (removal_secs counts to that first removal) and online again now, not removed since.
    online_again = models.BooleanField(default=False)
    police_secs = models.IntegerField(null=True, blank=True)
    notice_secs = models.IntegerField(null=True, blank=True)
    removal_secs = models.IntegerField(null=True, blank=True)
    # Our own notice-and-takedown: the provider noticed, when, and how it answered (seconds from the notice).
    noticed_provider = models.ForeignKey("tracing.Provider", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    first_notice_at = models.DateTimeField(null=True, blank=True)
    notice_ack_secs = models.IntegerField(null=True, blank=True)
    notice_removal_secs = models.IntegerField(null=True, blank=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Every figure: facts of the items reported in a period (services.facts()).
            models.Index(fields=["reported_at"], name="itemfact_reported_idx"),
            # refresh_batch(): the stalest facts first.
            models.Index(fields=["refreshed_at"], name="itemfact_refreshed_idx"),
        ]

    def __str__(self) -> str:
        return f"facts of item {self.item_id}"


class RefreshState(models.Model):
    """The single row that schedules and leases the refresh worker step (a conditional UPDATE claims it)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    next_run_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_refreshed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="stats_refresh_single_row")]

    def __str__(self) -> str:
        return f"stats refresh, next {self.next_run_at}"
