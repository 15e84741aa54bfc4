"""A fixed synthetic history with explicit time stamps, built row by row (the other domains' own tests
cover how their workers reach these rows). Every URL is on a .sim.test host; every verdict is a label.

The expected figures in test_figures.py are worked out by hand from the comments here.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hotline.accounts.models import User
from hotline.assessment.models import Assessment
from hotline.audit.services import SYSTEM
from hotline.cases.models import Case
from hotline.cases.services import open_case, record_outcome
from hotline.evidence.models import Exposure
from hotline.partners.models import Forward, OutboundMessage, PartnerHotline, PoliceContact
from hotline.reports.models import Item, ItemStatus, Report, ReportItem
from hotline.routing.models import Decision, Referral
from hotline.takedown.models import InfoRequest, Takedown
from hotline.tracing.models import Provider, Trace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass
class History:
    items: dict[str, Item] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    partner: PartnerHotline | None = None
    police: PoliceContact | None = None


def report(source: str, received: datetime, *items: Item) -> Report:
    made = Report.objects.create(source=source, received_at=received, url_count=len(items))
    for n, item in enumerate(items):
        ReportItem.objects.create(report=made, item=item, raw_url=item.canonical_url, position=n)
    return made


def item(name: str, reported: datetime, *, source: str = "public", processed: datetime | None = None) -> Item:
    """An item and the report that first named it; ``processed`` when intake ran later than the receipt."""
    url = f"http://{name.lower()}.sim.test/page"
    first = processed or reported
    made = Item.objects.create(
        raw_url=url, canonical_url=url, dedup_key=hashlib.sha256(url.encode()).hexdigest(), host=f"{name}.sim.test",
        first_reported_at=first, last_reported_at=first, status_changed_at=first, status=ItemStatus.CAPTURED,
        captured_at=first)
    report(source, reported, made)
    return made


def assess(target: Item, verdict: str, analyst: User, when: datetime, **codes: str) -> Assessment:
    target.status, target.verdict, target.assessed_at = ItemStatus.ASSESSED, verdict, when
    target.save(update_fields=["status", "verdict", "assessed_at"])
    return Assessment.objects.create(item=target, analyst=analyst, created_at=when, verdict=verdict, is_final=True,
                                     **codes)


def trace(target: Item, when: datetime, country: str, provider: Provider | None, outcome: str = "ok") -> Trace:
    return Trace.objects.create(item=target, traced_at=when, host=target.host, outcome=outcome, country=country,
                                provider=provider)


def decide(target: Item, route: str, when: datetime, superseded: datetime | None = None) -> Decision:
    return Decision.objects.create(item=target, decided_at=when, route=route, superseded_at=superseded)


def refer(history: History, sent: datetime, *targets: Item) -> Referral:
    assert history.police is not None
    made = Referral.objects.create(key=uuid.uuid4(), police=history.police, created_at=sent - H, status="sent",
                                   sent_at=sent)
    made.items.set(targets)
    return made


def takedown(target: Item, provider: Provider, *, notice: datetime | None, state: str = "online",
             ack: datetime | None = None, removed: datetime | None = None, reuploads: int = 0,
             reappeared: datetime | None = None) -> Takedown:
    opened = notice or removed or target.first_reported_at
    return Takedown.objects.create(
        item=target, state=state, state_changed_at=opened, opened_at=opened, reported_at=target.first_reported_at,
        provider=provider, first_notice_at=notice, last_notice_at=notice, acknowledged_at=ack, removed_at=removed,
        first_removed_at=removed, reuploads=reuploads, reappeared_at=reappeared)


def forward(history: History, target: Item, created: datetime, *, notice: datetime | None,
            removed: datetime | None) -> Forward:
    assert history.partner is not None
    message = OutboundMessage.objects.create(key=uuid.uuid4(), partner=history.partner, kind="forward",
                                             body={}, created_at=created, state="delivered")
    status = "removed" if removed else ("notice_sent" if notice else "received")
    return Forward.objects.create(item=target, partner=history.partner, message=message, reference=f"F-{target.pk}",
                                  status=status, created_at=created, created_by="system", status_changed_at=created,
                                  received_at=created, notice_sent_at=notice, removed_at=removed)


def info_request(company: str, created: datetime, state: str, *, answered: timedelta | None = None,
                 deadline: datetime | None = None) -> InfoRequest:
    return InfoRequest.objects.create(
        kind="preservation", on_behalf_of="police", company_name=company, email="requests@company.example",
        subject_type="account", subject="account-1", legal_basis="synthetic", created_at=created,
        deadline_at=deadline or created + 14 * D, state=state, sent_at=created + H,
        answered_at=created + H + answered if answered is not None else None)


def _case(history: History, name: str, opened: datetime, members: list[Item],
          outcomes: list[tuple[str, date, str]]) -> None:
    case = open_case(f"case {name}", "same_site", members, actor=SYSTEM, now=opened)
    for code, decided_on, reason in outcomes:
        record_outcome(case, code, decided_on, actor=SYSTEM, now=NOW, reason=reason)
    history.cases[name] = case


def build(users: dict[str, User]) -> History:
    """Reports across 2024 and 2025 (and one in 2026); see the comment on each item for its timings."""
    h = History(users=users)
    h.police = PoliceContact.objects.create(name="Unit", country="BE", kind="national", email="unit@police.example")
    h.partner = PartnerHotline.objects.create(code="nl-sim", name="NL partner", countries=["NL"])
    for key, name, country in (("P1", "Quick Host", "BE"), ("P2", "Slow Host", "BE"), ("P3", "Silent Host", "BE"),
                               ("P4", "Dutch Host", "NL"), ("P5", "Far Host", "US")):
        h.providers[key] = Provider.objects.create(name=name, country=country)
    _items_2025(h)
    _items_2024(h)
    _item_2026(h)
    _cases(h)
    _requests_and_exposure(h)
    return h


def _illegal(h: History, name: str, reported: datetime, verdict: str, content: str, age: str, site: str,
             country: str, provider: str, route: str, **kwargs: Any) -> Item:
    made = item(name, reported, **kwargs)
    h.items[name] = made
    assess(made, verdict, h.users["ana"], reported + H, content_type=content, age_group=age, site_type=site)
    trace(made, reported + H, country, h.providers[provider])
    decide(made, route, reported + H)
    return made


def _items_2025(h: History) -> None:
    p = h.providers
    # A1: police 2 h, notice 5 h, acknowledged 1 h after the notice, removed 20 h; also named by a partner.
    a1 = _illegal(h, "A1", at(2025, 1, 10, 10), "baseline", "image", "prepubescent", "image_host", "BE", "P1",
                  "domestic")
    report("partner", at(2025, 1, 11), a1)
    refer(h, a1.first_reported_at + 2 * H, a1)
    takedown(a1, p["P1"], notice=a1.first_reported_at + 5 * H, ack=a1.first_reported_at + 6 * H,
             removed=a1.first_reported_at + 20 * H, state="removed")
    # A2: received 1 h before intake processed it (CSV); police 1 d, notice 2 d, removed 4 d.
    a2 = _illegal(h, "A2", at(2025, 2, 1), "baseline", "video", "pubescent", "forum", "BE", "P1", "domestic",
                  processed=at(2025, 2, 1, 1))
    start = at(2025, 2, 1)
    refer(h, start + D, a2)
    takedown(a2, p["P1"], notice=start + 2 * D, removed=start + 4 * D, state="removed")
    # A3: police 3 d, notice 3 d 1 h, removed 10 d (slow provider).
    a3 = _illegal(h, "A3", at(2025, 3, 1), "national", "image", "pubescent", "image_host", "BE", "P2", "domestic")
    refer(h, a3.first_reported_at + 3 * D, a3)
    takedown(a3, p["P2"], notice=a3.first_reported_at + 3 * D + H, removed=a3.first_reported_at + 10 * D,
             state="removed")
    # A4: police 6 h, notice 1 d, never removed (silent provider).
    a4 = _illegal(h, "A4", at(2025, 4, 1), "baseline", "image", "prepubescent", "file_host", "BE", "P3", "domestic")
    refer(h, a4.first_reported_at + 6 * H, a4)
    takedown(a4, p["P3"], notice=a4.first_reported_at + D)
    # A5: police 12 h; removed after 1 d, before any notice went out.
    a5 = _illegal(h, "A5", at(2025, 5, 1), "baseline", "image", "infant_toddler", "image_host", "BE", "P2",
                  "domestic")
    refer(h, a5.first_reported_at + 12 * H, a5)
    takedown(a5, p["P2"], notice=None, removed=a5.first_reported_at + D, state="removed")
    _items_2025_later(h)


def _items_2025_later(h: History) -> None:
    p = h.providers
    # A6: traced at home, referred (3 h) and noticed (1 d); re-traced abroad at 2 d and forwarded; the partner
    # noticed at 2 d 12 h and reported removal at 3 d. A later failed trace does not move it.
    a6 = _illegal(h, "A6", at(2025, 6, 1), "baseline", "video", "prepubescent", "website", "BE", "P1", "domestic")
    start = a6.first_reported_at
    Decision.objects.filter(item=a6).update(superseded_at=start + 2 * D)
    trace(a6, start + 2 * D, "NL", p["P4"])
    trace(a6, start + 5 * D, "", None, outcome="servfail")
    decide(a6, "partner", start + 2 * D)
    refer(h, start + 3 * H, a6)
    takedown(a6, p["P1"], notice=start + D)
    forward(h, a6, start + 2 * D, notice=start + 2 * D + 12 * H, removed=start + 3 * D)
    # A7: a re-upload of A1's content; police 1 h, notice 2 h, removed at 5 h but back online at 10 d.
    a7 = _illegal(h, "A7", at(2025, 7, 1), "baseline", "image", "pubescent", "image_board", "BE", "P1", "domestic")
    a7.reupload_of.add(h.items["A1"])
    start = a7.first_reported_at
    refer(h, start + H, a7)
    takedown(a7, p["P1"], notice=start + 2 * H, removed=start + 5 * H, state="reappeared", reuploads=1,
             reappeared=start + 10 * D)
    # A8: abroad without a partner: international police at 5 d, no notice, never removed.
    a8 = _illegal(h, "A8", at(2025, 8, 1), "national", "drawing", "not_determined", "forum", "US", "P5",
                  "international_police")
    refer(h, a8.first_reported_at + 5 * D, a8)
    # A9, A10: not illegal; A11: not assessed yet.
    for name, when, source in (("A9", at(2025, 9, 1), "public"), ("A10", at(2025, 10, 1), "police")):
        h.items[name] = item(name, when, source=source)
        assess(h.items[name], "not_illegal", h.users["ana"], when + H, reason="adult_pornography")
    h.items["A11"] = item("A11", at(2025, 12, 30), source="csv")


def _items_2024(h: History) -> None:
    p = h.providers
    # B1: police 1 d, notice 1 d, removed 2 d; named again by a public report in February 2025.
    b1 = _illegal(h, "B1", at(2024, 3, 1), "baseline", "image", "pubescent", "image_host", "BE", "P1", "domestic")
    refer(h, b1.first_reported_at + D, b1)
    takedown(b1, p["P1"], notice=b1.first_reported_at + D, removed=b1.first_reported_at + 2 * D, state="removed")
    report("public", at(2025, 2, 10), b1)
    # B3: forwarded at 1 d; the partner noticed at 2 d and saw it removed only at 50 d.
    b3 = _illegal(h, "B3", at(2024, 6, 1), "national", "video", "pubescent", "forum", "NL", "P4", "partner")
    forward(h, b3, b3.first_reported_at + D, notice=b3.first_reported_at + 2 * D,
            removed=b3.first_reported_at + 50 * D)
    for name, when in (("B2", at(2024, 5, 1)), ("B4", at(2024, 11, 1))):
        h.items[name] = item(name, when)
        assess(h.items[name], "not_illegal", h.users["ana"], when + H, reason="nudism")


def _item_2026(h: History) -> None:
    # N1: reported exactly one day before NOW, noticed at 2 h, not removed yet.
    n1 = _illegal(h, "N1", NOW - D, "baseline", "image", "pubescent", "image_host", "BE", "P1", "domestic")
    takedown(n1, h.providers["P1"], notice=n1.first_reported_at + 2 * H)


def _cases(h: History) -> None:
    i = h.items
    _case(h, "C1", at(2025, 2, 1), [i["A1"]], [("received", date(2025, 2, 10), ""),
                                                ("dismissed", date(2025, 6, 1), "offender_unknown")])
    _case(h, "C2", at(2025, 3, 1), [i["A3"]], [("prosecuted", date(2025, 5, 1), ""),
                                                ("convicted", date(2025, 11, 1), "")])
    _case(h, "C3", at(2024, 6, 1), [i["B1"]], [("dismissed", date(2024, 9, 1), "insufficient_evidence"),
                                                ("prosecuted", date(2025, 2, 1), "")])
    _case(h, "C4", at(2025, 7, 1), [i["A4"]], [("dismissed", date(2025, 8, 1), "offender_unknown"),
                                                ("prosecuted", date(2025, 9, 1), "")])
    _case(h, "C5", at(2025, 8, 1), [i["A8"]], [("dismissed", date(2025, 10, 1), "insufficient_evidence")])


def _requests_and_exposure(h: History) -> None:
    info_request("Big Social", at(2025, 3, 1), "answered", answered=2 * D)
    info_request("Big Social", at(2025, 4, 1), "refused", answered=D)
    info_request("Big Social", at(2025, 5, 1), "no_answer")
    info_request("Big Social", at(2025, 12, 1), "open", deadline=at(2026, 1, 1))
    info_request("Small Chat", at(2025, 6, 1), "partial", answered=4 * D)
    info_request("Small Chat", at(2024, 6, 1), "answered", answered=H)
    ana, bert, sara = h.users["ana"], h.users["bert"], h.users["sara"]
    # A3's final verdict came from a second review that disagreed with bert's first assessment.
    a3 = h.items["A3"]
    final = Assessment.objects.get(item=a3)
    first = Assessment.objects.create(item=a3, analyst=bert, created_at=final.created_at - H, verdict="not_illegal",
                                      reason="age_unclear")
    Assessment.objects.filter(pk=final.pk).update(analyst=sara, kind="review", reviews=first, disagrees=True)
    for user, day, seconds, reveals in ((ana, date(2025, 1, 10), 3600, 2), (ana, date(2025, 1, 11), 7200, 0),
                                        (bert, date(2025, 3, 1), 600, 0), (ana, date(2024, 12, 31), 999, 1)):
        moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        Exposure.objects.create(user=user, day=day, seconds=seconds, reveals=reveals, last_seen_at=moment,
                                streak_started_at=moment)
