from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM
from hotline.partners.models import PoliceContact
from hotline.reports.models import Item
from hotline.routing.models import Referral
from hotline.takedown.models import Notice, Takedown, TakedownState
from hotline.takedown.scorecards import non_responders, scorecards, to_csv
from hotline.takedown.services import NewRequest, create_info_request, record_answer
from hotline.takedown.tests.conftest import MakeContact
from hotline.takedown.timings import for_takedown, human
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db
H, D = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def takedown_for(make_item: Callable[..., Item]) -> Callable[..., Takedown]:
    def make(contact: AbuseContact, first: datetime | None, *, acked: datetime | None = None,
             removed: datetime | None = None, reported: datetime | None = None, reuploads: int = 0) -> Takedown:
        item = make_item()
        start = reported or (first - H if first else timezone.now())
        takedown = Takedown.objects.create(
            item=item, state=TakedownState.REMOVED if removed else TakedownState.ONLINE, state_changed_at=start,
            opened_at=start, reported_at=start, contact=contact, provider=contact.provider, first_notice_at=first,
            acknowledged_at=acked, removed_at=removed, first_removed_at=removed, reuploads=reuploads)
        if first is not None:
            Notice.objects.create(kind="first", contact=contact, provider=contact.provider, channel="email",
                                  recipient=contact.email, language="en", state="sent", created_at=first, sent_at=first)
        return takedown

    return make


def test_the_scorecard_counts_times_shares_and_long_tails(make_contact: MakeContact, now: datetime,
                                                          takedown_for: Callable[..., Takedown]) -> None:
    fast, slow = make_contact("Fast BV"), make_contact("Slow BV")
    for hours in (1, 2, 3, 4, 30):  # removed 1 h, 2 h, 3 h, 4 h and 30 h after the first notice
        first = now - 10 * D
        takedown_for(fast, first, acked=first + 0.5 * H, removed=first + hours * H)
    takedown_for(slow, now - 50 * D)  # never removed: online for 50 days
    takedown_for(slow, now - 8 * D, removed=now - 4 * D)  # removed after 4 days
    takedown_for(slow, now - 2 * H)  # too recent for the 24 h share
    cards = {card.name: card for card in scorecards("provider", now=now)}
    good, bad = cards["Fast BV"], cards["Slow BV"]
    assert (good.notices_sent, good.items, good.removed) == (5, 5, 5)
    assert good.removal_median == 3 * H and good.removal_p90 == 30 * H and good.ack_median == 0.5 * H
    assert good.share("24h") == pytest.approx(0.8) and good.share("3d") == 1.0
    assert bad.share("24h") == 0.0 and bad.share("3d") == 0.0
    assert (bad.online_beyond[7], bad.online_beyond[30], bad.online_beyond[42]) == (1, 1, 1)
    assert next(card.name for card in scorecards("provider", now=now)) == "Slow BV"  # worst first
    by_contact = {card.key: card for card in scorecards("contact", now=now)}
    assert by_contact[fast.pk].items == 5 and by_contact[slow.pk].name == slow.name


def test_non_responders_are_silent_providers_and_unanswered_companies(
    make_contact: MakeContact, now: datetime, takedown_for: Callable[..., Takedown]
) -> None:
    silent, answering = make_contact("Silent BV"), make_contact("Answering BV")
    takedown_for(silent, now - 5 * D)
    takedown_for(answering, now - 5 * D, acked=now - 4 * D)
    request = create_info_request(NewRequest(
        kind="disclosure", on_behalf_of="hotline", company=answering.provider, company_name="Answering BV",
        email="legal@answering.example", subject_type="account", subject="u1", legal_basis="consent"),
        actor=SYSTEM, now=now - 30 * D)
    assert {card.name for card in non_responders(now=now)} == {"Silent BV", "Answering BV"}  # request overdue
    record_answer(request, "answered", note="", actor=SYSTEM, now=now)
    assert [card.name for card in non_responders(now=now)] == ["Silent BV"]
    card = next(c for c in scorecards("provider", now=now) if c.name == "Answering BV")
    assert (card.requests_total, card.requests_answered) == (1, 1)


def test_the_csv_export_has_every_column_and_defuses_formulas(make_contact: MakeContact, now: datetime,
                                                              takedown_for: Callable[..., Takedown]) -> None:
    takedown_for(make_contact("=HYPERLINK(1)"), now - 2 * D, removed=now - D)
    rows = list(csv.DictReader(io.StringIO(to_csv(scorecards("provider", now=now)))))
    assert rows[0]["name"] == "'=HYPERLINK(1)" and rows[0]["removed_within_3d"] == "100.0%"
    assert rows[0]["removal_median"] == "1 d 00:00"


def test_item_timings_run_from_the_report(make_contact: MakeContact, now: datetime,
                                          takedown_for: Callable[..., Takedown]) -> None:
    reported = now - 5 * D
    takedown = takedown_for(make_contact(), reported + 3 * H, reported=reported, removed=reported + 2 * D)
    police = PoliceContact.objects.create(name="Unit", country="BE", kind="national", email="u@police.example")
    referral = Referral.objects.create(key="6f3f5a4e-2a55-4a0e-9b0d-6b7a1f0e4c11", police=police, created_at=reported,
                                       status="sent", sent_at=reported + 2 * H)
    referral.items.add(takedown.item)
    timings = for_takedown(takedown, now=now)
    assert (timings.to_police, timings.to_notice, timings.to_removal) == (2 * H, 3 * H, 2 * D)
    assert timings.within == {"24h": False, "3d": True, "7d": True}
    still_online = takedown_for(make_contact(), now - 2 * H, reported=now - 3 * H)
    assert for_takedown(still_online, now=now).within == {"24h": None, "3d": None, "7d": None}
    assert human(D + 2 * H + 5 * timedelta(minutes=1)) == "1 d 02:05" and human(None) == "-"


def test_the_pages_show_scorecards_and_only_senior_staff_export(
    login: Any, personas: dict[str, User], make_contact: MakeContact, now: datetime,
    takedown_for: Callable[..., Takedown]
) -> None:
    takedown_for(make_contact("Listed BV"), now - 2 * D, removed=now - D)
    page = login(personas["analyst"]).get("/takedown/scorecards/")
    assert page.status_code == 200 and b"Listed BV" in page.content
    assert login(personas["analyst"]).get("/takedown/scorecards.csv").status_code == 403
    export = login(personas["manager"]).get("/takedown/scorecards.csv?by=contact")
    assert export.status_code == 200 and export["Content-Type"] == "text/csv"
    assert b"Listed BV abuse desk" in export.content

