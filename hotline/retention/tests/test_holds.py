"""Legal holds: held data is skipped by every purge, release resumes it, and both are audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hotline.accounts.models import User
from hotline.assessment.models import Assessment
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.cases.models import Case, CaseItem
from hotline.evidence.models import Media
from hotline.reports.models import Item, Report, Source
from hotline.reports.services import IncomingReport, receive_reports
from hotline.retention import registry
from hotline.retention.models import Hold
from hotline.retention.services import HoldError, place_hold, release_hold, run_class
from hotline.retention.tests.conftest import DAY, T0, Settle
from hotline.tracing.models import Trace

pytestmark = pytest.mark.django_db
LATER = T0 + 400 * DAY


def run(name: str) -> int:
    return run_class(registry.policy(name), now=LATER).purged


def test_a_held_item_keeps_its_media_until_the_hold_is_released(
        settled: Settle, media_of: Callable[..., Media], admin_user: User) -> None:
    held, free = settled("not_illegal"), settled("not_illegal")
    held_media, free_media = media_of(held), media_of(free)
    hold = place_hold("item", held.pk, reason="Investigation 2030/17", user=admin_user, now=T0)

    assert run("media") == 1
    held_media.refresh_from_db()
    free_media.refresh_from_db()
    assert held_media.blob_id is not None and free_media.blob_id is None

    release_hold(hold, user=admin_user, reason="Investigation closed", now=T0 + DAY)
    assert run("media") == 1
    held_media.refresh_from_db()
    assert held_media.blob_id is None


def test_a_hold_covers_every_class_of_the_item(settled: Settle, media_of: Callable[..., Media],
                                               admin_user: User) -> None:
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=["http://held.sim.test/p"], text="Synthetic.",
                                    reporter_contact="reporter@mail.example")], actor=SYSTEM, now=T0)
    item = Item.objects.get(host="held.sim.test")
    Assessment.objects.create(item=item, created_at=T0, verdict="not_illegal", notes="note")
    for day in (0, 1, 2):
        Trace.objects.create(item=item, traced_at=T0 + day * DAY, host=item.host, outcome="ok", country="BE")
    place_hold("item", item.pk, reason="Court order 42", user=admin_user, now=T0)

    assert [run(name) for name in ("reporter_contact", "report_text", "assessment_notes", "trace_snapshots")] == [
        0, 0, 0, 0]
    assert Report.objects.get().reporter_contact == "reporter@mail.example" and Report.objects.get().text
    assert Trace.objects.filter(item=item).count() == 3


def test_a_held_case_protects_each_of_its_items(settled: Settle, media_of: Callable[..., Media],
                                                admin_user: User) -> None:
    inside, outside = settled("not_illegal"), settled("not_illegal")
    media_inside, media_outside = media_of(inside), media_of(outside)
    case = Case.objects.create(reference="C-2030-0001", kind="same_site", title="Synthetic case", opened_at=T0,
                               status_changed_at=T0)
    CaseItem.objects.create(case=case, item=inside, added_at=T0)
    place_hold("case", case.pk, reason="Prosecutor request", user=admin_user, now=T0)

    assert run("media") == 1
    media_inside.refresh_from_db()
    media_outside.refresh_from_db()
    assert media_inside.blob_id is not None and media_outside.blob_id is None


def test_placing_and_releasing_are_recorded_with_who_when_and_why(settled: Settle, police: User,
                                                                  admin_user: User) -> None:
    item = settled("removed")  # illegal: the police liaison may see it
    hold = place_hold("item", item.pk, reason="  Investigation 7 ", user=police, now=T0)
    release_hold(hold, user=admin_user, reason="Prosecutor released it", now=T0 + DAY)

    hold.refresh_from_db()
    assert (hold.placed_by, hold.placed_at, hold.reason) == (police, T0, "Investigation 7")
    assert (hold.released_by, hold.released_at, hold.release_reason) == (admin_user, T0 + DAY,
                                                                         "Prosecutor released it")
    assert Hold.objects.filter(pk=hold.pk).exists(), "released, never deleted"
    events = AuditEvent.objects.for_object("reports.item", item.pk).filter(action__startswith="retention.")
    assert [(e.action, e.actor_user_id, e.after["hold"]) for e in events] == [  # type: ignore[index]
        ("retention.hold_placed", police.pk, hold.pk), ("retention.hold_released", admin_user.pk, hold.pk)]


@pytest.mark.parametrize(("object_type", "object_id", "reason", "field"), [
    ("item", None, "", "reason"),
    ("item", 999_999, "why", "object_id"),
    ("case", 999_999, "why", "object_id"),
    ("report", None, "why", "object_type"),
])
def test_it_refuses_a_hold_that_names_nothing_or_gives_no_reason(
        object_type: str, object_id: int | None, reason: str, field: str, settled: Settle, police: User) -> None:
    item = settled("not_illegal")
    with pytest.raises(HoldError, match=rf"^{field}:"):
        place_hold(object_type, object_id or item.pk, reason=reason, user=police)
    assert not Hold.objects.exists()


def test_only_police_liaison_and_administrators_hold_or_release(settled: Settle, analyst: User, manager: User,
                                                                police: User) -> None:
    item = settled("removed")
    for user in (analyst, manager):
        with pytest.raises(HoldError, match=r"^user:"):
            place_hold("item", item.pk, reason="why", user=user)
    hold = place_hold("item", item.pk, reason="why", user=police)
    with pytest.raises(HoldError, match=r"^user:"):
        release_hold(hold, user=manager, reason="done")


def test_a_hold_is_released_only_once(settled: Settle, police: User) -> None:
    hold = place_hold("item", settled("removed").pk, reason="why", user=police)
    release_hold(hold, user=police, reason="done")
    with pytest.raises(HoldError, match=r"^hold: .* already released"):
        release_hold(hold, user=police, reason="again")
    assert AuditEvent.objects.filter(action="retention.hold_released").count() == 1


def _case_of(item: Item) -> Case:
    case = Case.objects.create(reference=f"C-2030-{item.pk:04d}", kind="same_site", title="Synthetic case",
                               opened_at=T0, status_changed_at=T0)
    CaseItem.objects.create(case=case, item=item, added_at=T0)
    return case


def test_a_police_liaison_holds_only_what_they_may_see_and_hears_no_more_than_for_a_missing_one(
        settled: Settle, police: User) -> None:
    hidden = settled("not_illegal")  # only what was found illegal is police business
    hidden_case, seen_case = _case_of(hidden), _case_of(settled("removed"))
    for object_type, pk in (("item", hidden.pk), ("case", hidden_case.pk)):
        with pytest.raises(HoldError) as refused:
            place_hold(object_type, pk, reason="why", user=police)
        with pytest.raises(HoldError) as missing:
            place_hold(object_type, 999_999, reason="why", user=police)
        assert str(refused.value).replace(str(pk), "N") == str(missing.value).replace("999999", "N")
    assert place_hold("case", seen_case.pk, reason="why", user=police).placed_by == police
    assert list(Hold.objects.values_list("object_id", flat=True)) == [seen_case.pk]
    assert AuditEvent.objects.filter(action="retention.hold_placed").count() == 1


def test_a_police_liaison_cannot_release_a_hold_on_what_they_may_not_see(
        settled: Settle, police: User, admin_user: User) -> None:
    hidden = settled("not_illegal")
    holds = [place_hold("item", hidden.pk, reason="court order", user=admin_user),
             place_hold("case", _case_of(hidden).pk, reason="court order", user=admin_user)]
    for hold in holds:
        with pytest.raises(HoldError, match=r"^hold: there is no hold \d+ you may see"):
            release_hold(hold, user=police, reason="done")
        hold.refresh_from_db()
        assert hold.is_active
    assert not AuditEvent.objects.filter(action="retention.hold_released").exists()
