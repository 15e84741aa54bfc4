"""The trusted flagger's transparency report (EU Digital Services Act, Art. 22(3)): the notices we sent to
hosting providers in a period, by provider, by type of illegal content, and the action each provider took,
with the time it took. Definitions: docs/statistics.md ("Transparency report").

Providers are named (the regulation asks for it); no URL and no person is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from hotline.assessment.codes import ContentType, Verdict
from hotline.stats.filters import Filters
from hotline.stats.models import ItemFact
from hotline.stats.percentiles import percentile_cont, whole
from hotline.stats.tables import SECONDS, SHARE, TEXT, Column, Table
from hotline.takedown.models import EscalationRole, Notice, NoticeItem, NoticeKind
from hotline.tracing.models import Provider

# What the provider did about a notified item, in the order published.
ACTIONS: dict[str, Any] = {
    "removed": _("Removed"),
    "removed_back_online": _("Removed, then online again"),
    "acknowledged": _("Acknowledged, not removed"),
    "none": _("No action recorded"),
}
NO_PROVIDER = _("Provider not identified")


@dataclass(frozen=True)
class Notified:
    """One item named in a notice of the period, with what its facts say happened after our first notice."""

    item_id: int
    verdict: str
    content_type: str
    action: str
    secs: int | None  # first notice -> the action (removal or acknowledgement)


def _action(fact: Any) -> tuple[str, int | None]:
    if fact is None:
        return "none", None
    if fact["notice_removal_secs"] is not None:
        return ("removed_back_online" if fact["online_again"] else "removed"), fact["notice_removal_secs"]
    if fact["notice_ack_secs"] is not None:
        return "acknowledged", fact["notice_ack_secs"]
    return "none", None


def sent_notices(filters: Filters) -> Any:
    """Notices sent in the period (``sent_at`` in its days), to any addressee."""
    return Notice.objects.filter(sent_at__gte=filters.start, sent_at__lt=filters.end)


class Period:
    """The notices of one period and the items they named, loaded once for every table."""

    def __init__(self, filters: Filters, now: datetime) -> None:
        self.filters, self.now = filters, now
        self.notices = list(sent_notices(filters).values("pk", "kind", "role", "provider_id"))
        lines = NoticeItem.objects.filter(notice_id__in=[n["pk"] for n in self.notices], dropped_at__isnull=True)
        self.lines = list(lines.values_list("notice_id", "item_id"))
        items = {item for _notice, item in self.lines}
        facts = {row["item_id"]: row for row in ItemFact.objects.filter(item_id__in=items).values(
            "item_id", "verdict", "content_type", "online_again", "notice_ack_secs", "notice_removal_secs")}
        self.items: dict[int, Notified] = {}
        for item in items:
            fact = facts.get(item)
            action, secs = _action(fact)
            self.items[item] = Notified(item, fact["verdict"] if fact else "", fact["content_type"] if fact else "",
                                        action, secs)


def _median_p90(values: Iterable[int | None]) -> tuple[int | None, int | None]:
    ordered = sorted(v for v in values if v is not None)
    return whole(percentile_cont(ordered, 0.5)), whole(percentile_cont(ordered, 0.9))


def summary(period: Period) -> Table:
    notices = period.notices
    kinds = Counter(n["kind"] for n in notices)
    rows = [
        ("notices", _("Notices sent"), len(notices)),
        ("to_hosting", _("of which to the hosting provider"),
         sum(1 for n in notices if n["role"] == EscalationRole.NONE)),
        ("escalations", _("of which escalations (upstream network, registrar, site owner)"),
         sum(1 for n in notices if n["role"] != EscalationRole.NONE)),
        ("first", _("First notices"), kinds[NoticeKind.FIRST]),
        ("repeat", _("Repeat notices (content still online after 24 h)"), kinds[NoticeKind.REPEAT]),
        ("items", _("Items (web addresses) notified"), len(period.items)),
        ("providers", _("Hosting providers notified"), len({n["provider_id"] for n in notices if n["provider_id"]})),
    ]
    return Table("dsa_summary", _("Notices sent in the period"), [
        Column("figure", _("Figure"), TEXT), Column("key", _("Key"), TEXT), Column("value", _("Number")),
    ], [{"figure": label, "key": key, "value": value} for key, label, value in rows],
        note=_("A notice is one message to one addressee; it may name several items."))


def by_provider(period: Period) -> Table:
    notices: Counter[int | None] = Counter(n["provider_id"] for n in period.notices)
    provider_of = {n["pk"]: n["provider_id"] for n in period.notices}
    items: dict[int | None, set[int]] = defaultdict(set)
    for notice, item in period.lines:
        items[provider_of[notice]].add(item)
    names = dict(Provider.objects.filter(pk__in=[p for p in notices if p]).values_list("pk", "name"))
    rows: list[dict[str, Any]] = []
    for provider, count in notices.items():
        named = [period.items[i] for i in items[provider]]
        removed = [n for n in named if n.action in ("removed", "removed_back_online")]
        median, p90 = _median_p90(n.secs for n in removed)
        rows.append({"provider": names.get(provider, NO_PROVIDER) if provider else NO_PROVIDER,
                     "notices": count, "items": len(named), "removed": len(removed),
                     "share_removed": len(removed) / len(named) if named else None,
                     "acknowledged": sum(1 for n in named if n.action == "acknowledged"),
                     "median": median, "p90": p90})
    rows.sort(key=lambda r: (-r["notices"], str(r["provider"])))
    return Table("dsa_providers", _("Notices by hosting provider"), [
        Column("provider", _("Hosting provider"), TEXT), Column("notices", _("Notices sent")),
        Column("items", _("Items notified")), Column("removed", _("Removed")),
        Column("share_removed", _("Share removed"), SHARE), Column("acknowledged", _("Acknowledged, not removed")),
        Column("median", _("Median time to removal"), SECONDS), Column("p90", _("90th percentile"), SECONDS),
    ], rows, note=_("Times from our first notice about an item to its confirmed removal."))


def _content_label(verdict: str, content_type: str) -> str:
    kind = dict(Verdict.choices).get(verdict, _("Not assessed"))
    form = dict(ContentType.choices).get(content_type, _("form not recorded"))
    return f"{kind}: {form}"


def by_content(period: Period) -> Table:
    notices: dict[tuple[str, str], set[int]] = defaultdict(set)
    items: Counter[tuple[str, str]] = Counter()
    for notice, item in period.lines:
        notified = period.items[item]
        notices[(notified.verdict, notified.content_type)].add(notice)
    for notified in period.items.values():
        items[(notified.verdict, notified.content_type)] += 1
    order = {code: n for n, code in enumerate([*Verdict.values, ""])}
    forms = {code: n for n, code in enumerate([*ContentType.values, ""])}
    keys = sorted(items, key=lambda k: (order.get(k[0], 99), forms.get(k[1], 99)))
    return Table("dsa_content", _("Notices by type of illegal content"), [
        Column("type", _("Type of illegal content"), TEXT), Column("key", _("Key"), TEXT),
        Column("notices", _("Notices naming it")), Column("items", _("Items notified")),
    ], [{"type": _content_label(*key), "key": f"{key[0] or 'none'}/{key[1] or 'none'}",
         "notices": len(notices[key]), "items": items[key]} for key in keys],
        note=_("Child sexual abuse material, by our analysts' verdict (illegal internationally, or under national "
               "law only) and the form of the content. A notice naming items of several types counts under each."))


def by_action(period: Period) -> Table:
    total = len(period.items)
    rows = []
    for key, label in ACTIONS.items():
        chosen = [n for n in period.items.values() if n.action == key]
        median, p90 = _median_p90(n.secs for n in chosen)
        rows.append({"action": label, "key": key, "items": len(chosen),
                     "share": len(chosen) / total if total else None, "median": median, "p90": p90})
    return Table("dsa_actions", _("Action taken by the provider, and time to action"), [
        Column("action", _("Action taken"), TEXT), Column("key", _("Key"), TEXT), Column("items", _("Items")),
        Column("share", _("Share"), SHARE), Column("median", _("Median time to action"), SECONDS),
        Column("p90", _("90th percentile"), SECONDS),
    ], rows, note=_("Per item notified in the period, as known when this report was made; time from our first "
                    "notice about the item to its removal (or, when not removed, to the acknowledgement)."))


def tables(filters: Filters, *, now: datetime) -> list[Table]:
    period = Period(filters, now)
    return [summary(period), by_provider(period), by_content(period), by_action(period)]
