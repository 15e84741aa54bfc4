"""Case pages: who sees what (the police liaison: illegal and referred items only), the forms, the filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM
from hotline.cases.models import Case, Outcome, OutcomeImport
from hotline.cases.services import close_case, record_outcome, refer_case
from hotline.partners.models import PoliceContact
from hotline.routing.models import Referral
from hotline.routing.services import record_police_answer

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]
MakeCase = Callable[..., Case]


def detail(case: Case) -> str:
    return reverse("cases:detail", kwargs={"pk": case.pk})


def page_messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def mixed(assessed: Any, make_case: MakeCase) -> tuple[Case, Any, Any]:
    illegal = assessed("baseline", url="http://shown.sim.test/gallery")
    clean = assessed("not_illegal", url="http://hidden.sim.test/holiday")
    return make_case([illegal, clean]), illegal, clean


def test_the_police_liaison_sees_the_case_but_only_its_illegal_items(
        mixed: tuple[Case, Any, Any], client_for: ClientFor, police: User, analyst: User) -> None:
    case, illegal, clean = mixed
    page = client_for(police).get(detail(case)).content.decode()
    assert illegal.canonical_url in page and "shown.sim.test" in page
    assert clean.canonical_url not in page and "hidden.sim.test" not in page and f"#{clean.pk} " not in page
    staff_page = client_for(analyst).get(detail(case)).content.decode()
    assert clean.canonical_url in staff_page and "hidden.sim.test" in staff_page


def test_the_police_liaison_does_not_see_a_case_without_illegal_items(
        assessed: Any, make_case: MakeCase, client_for: ClientFor, police: User) -> None:
    case = make_case([assessed("not_illegal")], title="Nothing for the police")
    client = client_for(police)
    assert client.get(detail(case)).status_code == 404
    assert client.post(reverse("cases:outcome", kwargs={"pk": case.pk}),
                       {"outcome": "received", "decided_on": "2026-01-10"}).status_code == 404
    assert "Nothing for the police" not in client.get(reverse("cases:list")).content.decode()
    assert not Outcome.objects.exists()


def test_the_police_liaison_sees_a_case_whose_other_harm_was_referred_to_the_police(
        assessed: Any, make_case: MakeCase, client_for: ClientFor, police: User) -> None:
    from hotline.routing.services import refer_items

    grooming = assessed("other_harm", url="http://referred.sim.test/chat")
    kept = assessed("other_harm", url="http://kept.sim.test/chat")
    case = make_case([grooming, kept], title="Grooming, referred")
    client = client_for(police)
    assert client.get(detail(case)).status_code == 404  # nothing of it is the police's yet
    national = PoliceContact.objects.create(name="National police", country="BE", email="np@police.example",
                                            kind=PoliceContact.Kind.NATIONAL)
    refer_items([grooming], national, actor=SYSTEM, now=timezone.now())
    page = client.get(detail(case)).content.decode()
    assert "referred.sim.test" in page and "kept.sim.test" not in page


def test_the_list_filters_by_status_and_current_outcome(make_item: Any, make_case: MakeCase,
                                                        client_for: ClientFor, manager: User) -> None:
    item = make_item()
    dismissed, convicted, _fresh = (make_case([item], title=t) for t in ("Alpha", "Bravo", "Charlie"))
    record_outcome(dismissed, "dismissed", date(2026, 2, 1), actor=SYSTEM, now=timezone.now(), reason="other")
    record_outcome(convicted, "dismissed", date(2026, 1, 1), actor=SYSTEM, now=timezone.now(), reason="other")
    record_outcome(convicted, "convicted", date(2026, 2, 1), actor=SYSTEM, now=timezone.now())
    close_case(convicted, actor=SYSTEM, now=timezone.now())
    client = client_for(manager)

    def titles(**query: str) -> set[str]:
        response = client.get(reverse("cases:list"), query)
        return {case.title for case in response.context["page"]}

    assert titles() == {"Alpha", "Bravo", "Charlie"}
    assert titles(outcome="dismissed") == {"Alpha"}
    assert titles(outcome="convicted") == {"Bravo"}
    assert titles(outcome="none") == {"Charlie"}
    assert titles(status="closed") == {"Bravo"}
    assert titles(status="open", outcome="dismissed") == {"Alpha"}
    assert titles(q="charl") == {"Charlie"}
    assert "Classement sans suite" in client.get("/fr/cases/", {"outcome": "dismissed"}).content.decode()


def test_the_detail_shows_referrals_with_their_answers_and_the_outcomes(
        mixed: tuple[Case, Any, Any], client_for: ClientFor, senior: User, unit: PoliceContact) -> None:
    case = mixed[0]
    referral = refer_case(case, unit, actor=SYSTEM, now=timezone.now())
    Referral.objects.filter(pk=referral.pk).update(status="sent", sent_at=timezone.now())
    record_police_answer(referral, "not_pursued", actor=SYSTEM, now=timezone.now(), note="no lead")
    record_outcome(case, "dismissed", date(2026, 2, 1), actor=SYSTEM, now=timezone.now(), reason="offender_unknown")
    response = client_for(senior).get(detail(case))
    page = response.content.decode()
    assert response.context["referrals"] == [referral]
    assert "Not pursued" in page and "no lead" in page and "National unit" in page
    assert "Offender unknown" in page and response.context["current"].code == "dismissed"
    dutch = client_for(senior).get(f"/nl{detail(case)}").content.decode()
    assert "Seponering" in dutch and "Dader onbekend" in dutch


def test_an_analyst_opens_a_case_from_ticked_and_typed_items(make_item: Any, client_for: ClientFor,
                                                             analyst: User) -> None:
    a, b, c = (make_item(f"http://board.sim.test/t/{n}") for n in range(3))
    client = client_for(analyst)
    listing = client.get(reverse("cases:new"), {"host": "board.sim"})
    assert {item.pk for item in listing.context["candidates"]} == {a.pk, b.pk, c.pk}
    response = client.post(reverse("cases:new"), {"title": "Board", "kind": "same_site", "items": [
        str(a.pk), f"#{b.pk}, {c.pk}"]})
    case = Case.objects.get()
    assert response.status_code == 302 and response.headers["Location"] == detail(case)
    assert sorted(case.items.values_list("pk", flat=True)) == sorted([a.pk, b.pk, c.pk])
    assert case.created_by == analyst


@pytest.mark.parametrize(("items", "message"), [("12abc", "12abc is not an item number"),
                                                ("999999", "no item #999999"), ("", "This field is required")])
def test_it_names_the_bad_item_numbers(items: str, message: str, client_for: ClientFor, analyst: User) -> None:
    response = client_for(analyst).post(reverse("cases:new"), {"title": "T", "kind": "other", "items": items})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["items"])
    assert not Case.objects.exists()


def test_items_are_added_and_removed_through_the_page(make_item: Any, make_case: MakeCase, client_for: ClientFor,
                                                      manager: User) -> None:
    a, b = make_item(), make_item()
    case = make_case([a])
    client = client_for(manager)
    response = client.post(reverse("cases:add_items", kwargs={"pk": case.pk}), {"items": f"{b.pk}"}, follow=True)
    assert "1 items added." in page_messages(response)
    response = client.post(reverse("cases:remove_item", kwargs={"pk": case.pk}), {"item": a.pk}, follow=True)
    assert f"Item #{a.pk} removed." in page_messages(response)
    assert list(case.items.all()) == [b]
    response = client.post(reverse("cases:remove_item", kwargs={"pk": case.pk}), {"item": b.pk}, follow=True)
    assert any(m.startswith("item: the last item") for m in page_messages(response))


def test_the_police_liaison_records_an_outcome_and_is_told_the_field_at_fault(
        mixed: tuple[Case, Any, Any], client_for: ClientFor, police: User) -> None:
    case = mixed[0]
    url = reverse("cases:outcome", kwargs={"pk": case.pk})
    client = client_for(police)
    refused = client.post(url, {"outcome": "dismissed", "decided_on": "2026-01-10"}, follow=True)
    assert any(m.startswith("reason: a dismissal needs a reason") for m in page_messages(refused))
    bad_date = client.post(url, {"outcome": "received", "decided_on": "yesterday"}, follow=True)
    assert any(m.startswith("decided_on: ") for m in page_messages(bad_date))
    client.post(url, {"outcome": "dismissed", "decided_on": "2026-01-10", "reason": "not_punishable", "note": "n"})
    outcome = Outcome.objects.get()
    assert (outcome.code, outcome.reason, outcome.recorded_by, outcome.source) == (
        "dismissed", "not_punishable", police, "manual")


def test_a_senior_analyst_refers_the_case(mixed: tuple[Case, Any, Any], client_for: ClientFor, senior: User,
                                          unit: PoliceContact) -> None:
    case, illegal, _ = mixed
    response = client_for(senior).post(reverse("cases:refer", kwargs={"pk": case.pk}), {"police": unit.pk},
                                       follow=True)
    referral = case.referrals.get()
    assert list(referral.items.all()) == [illegal]
    assert "Referral queued for National unit (BE, National unit) with 1 items." in page_messages(response)


def test_the_police_liaison_uploads_outcomes_and_sees_each_refused_line(
        mixed: tuple[Case, Any, Any], assessed: Any, make_case: MakeCase, client_for: ClientFor,
        police: User) -> None:
    case = mixed[0]
    hidden = make_case([assessed("not_illegal")])
    text = (f"case_reference,outcome,date,reason,note\n{case.reference},received,2026-01-10,,\n"
            f"{hidden.reference},received,2026-01-10,,\n{case.reference},seponering,2026-02-01,,\n")
    client = client_for(police)
    response = client.post(reverse("cases:import"), {"file": SimpleUploadedFile("p.csv", text.encode())})
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.created, result.error_count) == (1, 2)
    page = response.content.decode()
    assert f"no case {hidden.reference}" in page and "a dismissal needs a reason" in page
    assert not hidden.outcomes.exists() and result.imported_by == police
    again = client.post(reverse("cases:import"), {"file": SimpleUploadedFile("p.csv", text.encode())})
    assert (again.context["result"].created, again.context["result"].existing) == (0, 1)
    broken = client.post(reverse("cases:import"), {"file": SimpleUploadedFile("p.csv", b"nothing,useful\n")})
    assert broken.status_code == 400 and "header: missing column(s)" in broken.content.decode()
    assert OutcomeImport.objects.count() == 2


def test_a_closed_case_offers_reopening_and_no_membership_changes(
        make_item: Any, make_case: MakeCase, client_for: ClientFor, analyst: User) -> None:
    case = make_case([make_item()])
    client = client_for(analyst)
    response = client.post(reverse("cases:close", kwargs={"pk": case.pk}), {"note": "done"}, follow=True)
    assert "The case is closed." in page_messages(response)
    page = response.content.decode()
    assert "Reopen the case" in page and reverse("cases:add_items", kwargs={"pk": case.pk}) not in page
    refused = client.post(reverse("cases:add_items", kwargs={"pk": case.pk}), {"items": str(make_item().pk)},
                          follow=True)
    assert any(m.startswith("status: ") for m in page_messages(refused))
    client.post(reverse("cases:reopen", kwargs={"pk": case.pk}))
    case.refresh_from_db()
    assert case.status == "open" and case.reopened_at is not None
