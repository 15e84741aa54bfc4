"""The case timeline merges audit events, status time stamps, referrals with answers and outcomes in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from hotline.audit.services import SYSTEM
from hotline.cases.models import Case
from hotline.cases.services import add_items, record_outcome, refer_case
from hotline.cases.timeline import case_timeline
from hotline.partners.models import PoliceContact
from hotline.routing.models import Referral
from hotline.routing.services import record_police_answer

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_it_merges_every_source_in_time_order(assessed: Any, make_case: Callable[..., Case],
                                              unit: PoliceContact) -> None:
    with time_machine.travel(T0, tick=False):
        first = assessed("baseline", url="http://gallery.sim.test/a", at=at(1))
    with time_machine.travel(at(2), tick=False):
        second = assessed("national", url="http://gallery.sim.test/b", at=at(3))
    case = make_case([first], now=at(4))
    add_items(case, [second], actor=SYSTEM, now=at(5))
    referral = refer_case(case, unit, actor=SYSTEM, now=at(6))
    Referral.objects.filter(pk=referral.pk).update(status="sent", sent_at=at(7))
    referral.refresh_from_db()
    record_police_answer(referral, "accepted", actor=SYSTEM, now=at(8), note="pv 1")
    record_outcome(case, "received", date(2026, 3, 2), actor=SYSTEM, now=at(9))
    referral.refresh_from_db()
    entries = case_timeline(case, [first, second], [referral])
    seen = [(e.at, e.title) for e in entries]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert seen[:4] == [(T0, "item.created"), (T0, "First reported"), (T0, "Captured"), (at(1), "Assessed")]
    assert [title for moment, title in seen if moment >= at(4)] == [
        "Case opened", "Item added to the case",
        "routing.referral_queued", "routing.referral_queued", "Case referred to the police", "Police referral queued",
        "Police referral sent", "routing.police_answer", "Police answer: Accepted", "Outcome recorded",
        "Received by the police",
    ]
    outcome = next(e for e in entries if e.kind == "outcome")
    assert (outcome.at, outcome.date_only, outcome.title) == (datetime(2026, 3, 2, tzinfo=UTC), True,
                                                             "Received by the police")
    answer = next(e for e in entries if e.kind == "answer")
    assert answer.detail == "pv 1" and "(2 items)" in answer.subject
    added = next(e for e in entries if e.title == "Item added to the case")
    assert added.detail == f"#{second.pk} gallery.sim.test"


def test_it_leaves_out_items_the_viewer_may_not_see(assessed: Any, make_case: Callable[..., Case]) -> None:
    shown, hidden, later = assessed("baseline"), assessed("not_illegal"), assessed("not_illegal")
    case = make_case([shown, hidden], now=at(4))
    add_items(case, [later], actor=SYSTEM, now=at(5))
    entries = case_timeline(case, [shown], [])
    subjects = " ".join(e.subject for e in entries)
    assert f"#{shown.pk} " in subjects and f"#{hidden.pk} " not in subjects
    assert "Item added to the case" not in [e.title for e in entries]
    assert [e.title for e in case_timeline(case, [shown, hidden, later], []) if e.subject == case.reference][-1] == (
        "Item added to the case")
