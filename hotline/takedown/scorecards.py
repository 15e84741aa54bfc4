"""Provider scorecards: how each provider (or abuse contact) responds to notices and information requests.

Items count for the provider (contact) that hosts them now. Times are measured from the first notice of
an item (what the provider controls) to its first acknowledgement and its first confirmed removal.
Medians and 90th percentiles are over the items that were acknowledged / removed; items still online show
in the "online beyond 7 / 30 / 42 days" columns instead (days since the first notice; re-uploads count
there again while they are up). Shares within 24 h / 3 days count only items whose outcome at that mark
is known (removed, or first notified at least that long ago).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count

from hotline.lib import numbers
from hotline.takedown.models import InfoRequest, Notice, RequestState, Takedown, TakedownState
from hotline.takedown.timings import human
from hotline.tracing.models import AbuseContact, Provider

ONLINE_MARKS = (7, 30, 42)
SHARE_MARKS = (("24h", timedelta(hours=24)), ("3d", timedelta(days=3)))


@dataclass
class Scorecard:
    key: int | None
    name: str
    notices_sent: int = 0
    items: int = 0
    removed: int = 0
    reuploads: int = 0
    ack_times: list[timedelta] = field(default_factory=list)
    removal_times: list[timedelta] = field(default_factory=list)
    share_counts: dict[str, list[int]] = field(default_factory=lambda: {name: [0, 0] for name, _ in SHARE_MARKS})
    online_beyond: dict[int, int] = field(default_factory=lambda: dict.fromkeys(ONLINE_MARKS, 0))
    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RequestState.values, 0))

    def percentile(self, values: list[timedelta], p: float) -> timedelta | None:
        """Nearest-rank percentile (p in 0..100)."""
        if not values:
            return None
        ordered = sorted(values)
        return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * p / 100) - 1))]

    @property
    def ack_median(self) -> timedelta | None:
        return self.percentile(self.ack_times, 50)

    @property
    def ack_p90(self) -> timedelta | None:
        return self.percentile(self.ack_times, 90)

    @property
    def removal_median(self) -> timedelta | None:
        return self.percentile(self.removal_times, 50)

    @property
    def removal_p90(self) -> timedelta | None:
        return self.percentile(self.removal_times, 90)

    def share(self, mark: str) -> float | None:
        hits, known = self.share_counts[mark]
        return hits / known if known else None

    @property
    def requests_total(self) -> int:
        return sum(self.requests.values())

    @property
    def requests_answered(self) -> int:
        return self.requests[RequestState.ANSWERED] + self.requests[RequestState.PARTIAL]

    @property
    def responds(self) -> bool:
        return bool(self.ack_times or self.removed)


def scorecards(by: str, *, now: datetime) -> list[Scorecard]:
    """One card per provider (``by="provider"``) or per abuse contact (``by="contact"``), worst first."""
    column = "provider_id" if by == "provider" else "contact_id"
    cards: dict[int | None, Scorecard] = {}
    for key, name in _names(by):
        cards[key] = Scorecard(key, name)
    rows = Takedown.objects.filter(first_notice_at__isnull=False).values_list(
        column, "first_notice_at", "acknowledged_at", "first_removed_at", "reuploads", "state")
    for key, first, acked, removed, reuploads, state in rows.iterator(chunk_size=5000):
        card = cards.setdefault(key, Scorecard(key, "?"))
        _add_item(card, first, acked, removed, reuploads, now, online=state != TakedownState.REMOVED)
    for key, count in Notice.objects.filter(sent_at__isnull=False).values_list(column).annotate(n=Count("pk")):
        cards.setdefault(key, Scorecard(key, "?")).notices_sent = count
    if by == "provider":
        _add_requests(cards)
    found = [card for card in cards.values() if card.notices_sent or card.items or card.requests_total]
    return sorted(found, key=_badness, reverse=True)


def _names(by: str) -> Iterable[tuple[int, str]]:
    if by == "provider":
        return Provider.objects.values_list("pk", "name")
    return ((pk, name or email or endpoint) for pk, name, email, endpoint in
            AbuseContact.objects.values_list("pk", "name", "email", "endpoint"))


def _add_item(card: Scorecard, first: datetime, acked: datetime | None, removed: datetime | None, reuploads: int,
              now: datetime, *, online: bool) -> None:
    card.items += 1
    card.reuploads += reuploads
    if acked is not None:
        card.ack_times.append(max(acked - first, timedelta(0)))
    if removed is not None:
        card.removed += 1
        card.removal_times.append(max(removed - first, timedelta(0)))
    for name, limit in SHARE_MARKS:
        if removed is not None or now - first >= limit:
            card.share_counts[name][1] += 1
            card.share_counts[name][0] += int(removed is not None and removed - first <= limit)
    for days in ONLINE_MARKS:
        card.online_beyond[days] += int(online and now - first > timedelta(days=days))


def _add_requests(cards: dict[int | None, Scorecard]) -> None:
    for key, state, count in InfoRequest.objects.values_list("company_id", "state").annotate(n=Count("pk")):
        if key is not None:
            cards.setdefault(key, Scorecard(key, "?")).requests[state] += count


def _badness(card: Scorecard) -> tuple[int, float]:
    share = card.share("3d")
    return (card.online_beyond[42] + card.online_beyond[7], 1.0 - (share if share is not None else 1.0))


def non_responders(*, now: datetime, after: timedelta = timedelta(days=3)) -> list[Scorecard]:
    """Providers that were sent notices but neither acknowledged nor removed anything, with items online
    beyond ``after``; and companies with information requests past their deadline or left unanswered."""
    overdue = set(InfoRequest.objects.filter(state=RequestState.OPEN, deadline_at__lt=now)
                  .values_list("company_id", flat=True))
    found = []
    for card in scorecards("provider", now=now):
        silent = card.notices_sent and not card.responds and _online_for(card, after, now)
        if silent or card.key in overdue or card.requests[RequestState.NO_ANSWER]:
            found.append(card)
    return found


def _online_for(card: Scorecard, after: timedelta, now: datetime) -> bool:
    if card.key is None:
        return False
    return Takedown.objects.exclude(state=TakedownState.REMOVED).filter(provider_id=card.key,
                                   first_notice_at__lt=now - after).exists()


CSV_COLUMNS = ["name", "notices_sent", "items", "removed", "ack_median", "ack_p90", "removal_median", "removal_p90",
               "removed_within_24h", "removed_within_3d", "online_beyond_7d", "online_beyond_30d",
               "online_beyond_42d", "reuploads", "requests", "requests_answered", "requests_refused",
               "requests_no_answer"]


def as_row(card: Scorecard, *, for_people: bool = False) -> dict[str, Any]:
    """The card as one row: for the CSV (``35.2%``), or ``for_people`` in the page's language (``35,2 %``)."""
    def pct(value: float | None) -> str:
        if value is None:
            return ""
        return numbers.percent(value) if for_people else f"{value * 100:.1f}%"

    return {
        "name": card.name, "notices_sent": card.notices_sent, "items": card.items, "removed": card.removed,
        "ack_median": human(card.ack_median), "ack_p90": human(card.ack_p90),
        "removal_median": human(card.removal_median), "removal_p90": human(card.removal_p90),
        "removed_within_24h": pct(card.share("24h")), "removed_within_3d": pct(card.share("3d")),
        "online_beyond_7d": card.online_beyond[7], "online_beyond_30d": card.online_beyond[30],
        "online_beyond_42d": card.online_beyond[42], "reuploads": card.reuploads,
        "requests": card.requests_total, "requests_answered": card.requests_answered,
        "requests_refused": card.requests[RequestState.REFUSED],
        "requests_no_answer": card.requests[RequestState.NO_ANSWER],
    }


def to_csv(cards: Iterable[Scorecard]) -> str:
    """CSV export; names that would start a spreadsheet formula are quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for card in cards:
        row = as_row(card)
        if str(row["name"]).startswith(("=", "+", "-", "@", "\t", "\r")):
            row["name"] = "'" + str(row["name"])
        writer.writerow(row)
    return out.getvalue()
