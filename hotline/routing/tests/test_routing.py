from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.routing.models import Decision, Referral, Route
from hotline.routing.services import decide, mark_notice_taken, route_item
from hotline.routing.steps import routing_step
from hotline.routing.tests.conftest import MakeTrace
from hotline.tracing.models import TraceOutcome

pytestmark = pytest.mark.django_db


def test_it_refers_a_domestic_item_to_the_police_and_holds_the_notice(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any], settings: Any) -> None:
    settings.HOTLINE_POLICE_HOLD_HOURS = 48
    item = assessed("baseline")
    now = timezone.now()
    decision = route_item(item, trace=make_trace(item, "BE"), now=now)
    assert decision.route == Route.DOMESTIC
    assert decision.police == directory["national"]
    assert decision.hold_until == now + timedelta(hours=48)
    assert decision.notice_due_at == decision.hold_until
    referral = Referral.objects.get(items=item)
    assert (referral.police, referral.hold_until, referral.status) == (directory["national"], decision.hold_until,
                                                                      "queued")
    assert not Decision.objects.notice_due(now + timedelta(hours=47)).exists()
    assert list(Decision.objects.notice_due(now + timedelta(hours=48))) == [decision]
    event = AuditEvent.objects.filter(action="routing.decided", object_id=str(item.pk)).get()
    assert event.after is not None
    assert event.after["inputs"]["country"] == "BE" and event.after["route"] == "domestic"


def test_a_hold_of_zero_hours_refers_without_a_hold_and_the_notice_is_due_at_once(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any], settings: Any) -> None:
    settings.HOTLINE_POLICE_HOLD_HOURS = 0
    item = assessed("baseline")
    now = timezone.now()
    decision = route_item(item, trace=make_trace(item, "BE"), now=now)
    assert (decision.route, decision.hold_until, decision.notice_due_at) == (Route.DOMESTIC, None, now)
    referral = Referral.objects.get(items=item)
    assert (referral.hold_until, referral.status) == (None, "queued")
    assert list(Decision.objects.notice_due(now)) == [decision]


def test_it_sends_nothing_itself_for_an_item_abroad_with_a_partner(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    item = assessed("national")
    decision = route_item(item, trace=make_trace(item, "NL"), now=timezone.now())
    assert (decision.route, decision.partner, decision.police) == (Route.PARTNER, directory["nl"], None)
    assert decision.notice_due_at is None and decision.hold_until is None
    assert not Referral.objects.exists()


@pytest.mark.parametrize("direct", [False, True])
def test_it_uses_the_international_police_channel_abroad_without_a_partner(
        direct: bool, assessed: Any, make_trace: MakeTrace, directory: dict[str, Any],
        settings: Any) -> None:
    settings.HOTLINE_DIRECT_NOTICE_ABROAD = direct
    item = assessed("baseline")
    now = timezone.now()
    decision = route_item(item, trace=make_trace(item, "US"), now=now)
    assert (decision.route, decision.police) == (Route.INTERNATIONAL_POLICE, directory["international"])
    assert decision.direct_notice is direct
    assert decision.notice_due_at == (now if direct else None)
    assert Referral.objects.get(items=item).police == directory["international"]


@pytest.mark.parametrize(("mode", "police", "notice"), [
    ("police", True, False), ("notice", False, True), ("police_and_notice", True, True), ("none", False, False)])
def test_other_harm_takes_its_own_route_never_the_csam_route(
        mode: str, police: bool, notice: bool, assessed: Any, make_trace: MakeTrace, directory: dict[str, Any],
        settings: Any) -> None:
    settings.HOTLINE_OTHER_HARM_ROUTE = mode
    item = assessed("other_harm")
    decision = route_item(item, trace=make_trace(item, "BE"), now=timezone.now())
    assert decision.route == Route.OTHER_HARM
    assert (decision.police is not None, decision.notice_due_at is not None) == (police, notice)
    assert decision.hold_until is None


def test_a_not_illegal_item_is_not_routed(assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    item = assessed("not_illegal")
    assert decide(item, make_trace(item, "BE")).route == Route.NONE


@pytest.mark.parametrize("outcome", [TraceOutcome.NXDOMAIN, TraceOutcome.SERVFAIL, TraceOutcome.NO_ADDRESS])
def test_an_unknown_location_goes_to_an_analyst(outcome: str, assessed: Any, make_trace: MakeTrace,
                                                directory: dict[str, Any]) -> None:
    item = assessed("baseline")
    decision = route_item(item, trace=make_trace(item, outcome=outcome), now=timezone.now())
    assert (decision.route, decision.needs_analyst, decision.notice_due_at) == (Route.UNKNOWN_LOCATION, True, None)


def test_disputed_signals_route_by_majority_and_flag_an_analyst(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    item = assessed("baseline")
    decision = route_item(item, trace=make_trace(item, "BE", disputed=True), now=timezone.now())
    assert (decision.route, decision.needs_analyst) == (Route.DOMESTIC, True)


def test_a_missing_police_contact_is_flagged_not_lost(assessed: Any, make_trace: MakeTrace) -> None:
    item = assessed("baseline")
    decision = route_item(item, trace=make_trace(item, "BE"), now=timezone.now())
    assert (decision.route, decision.police, decision.needs_analyst) == (Route.DOMESTIC, None, True)
    assert decision.inputs["reasons"] == ["no national police contact in the directory"]


def test_a_changed_country_supersedes_the_decision_and_keeps_history(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    item = assessed("baseline")
    now = timezone.now()
    first = route_item(item, trace=make_trace(item, "BE", at=now), now=now)
    same = route_item(item, trace=make_trace(item, "BE", at=now + timedelta(minutes=5)), now=now)
    assert same.pk == first.pk
    moved = route_item(item, trace=make_trace(item, "NL", at=now + timedelta(hours=1)), now=now + timedelta(hours=1))
    first.refresh_from_db()
    assert first.superseded_at == now + timedelta(hours=1)
    assert (moved.route, moved.partner) == (Route.PARTNER, directory["nl"])
    assert list(Decision.objects.current().filter(item=item)) == [moved]
    assert Decision.objects.filter(item=item).count() == 2


def test_a_new_provider_at_home_keeps_the_hold_and_wants_a_new_notice(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    item = assessed("baseline")
    now = timezone.now()
    first = route_item(item, trace=make_trace(item, "BE", provider="A"), now=now)
    mark_notice_taken(first, now=now)
    second = route_item(item, trace=make_trace(item, "BE", provider="B"), now=now + timedelta(hours=1))
    assert second.pk != first.pk
    assert second.hold_until == first.hold_until
    assert second.notice_due_at == first.hold_until
    assert Referral.objects.filter(items=item).count() == 2


def test_the_worker_routes_each_new_trace_once(assessed: Any, make_trace: MakeTrace,
                                               directory: dict[str, Any]) -> None:
    items = [assessed("baseline") for _ in range(3)]
    for item, country in zip(items, ["BE", "NL", "US"], strict=True):
        make_trace(item, country)
    unrouted = assessed("baseline")
    assert routing_step() is True
    assert routing_step() is False
    routes = dict(Decision.objects.current().values_list("item_id", "route"))
    assert routes == {items[0].pk: "domestic", items[1].pk: "partner", items[2].pk: "international_police"}
    assert unrouted.pk not in routes
    make_trace(items[1], "NL", at=timezone.now() + timedelta(minutes=1))
    assert routing_step() is True
    assert Decision.objects.filter(item=items[1]).count() == 1
    assert routing_step() is False


def test_taking_a_notice_twice_is_refused(assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    from hotline.routing.services import RoutingError

    item = assessed("baseline")
    decision = route_item(item, trace=make_trace(item, "BE"), now=timezone.now())
    mark_notice_taken(decision, now=timezone.now())
    with pytest.raises(RoutingError):
        mark_notice_taken(decision, now=timezone.now())
    assert Decision.objects.get(pk=decision.pk).inputs["notice_taken_at"]


def test_routing_is_audited_with_its_actor(assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    item = assessed("baseline")
    route_item(item, trace=make_trace(item, "BE"), now=timezone.now(), actor=SYSTEM)
    actions = list(AuditEvent.objects.filter(object_id=str(item.pk)).values_list("action", flat=True))
    assert "routing.decided" in actions and "routing.referral_queued" in actions


def test_a_forward_to_the_partner_is_queued(assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    from hotline.partners.models import Forward

    item = assessed("baseline")
    route_item(item, trace=make_trace(item, "NL"), now=timezone.now())
    assert Forward.objects.get(item=item).partner == directory["nl"]


def test_a_partner_that_cannot_be_reached_is_flagged_not_lost(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    directory["nl"].endpoint = ""
    directory["nl"].save()
    item = assessed("baseline")
    decision = route_item(item, trace=make_trace(item, "NL"), now=timezone.now())
    assert (decision.route, decision.needs_analyst) == (Route.PARTNER, True)
    assert "no exchange endpoint" in decision.inputs["reasons"][-1]


def test_the_worker_moves_each_standing_decision_to_its_own_newest_trace(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    now = timezone.now()
    items = [assessed("baseline") for _ in range(3)]
    for item in items:
        make_trace(item, "BE", at=now)
    assert routing_step(now=now) is True
    first = {d.item_id: d.pk for d in Decision.objects.current()}
    # a re-trace of two of them, the same facts: the decisions stand and follow their own newest trace
    newer = {item.pk: make_trace(item, "BE", at=now + timedelta(minutes=k + 1)).pk for k, item in enumerate(items[:2])}
    assert routing_step(now=now + timedelta(minutes=5)) is True
    current = {d.item_id: (d.pk, d.trace_id) for d in Decision.objects.current()}
    assert {pk: decision for pk, (decision, _) in current.items()} == first  # none superseded
    assert current[items[0].pk][1] == newer[items[0].pk] and current[items[1].pk][1] == newer[items[1].pk]
    assert current[items[2].pk][1] != newer[items[0].pk]  # untouched
    assert routing_step(now=now + timedelta(minutes=6)) is False
    event = AuditEvent.objects.filter(action="routing.decided", object_id=str(items[0].pk)).get()
    assert event.after is not None and event.after["inputs"]["provider"] == "Host BV"  # the trace's provider, read


def test_the_police_contact_for_the_home_country_comes_first(assessed: Any, make_trace: MakeTrace) -> None:
    from hotline.partners.models import PoliceContact

    abroad = PoliceContact.objects.create(name="Elsewhere", country="FR", kind="national", email="a@police.example")
    item = assessed("baseline")
    assert route_item(item, trace=make_trace(item, "BE"), now=timezone.now()).police == abroad  # the only one
    home = PoliceContact.objects.create(name="Home", country="BE", kind="national", email="h@police.example")
    other = assessed("baseline")
    assert route_item(other, trace=make_trace(other, "BE"), now=timezone.now()).police == home
    home.active = False
    home.save()
    third = assessed("baseline")
    assert route_item(third, trace=make_trace(third, "BE"), now=timezone.now()).police == abroad


def test_taking_notices_at_once_adds_the_time_to_each_decisions_inputs(assessed: Any, make_trace: MakeTrace,
                                                                      directory: dict[str, Any]) -> None:
    from hotline.routing.services import RoutingError, mark_notices_taken

    decisions = [route_item(item, trace=make_trace(item, "BE"), now=timezone.now())
                 for item in (assessed("baseline"), assessed("baseline"), assessed("baseline"))]
    Decision.objects.filter(pk=decisions[1].pk).update(inputs={**decisions[1].inputs, "notice_taken_at": "earlier"})
    decisions[1].refresh_from_db()
    other = assessed("baseline")
    untouched = route_item(other, trace=make_trace(other, "BE"), now=timezone.now())
    now = timezone.now()
    expected = {d.pk: {**d.inputs, "notice_taken_at": now.isoformat()} for d in decisions}
    mark_notices_taken(decisions, now=now)
    assert {d.pk: d.inputs for d in decisions} == expected
    stored = {d.pk: (d.inputs, d.notice_due_at) for d in Decision.objects.filter(pk__in=expected)}
    assert stored == {pk: (inputs, None) for pk, inputs in expected.items()}  # an earlier time replaced
    assert Decision.objects.get(pk=untouched.pk).inputs == untouched.inputs
    with pytest.raises(RoutingError):
        mark_notices_taken(decisions[:1], now=now)
