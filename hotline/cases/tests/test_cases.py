"""Case files: references, membership, closing and referring, each audited."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, Actor
from hotline.cases.models import Case, CaseItem, CaseSequence
from hotline.cases.services import (
    CaseError,
    add_items,
    close_case,
    open_case,
    refer_case,
    remove_item,
    reopen_case,
)
from hotline.cases.tests.conftest import NOW
from hotline.partners.models import PoliceContact
from hotline.reports.models import Item
from hotline.routing.models import Referral

pytestmark = pytest.mark.django_db

MakeCase = Callable[..., Case]


def actions(case: Case) -> list[str]:
    return list(AuditEvent.objects.for_object("cases.case", case.pk).values_list("action", flat=True))


def test_it_numbers_cases_per_year_in_order(make_item: Any, make_case: MakeCase) -> None:
    item = make_item()
    first, second = make_case([item]), make_case([item])
    next_year = make_case([item], now=datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
    assert [first.reference, second.reference, next_year.reference] == [
        "CASE-2026-0001", "CASE-2026-0002", "CASE-2027-0001"]
    assert dict(CaseSequence.objects.values_list("year", "last")) == {2026: 2, 2027: 1}


def test_it_never_hands_out_a_number_twice_after_a_rollback(make_item: Any, make_case: MakeCase) -> None:
    item = make_item()
    make_case([item])
    with pytest.raises(RuntimeError), transaction.atomic():
        make_case([item])
        raise RuntimeError("the caller's transaction fails after the case was opened")
    assert make_case([item]).reference == "CASE-2026-0002"
    assert Case.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_it_gives_eight_concurrent_writers_eight_different_references(make_item: Any) -> None:
    item, start = make_item(), threading.Barrier(8)
    references: list[str] = []
    errors: list[BaseException] = []

    def open_one(n: int) -> None:
        try:
            start.wait()
            references.append(open_case(f"case {n}", "other", [item], actor=SYSTEM, now=NOW).reference)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(references) == [f"CASE-2026-{n:04d}" for n in range(1, 9)]


def test_it_opens_a_case_with_its_items_and_audits_it(make_item: Any, make_case: MakeCase, analyst: User) -> None:
    items = [make_item(), make_item()]
    case = make_case([*items, items[0]], title="  Same series  ", kind="same_series")
    assert (case.title, case.kind, case.status, case.opened_at, case.created_by) == (
        "Same series", "same_series", "open", NOW, analyst)
    assert sorted(case.items.values_list("pk", flat=True)) == sorted(i.pk for i in items)
    event = AuditEvent.objects.get(action="cases.opened")
    assert event.after == {"reference": case.reference, "kind": "same_series", "title": "Same series",
                           "items": sorted(i.pk for i in items)}
    assert event.actor_user_id == analyst.pk


@pytest.mark.parametrize(("title", "kind", "no_items", "field"), [
    ("", "same_site", False, "title"), ("x" * 201, "same_site", False, "title"),
    ("Title", "same_planet", False, "kind"), ("Title", "same_site", True, "items")])
def test_it_refuses_a_case_naming_the_field(title: str, kind: str, no_items: bool, field: str,
                                            make_item: Any) -> None:
    items = [] if no_items else [make_item()]
    with pytest.raises(CaseError) as caught:
        open_case(title, kind, items, actor=SYSTEM, now=NOW)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")
    assert not Case.objects.exists() and not AuditEvent.objects.filter(action__startswith="cases.").exists()


def test_it_adds_only_new_items_and_removes_one(make_item: Any, make_case: MakeCase) -> None:
    a, b, c = make_item(), make_item(), make_item()
    case = make_case([a])
    later = NOW + timedelta(hours=1)
    assert add_items(case, [a, b, c, b], actor=SYSTEM, now=later) == 2
    assert add_items(case, [a, b], actor=SYSTEM, now=later) == 0
    assert CaseItem.objects.get(case=case, item=b).added_at == later
    remove_item(case, b, actor=SYSTEM, now=later)
    assert sorted(case.items.values_list("pk", flat=True)) == [a.pk, c.pk]
    assert actions(case) == ["cases.opened", "cases.item_added", "cases.item_added", "cases.item_removed"]
    removed = AuditEvent.objects.get(action="cases.item_removed")
    assert removed.before == {"item": b.pk, "added_at": later.isoformat()}


def test_an_item_may_belong_to_several_cases(make_item: Any, make_case: MakeCase) -> None:
    item = make_item()
    first, second = make_case([item]), make_case([item], kind="same_suspect")
    assert set(item.cases.all()) == {first, second}


def test_it_refuses_to_remove_an_absent_or_the_last_item(make_item: Any, make_case: MakeCase) -> None:
    a, stranger = make_item(), make_item()
    case = make_case([a])
    with pytest.raises(CaseError, match="not in case"):
        remove_item(case, stranger, actor=SYSTEM, now=NOW)
    with pytest.raises(CaseError, match="last item"):
        remove_item(case, a, actor=SYSTEM, now=NOW)
    assert list(case.items.all()) == [a]


def test_a_closed_case_takes_no_items_until_reopened(make_item: Any, make_case: MakeCase) -> None:
    a, b = make_item(), make_item()
    case = make_case([a])
    closed = close_case(case, actor=SYSTEM, now=NOW + timedelta(days=1), note="all gone")
    assert (closed.status, closed.closed_at) == ("closed", NOW + timedelta(days=1))
    with pytest.raises(CaseError, match="closed"):
        add_items(case, [b], actor=SYSTEM, now=NOW)
    with pytest.raises(CaseError, match="status: "):
        close_case(case, actor=SYSTEM, now=NOW)
    reopened = reopen_case(case, actor=SYSTEM, now=NOW + timedelta(days=2))
    assert (reopened.status, reopened.reopened_at, reopened.closed_at) == (
        "open", NOW + timedelta(days=2), NOW + timedelta(days=1))
    assert add_items(case, [b], actor=SYSTEM, now=NOW) == 1
    assert actions(case) == ["cases.opened", "cases.closed", "cases.reopened", "cases.item_added"]
    assert AuditEvent.objects.get(action="cases.closed").after == {"status": "closed", "note": "all gone"}


def test_it_refers_the_illegal_items_of_a_case_as_one_linked_referral(
        assessed: Any, make_item: Any, make_case: MakeCase, unit: PoliceContact, senior: User) -> None:
    illegal, national, clean = assessed("baseline"), assessed("national"), assessed("not_illegal")
    case = make_case([illegal, national, clean, make_item()])
    referral = refer_case(case, unit, actor=Actor.of_user(senior), now=NOW)
    assert (referral.police, referral.status, referral.created_at) == (unit, "queued", NOW)
    assert sorted(referral.items.values_list("pk", flat=True)) == sorted([illegal.pk, national.pk])
    assert list(case.referrals.all()) == [referral]
    event = AuditEvent.objects.get(action="cases.referred")
    assert event.after == {"referral": str(referral.key), "police": unit.pk,
                           "items": sorted([illegal.pk, national.pk])}
    assert AuditEvent.objects.filter(action="routing.referral_queued").count() == 2


def test_it_refuses_a_referral_without_illegal_items_an_inactive_contact_or_a_closed_case(
        assessed: Any, make_case: MakeCase, unit: PoliceContact) -> None:
    clean = make_case([assessed("not_illegal")])
    with pytest.raises(CaseError, match=r"^items: "):
        refer_case(clean, unit, actor=SYSTEM, now=NOW)
    case = make_case([assessed("baseline")])
    retired = PoliceContact.objects.create(name="Old unit", country="BE", kind="national", active=False)
    with pytest.raises(CaseError, match=r"^police: "):
        refer_case(case, retired, actor=SYSTEM, now=NOW)
    close_case(case, actor=SYSTEM, now=NOW)
    with pytest.raises(CaseError, match=r"^status: "):
        refer_case(case, unit, actor=SYSTEM, now=NOW)
    assert not Referral.objects.exists()


def test_an_item_in_a_case_cannot_be_deleted_under_it(make_item: Any, make_case: MakeCase) -> None:
    from django.db.models import ProtectedError

    item: Item = make_item()
    make_case([item])
    with pytest.raises(ProtectedError):
        item.delete()
