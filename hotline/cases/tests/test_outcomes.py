"""Outcome history fed back by the police liaison: one row per event, the current one by date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, Actor
from hotline.cases import codes
from hotline.cases.models import Case, Outcome
from hotline.cases.services import CaseError, close_case, current_outcome, record_outcome
from hotline.cases.tests.conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(make_item: Any, make_case: Callable[..., Case]) -> Case:
    return make_case([make_item()])


def test_it_records_an_outcome_with_who_when_and_source(case: Case, police: User) -> None:
    outcome = record_outcome(case, "dismissed", date(2026, 3, 2), actor=Actor.of_user(police), now=NOW,
                             reason="offender_unknown", note="  parquet Brussel  ")
    assert (outcome.code, outcome.reason, outcome.decided_on, outcome.recorded_at, outcome.recorded_by,
            outcome.recorded_by_label, outcome.source, outcome.note) == (
        "dismissed", "offender_unknown", date(2026, 3, 2), NOW, police, "user:piet", "manual", "parquet Brussel")
    event = AuditEvent.objects.get(action="cases.outcome_recorded")
    assert (event.object_type, event.object_id, event.actor_user_id) == ("cases.case", str(case.pk), police.pk)
    assert event.after == {"outcome": "dismissed", "reason": "offender_unknown", "decided_on": "2026-03-02",
                           "source": "manual", "import": None, "note": "parquet Brussel"}


@pytest.mark.parametrize(("code", "on", "reason", "note", "field"), [
    ("archived", date(2026, 3, 1), "", "", "outcome"),
    ("dismissed", date(2026, 3, 1), "", "", "reason"),
    ("dismissed", date(2026, 3, 1), "bad_luck", "", "reason"),
    ("convicted", date(2026, 3, 1), "insufficient_evidence", "", "reason"),
    ("received", date(2026, 3, 12), "", "", "date"),
    ("received", date(2026, 3, 1), "", "x" * 2001, "note")])
def test_it_refuses_a_bad_outcome_naming_the_field(case: Case, code: str, on: date, reason: str, note: str,
                                                   field: str) -> None:
    with pytest.raises(CaseError) as caught:
        record_outcome(case, code, on, actor=SYSTEM, now=NOW, reason=reason, note=note)
    assert caught.value.field == field
    assert not Outcome.objects.exists()


def test_it_accepts_tomorrow_because_police_dates_are_local(case: Case) -> None:
    assert record_outcome(case, "received", NOW.date() + timedelta(days=1), actor=SYSTEM, now=NOW).pk


def test_it_refuses_the_same_outcome_on_the_same_date_twice(case: Case) -> None:
    record_outcome(case, "received", date(2026, 3, 1), actor=SYSTEM, now=NOW)
    with pytest.raises(CaseError, match="already recorded"):
        record_outcome(case, "received", date(2026, 3, 1), actor=SYSTEM, now=NOW, note="again")
    record_outcome(case, "received", date(2026, 3, 2), actor=SYSTEM, now=NOW)
    assert case.outcomes.count() == 2


def test_the_database_holds_the_event_key_and_the_reason_rule(case: Case) -> None:
    fields = {"case": case, "decided_on": date(2026, 3, 1), "recorded_at": NOW, "recorded_by_label": "x",
              "source": "manual"}
    Outcome.objects.create(code="received", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Outcome.objects.create(code="received", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Outcome.objects.create(code="dismissed", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Outcome.objects.create(code="convicted", reason="other", **fields)


def test_the_current_outcome_is_the_latest_by_date_whatever_the_order_recorded(case: Case) -> None:
    assert current_outcome(case) is None
    prosecuted = record_outcome(case, "prosecuted", date(2026, 2, 20), actor=SYSTEM, now=NOW)
    record_outcome(case, "received", date(2026, 1, 5), actor=SYSTEM, now=NOW + timedelta(minutes=1))
    record_outcome(case, "investigation", date(2026, 1, 20), actor=SYSTEM, now=NOW + timedelta(minutes=2))
    assert current_outcome(case) == prosecuted
    annotated: Any = Case.objects.with_current_outcome().get(pk=case.pk)
    assert (annotated.current_outcome, annotated.current_outcome_on) == ("prosecuted", date(2026, 2, 20))
    assert list(case.outcomes.values_list("code", flat=True)) == ["received", "investigation", "prosecuted"]


def test_on_the_same_date_the_one_recorded_last_is_current(case: Case) -> None:
    record_outcome(case, "prosecuted", date(2026, 3, 1), actor=SYSTEM, now=NOW + timedelta(minutes=5))
    convicted = record_outcome(case, "convicted", date(2026, 3, 1), actor=SYSTEM, now=NOW + timedelta(minutes=6))
    assert current_outcome(case) == convicted


def test_outcomes_may_still_be_recorded_on_a_closed_case(case: Case) -> None:
    close_case(case, actor=SYSTEM, now=NOW)
    assert record_outcome(case, "convicted", date(2026, 3, 9), actor=SYSTEM, now=NOW).code == "convicted"


def test_every_outcome_and_reason_has_labels_in_three_languages() -> None:
    for table, values in ((codes.LABELS, codes.OutcomeCode.values), (codes.REASON_LABELS,
                                                                      codes.DismissalReason.values)):
        assert set(table) == set(values)
        assert all(set(labels) == {"en", "nl", "fr"} and all(labels.values()) for labels in table.values())
    assert codes.outcome_label("dismissed", "nl") == "Seponering"
    assert codes.outcome_label("dismissed", "fr-be") == "Classement sans suite"
    assert codes.outcome_label("dismissed", "de") == "Dismissed"


@pytest.mark.parametrize(("text", "code"), [
    ("dismissed", "dismissed"), ("Seponering", "dismissed"), ("classement  sans suite", "dismissed"),
    ("CLASSEMENT SANS SUITE", "dismissed"), ("Enquête ouverte", "investigation"), ("enquete ouverte", "investigation"),
    ("Veroordeeld", "convicted"), ("condamné", "convicted"), ("Investigation", "investigation"),
    ("archived", None), ("", None)])
def test_it_reads_an_outcome_from_its_code_or_any_label(text: str, code: str | None) -> None:
    assert codes.parse_outcome(text) == code


def test_it_reads_a_dismissal_reason_from_its_code_or_any_label() -> None:
    assert codes.parse_reason("Dader onbekend") == "offender_unknown"
    assert codes.parse_reason("charges insuffisantes") == "insufficient_evidence"
    assert codes.parse_reason("not-punishable") == "not_punishable"
    assert codes.parse_reason("because") is None
