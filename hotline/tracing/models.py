"""Where an item is hosted: the provider directory and dated trace snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib import prepared


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    API = "api", _("HTTP API / webhook")


class Provider(models.Model):
    """A hosting provider, network operator or CDN, with the networks it announces."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    is_cdn = models.BooleanField(_("CDN or reverse proxy"), default=False)
    website = models.CharField(_("website"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProviderNetwork(models.Model):
    """One AS number or one address range that belongs to a provider.

    A range is also kept as two sortable keys (IP version digit + 32 hex digits, see
    ``providers.ip_key``) so "which range holds this address" is one indexed query.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="networks")
    asn = models.PositiveBigIntegerField(_("AS number"), null=True, blank=True)
    cidr = models.CharField(_("address range"), max_length=50, blank=True)
    range_start = models.CharField(max_length=33, blank=True)
    range_end = models.CharField(max_length=33, blank=True)
    prefixlen = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(asn__isnull=True, cidr=""), name="network_asn_or_cidr"),
        ]
        indexes = [
            # provider_for_asn(): AS number -> provider.
            models.Index(fields=["asn"], name="network_asn_idx"),
            # providers.find_provider(): range_start <= key <= range_end.
            models.Index(fields=["range_start", "range_end"], name="network_range_idx",
                         condition=~models.Q(range_start="")),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: AS{self.asn}" if self.asn else f"{self.provider}: {self.cidr}"


class AbuseContact(models.Model):
    """Where notices for a provider go: an address or an API, in a language, on a rhythm."""

    class Source(models.TextChoices):
        DIRECTORY = "directory", _("Directory (entered or imported)")
        RDAP = "rdap", _("RDAP")

    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="contacts")
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    endpoint = models.URLField(_("API endpoint"), blank=True)
    channel = models.CharField(_("preferred channel"), max_length=10, choices=Channel.choices,
                               default=Channel.EMAIL)
    language = models.CharField(_("language"), max_length=8, default="en")
    repeat_hours = models.PositiveIntegerField(_("repeat notices every (hours)"), default=24)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.DIRECTORY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(email="", endpoint=""), name="contact_email_or_endpoint"),
        ]

    def __str__(self) -> str:
        return self.email or self.endpoint


class TraceOutcome(models.TextChoices):
    OK = "ok", _("Traced")
    NXDOMAIN = "nxdomain", _("Domain does not exist")
    SERVFAIL = "servfail", _("DNS server failure")
    TIMEOUT = "timeout", _("DNS timeout")
    NO_ADDRESS = "no_address", _("No address")
    ERROR = "error", _("Error")
    UNLOCATED = "unlocated", _("Address in no data set")


class TraceQuerySet(models.QuerySet["Trace"]):
    def latest_for(self, item_id: int) -> Trace | None:
        return self.filter(item_id=item_id).order_by("-traced_at", "-pk").first()

    def latest_located(self, item_id: int) -> Trace | None:
        """The newest snapshot that placed the item (a DNS failure places nothing)."""
        return self.filter(item_id=item_id, outcome=TraceOutcome.OK).order_by("-traced_at", "-pk").first()

    def latest_located_many(self, item_ids: list[int]) -> dict[int, Trace]:
        """``latest_located`` for several items, in one query (items never located are left out), compiled once
        per process (``prepared``: the notice's re-trace, the trace worker and ICCAM's push ask it all the time)."""
        return self._newest(item_ids, located=True)

    def latest_many(self, item_ids: list[int]) -> dict[int, Trace]:
        """``latest_for`` for several items, in one query (items never traced are left out)."""
        return self._newest(item_ids, located=False)

    def _newest(self, item_ids: list[int], *, located: bool) -> dict[int, Trace]:
        if not item_ids:
            return {}
        if self.query.where:  # a filtered queryset: its own conditions apply too, so the ORM builds it
            return {t.item_id: t for t in self.filter(item_id__in=item_ids, pk=models.Subquery(_newest(located)))}
        found = prepared.objects("tracing.newest_traces", lambda ids: _newest_of(ids, located), vary=located,
                                 ids=prepared.padded(item_ids))
        return {t.item_id: t for t in found}


def _newest(located: bool) -> models.QuerySet[Trace, Any]:
    """The newest trace of the outer row's item (the newest that placed it, when ``located``)."""
    traces = Trace.objects.filter(item_id=models.OuterRef("item_id"))
    if located:
        traces = traces.filter(outcome=TraceOutcome.OK)
    return traces.order_by("-traced_at", "-pk").values("pk")[:1]


def _newest_of(ids: list[int], located: bool) -> models.QuerySet[Trace]:
    return Trace.objects.filter(item_id__in=ids, pk=models.Subquery(_newest(located)))


class Trace(models.Model):
    """A dated snapshot of where an item was hosted. Never updated in place: history is kept.

    `addresses` is a list of {"ip", "asn", "as_name", "country_signals": {source: CC}, "provider"}.
    `country_signals` is {source: CC} over all addresses (e.g. "iptocc", "geoip2fast", "rdap").
    """

    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="traces")
    traced_at = models.DateTimeField(_("traced at"))
    host = models.CharField(_("host"), max_length=255)
    outcome = models.CharField(_("outcome"), max_length=12, choices=TraceOutcome.choices)
    error = models.TextField(blank=True)
    cname_chain = models.JSONField(default=list)
    addresses = models.JSONField(default=list)
    country = models.CharField(_("hosting country"), max_length=2, blank=True)
    country_signals = models.JSONField(default=dict)
    country_disputed = models.BooleanField(_("signals disagree"), default=False)
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="traces")
    abuse_contact = models.ForeignKey(AbuseContact, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="traces")
    cdn = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="cdn_traces",
                            verbose_name=_("behind CDN"))
    origin_address = models.CharField(_("origin address behind the CDN"), max_length=45, blank=True)
    changed = models.BooleanField(_("country or provider changed since the previous trace"), default=False)

    objects = TraceQuerySet.as_manager()

    class Meta:
        indexes = [
            # latest_for(): newest snapshot of one item.
            models.Index(fields=["item", "-traced_at"], name="trace_item_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.host} {self.country or '??'} {self.traced_at:%Y-%m-%d %H:%M}"


class TraceDueQuerySet(models.QuerySet["TraceDue"]):
    def due(self, now: datetime) -> TraceDueQuerySet:
        return self.filter(due_at__lte=now).order_by("due_at", "pk")


class TraceDue(models.Model):
    """An item waiting for a (re-)trace by the worker: its first trace, a retry, or a request.

    The worker leases a row by moving ``due_at`` forward; a finished trace deletes it or pushes it
    back (transient DNS failures, with backoff).
    """

    item = models.OneToOneField("reports.Item", on_delete=models.CASCADE, related_name="trace_due")
    due_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_outcome = models.CharField(max_length=12, blank=True)
    created_at = models.DateTimeField()

    objects = TraceDueQuerySet.as_manager()

    class Meta:
        indexes = [
            # trace_step(): due(now).
            models.Index(fields=["due_at"], name="tracedue_due_idx"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} due {self.due_at:%Y-%m-%d %H:%M}"


class RdapCache(models.Model):
    """One RDAP network answer, reused for every address in its range until it expires.

    Keys as on ``ProviderNetwork`` (version digit + 32 hex digits), so the lookup is one range query.
    """

    range_start = models.CharField(max_length=33)
    range_end = models.CharField(max_length=33)
    network = models.JSONField()
    fetched_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            # DbRdapCache.get(): range_start <= key <= range_end and not expired.
            models.Index(fields=["range_start", "range_end"], name="rdapcache_range_idx"),
            # Purging expired rows.
            models.Index(fields=["expires_at"], name="rdapcache_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"RDAP {self.network.get('start_address')}-{self.network.get('end_address')}"
