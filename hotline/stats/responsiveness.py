"""How providers answer our notices and companies our information requests (from their time stamps)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from hotline.stats.figures import facts, online_beyond
from hotline.stats.filters import Filters
from hotline.stats.percentiles import PercentileCont, grouped_percentiles, in_sql, percentile_cont, whole
from hotline.stats.tables import SECONDS, SHARE, TEXT, Column, Table
from hotline.takedown.models import InfoRequest, RequestState
from hotline.tracing.models import Provider

DAY = 86400
ONE_DAY = timedelta(days=1)


def providers(filters: Filters, now: datetime) -> Table:
    """Per provider we noticed (our own notice-and-takedown), times measured from our first notice."""
    noticed = facts(filters).filter(first_notice_at__isnull=False)
    late, online = online_beyond("notice_removal_secs", "first_notice_at", now)
    aggregates: dict[str, Any] = {
        "noticed": Count("pk"), "acknowledged": Count("pk", filter=Q(notice_ack_secs__isnull=False)),
        "removed": Count("pk", filter=Q(notice_removal_secs__isnull=False)),
        "hit_24h": Count("pk", filter=Q(notice_removal_secs__lte=DAY)),
        "known_24h": Count("pk", filter=Q(notice_removal_secs__isnull=False) | Q(first_notice_at__lte=now - ONE_DAY)),
        "beyond": Count("pk", filter=late | online),
        "reappearances": Sum("reappearances")}
    if in_sql():  # the percentiles ride along in the same scan
        aggregates.update(ack=PercentileCont("notice_ack_secs", (0.5,)), removal=PercentileCont("notice_removal_secs"))
    counted = list(noticed.values("noticed_provider_id").annotate(**aggregates).order_by())
    if in_sql():
        ack = {r["noticed_provider_id"]: r["ack"] or [None] for r in counted}
        removal = {r["noticed_provider_id"]: r["removal"] or [None, None] for r in counted}
    else:
        ack = grouped_percentiles(noticed, "notice_ack_secs", "noticed_provider_id", (0.5,))
        removal = grouped_percentiles(noticed, "notice_removal_secs", "noticed_provider_id")
    names = dict(Provider.objects.filter(pk__in=[r["noticed_provider_id"] for r in counted if r["noticed_provider_id"]])
                 .values_list("pk", "name"))
    rows = []
    for row in counted:
        key = row["noticed_provider_id"]
        median, p90 = removal.get(key, [None, None])
        rows.append({
            "provider": names.get(key, _("No provider known")) if key else _("No provider known"),
            "noticed": row["noticed"], "acknowledged": row["acknowledged"],
            "ack_median": whole(ack.get(key, [None])[0]), "removed": row["removed"],
            "removal_median": whole(median), "removal_p90": whole(p90),
            "within_24h": row["hit_24h"] / row["known_24h"] if row["known_24h"] else None,
            "beyond_42d": row["beyond"], "reappearances": row["reappearances"] or 0,
        })
    rows.sort(key=lambda r: (-r["noticed"], str(r["provider"])))
    return Table("providers", _("Provider responsiveness"), [
        Column("provider", _("Provider"), TEXT), Column("noticed", _("Items noticed")),
        Column("acknowledged", _("Acknowledged")),
        Column("ack_median", _("Median to acknowledgement"), SECONDS, basis=("acknowledged",)),
        Column("removed", _("Removed")),
        Column("removal_median", _("Median to removal"), SECONDS, basis=("removed",)),
        Column("removal_p90", _("90th percentile to removal"), SECONDS, basis=("removed",)),
        Column("within_24h", _("Removed within 24 h of notice"), SHARE, basis=("noticed",)),
        Column("beyond_42d", _("Online beyond 42 days after notice")),
        Column("reappearances", _("Re-appearances")),
    ], rows, note=_("Items of the period that we noticed ourselves; times from our first notice."))


ANSWERED = (RequestState.ANSWERED, RequestState.PARTIAL, RequestState.REFUSED)


def companies(filters: Filters, now: datetime) -> Table:
    """Information requests created in the period, per company: how they were answered and how fast."""
    requests = InfoRequest.objects.filter(created_at__gte=filters.start, created_at__lt=filters.end)
    if filters.provider:
        requests = requests.filter(company_id__in=filters.provider)
    tally: dict[str, dict[str, Any]] = {}
    waits: dict[str, list[int]] = defaultdict(list)
    rows = requests.values_list("company__name", "company_name", "state", "created_at", "sent_at", "answered_at",
                                "deadline_at")
    for provider_name, typed_name, state, created, sent, answered, deadline in rows:
        name = provider_name or typed_name
        row = tally.setdefault(name, {"company": name, "requests": 0, "overdue": 0,
                                      **{s: 0 for s in RequestState.values}})
        row["requests"] += 1
        row[state] += 1
        row["overdue"] += int(state == RequestState.OPEN and deadline < now)
        if state in ANSWERED and answered is not None:
            waits[name].append(max(0, int((answered - (sent or created)).total_seconds())))
    for name, row in tally.items():
        ordered = sorted(waits[name])
        row["answer_median"] = whole(percentile_cont(ordered, 0.5))
        row["replied"] = len(ordered)
    return Table("companies", _("Company responsiveness to information requests"), [
        Column("company", _("Company"), TEXT), Column("requests", _("Requests")),
        Column(RequestState.ANSWERED, _("Answered")), Column(RequestState.PARTIAL, _("Partially answered")),
        Column(RequestState.REFUSED, _("Refused")), Column(RequestState.NO_ANSWER, _("No answer")),
        Column(RequestState.OPEN, _("Open")), Column("overdue", _("Open past the deadline")),
        Column("answer_median", _("Median time to answer"), SECONDS, basis=("replied",)),
    ], sorted(tally.values(), key=lambda r: (-r["requests"], r["company"])),
        note=_("Item filters other than provider do not apply to information requests."))
