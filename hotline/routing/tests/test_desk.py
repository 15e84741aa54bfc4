"""The police liaison desk: referrals filtered and paged, holds that never end before their referral,
evidence package downloads (audited, re-authenticated), the answer form on the referral page, object access."""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.evidence.bag import verify_bag
from hotline.routing.models import PoliceAnswer, Referral
from hotline.routing.services import RoutingError, record_police_answer, refer_items, route_item
from hotline.routing.steps import referral_step
from hotline.routing.tests.conftest import MakeTrace

pytestmark = pytest.mark.django_db


@pytest.fixture
def referral_dir(settings: Any, tmp_path: Path) -> Path:
    settings.HOTLINE_REFERRAL_DIR = tmp_path / "referrals"
    settings.HOTLINE_POLICE_RECIPIENT_KEY = ""
    return tmp_path / "referrals"


def _holds_after_creation() -> list[tuple[int, Any, Any]]:
    return [(r.pk, r.created_at, r.hold_until) for r in Referral.objects.all()
            if r.hold_until is not None and r.hold_until < r.created_at]


def test_a_moved_site_after_a_released_hold_gets_no_hold_that_ended_before_its_referral(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any], police: User) -> None:
    item = assessed("baseline")
    now = timezone.now()
    route_item(item, trace=make_trace(item, "BE", provider="A"), now=now)
    first = Referral.objects.get(items=item)
    record_police_answer(first, PoliceAnswer.RELEASE, actor=SYSTEM, now=now + timedelta(hours=1))
    later = now + timedelta(days=5)
    moved = route_item(item, trace=make_trace(item, "BE", provider="B", at=later), now=later)
    second = Referral.objects.filter(items=item).exclude(pk=first.pk).get()
    assert second.created_at == later
    assert second.hold_until is None and moved.hold_until is None  # the police had their hold on this content
    assert moved.notice_due_at == later
    assert _holds_after_creation() == []


def test_a_moved_site_after_an_expired_hold_gets_no_hold_that_ended_before_its_referral(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any], settings: Any) -> None:
    settings.HOTLINE_POLICE_HOLD_HOURS = 48
    item = assessed("baseline")
    now = timezone.now()
    route_item(item, trace=make_trace(item, "BE", provider="A"), now=now)
    later = now + timedelta(days=3)
    route_item(item, trace=make_trace(item, "BE", provider="B", at=later), now=later)
    assert Referral.objects.filter(items=item).count() == 2
    assert _holds_after_creation() == []


def test_a_moved_site_while_the_hold_runs_keeps_that_hold(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any], settings: Any) -> None:
    settings.HOTLINE_POLICE_HOLD_HOURS = 48
    item = assessed("baseline")
    now = timezone.now()
    first = route_item(item, trace=make_trace(item, "BE", provider="A"), now=now)
    later = now + timedelta(hours=10)
    second = route_item(item, trace=make_trace(item, "BE", provider="B", at=later), now=later)
    assert second.hold_until == first.hold_until == now + timedelta(hours=48)
    assert Referral.objects.filter(items=item, created_at=later).get().hold_until == first.hold_until


def test_a_referral_refuses_a_hold_that_ends_before_it_exists(assessed: Any, directory: dict[str, Any]) -> None:
    now = timezone.now()
    with pytest.raises(RoutingError, match="hold_until"):
        refer_items([assessed("baseline")], directory["national"], actor=SYSTEM, now=now,
                     hold_until=now - timedelta(minutes=1))


def _referrals(assessed: Any, directory: dict[str, Any], n: int, *, at: Any = None) -> list[Referral]:
    now = at or timezone.now()
    return [refer_items([assessed("baseline", f"https://site-{i}.sim.test/page")], directory["national"],
                        actor=SYSTEM, now=now - timedelta(minutes=i)) for i in range(n)]


def test_the_list_is_paged_and_shows_url_and_case(login: Any, police: User, assessed: Any,
                                                   directory: dict[str, Any]) -> None:
    _referrals(assessed, directory, 30)
    client = login(police)
    first = client.get(reverse("routing:referrals")).content.decode()
    assert first.count('data-referral="') == 25 and "page 1 of 2" in first
    assert "https://site-0.sim.test/page" in first
    second = client.get(reverse("routing:referrals"), {"page": 2}).content.decode()
    assert second.count('data-referral="') == 5 and "https://site-29.sim.test/page" in second


def test_the_list_filters_awaiting_answered_outcome_and_date(login: Any, police: User, assessed: Any,
                                                             directory: dict[str, Any]) -> None:
    rows = _referrals(assessed, directory, 4)
    now = timezone.now()
    Referral.objects.filter(pk__in=[r.pk for r in rows[:3]]).update(status="sent", sent_at=now)
    record_police_answer(rows[0], PoliceAnswer.RELEASE, actor=SYSTEM, now=now)
    record_police_answer(rows[1], PoliceAnswer.ACCEPTED, actor=SYSTEM, now=now)
    Referral.objects.filter(pk=rows[3].pk).update(created_at=now - timedelta(days=40))
    client = login(police)

    def shown(**query: str) -> set[int]:
        html = client.get(reverse("routing:referrals"), query).content.decode()
        return {r.pk for r in rows if f'data-referral="{r.pk}"' in html}

    assert shown() == {r.pk for r in rows}
    assert shown(state="awaiting") == {rows[2].pk}
    assert shown(state="answered") == {rows[0].pk, rows[1].pk}
    assert shown(state="unsent") == {rows[3].pk}
    assert shown(answer="release") == {rows[0].pk}
    assert shown(created_to=(now - timedelta(days=30)).date().isoformat()) == {rows[3].pk}
    assert shown(created_from=(now - timedelta(days=1)).date().isoformat()) == {r.pk for r in rows[:3]}
    assert shown(state="nonsense") == {r.pk for r in rows}  # an unknown filter value is ignored


def test_the_police_liaison_sees_what_was_referred_to_the_police_and_no_other_harm_besides(
        login: Any, police: User, manager: User, assessed: Any, directory: dict[str, Any]) -> None:
    # HOTLINE_OTHER_HARM_ROUTE=police: a grooming page goes to the police; its hold is the liaison's to answer.
    referred_item, kept_item = assessed("other_harm"), assessed("other_harm")
    other = refer_items([referred_item], directory["national"], actor=SYSTEM, now=timezone.now())
    client = login(police)
    assert client.get(reverse("routing:referral", kwargs={"pk": other.pk})).status_code == 200
    assert f'data-referral="{other.pk}"' in client.get(reverse("routing:referrals")).content.decode()
    assert client.get(reverse("assessment:item", kwargs={"pk": referred_item.pk})).status_code == 200
    # Other harm that was not referred is not the police's: the same 404 as a missing item.
    assert client.get(reverse("assessment:item", kwargs={"pk": kept_item.pk})).status_code == 404
    assert client.get(reverse("assessment:item", kwargs={"pk": kept_item.pk + 1000})).status_code == 404
    assert client.get(reverse("routing:referral", kwargs={"pk": other.pk + 1000})).status_code == 404
    assert login(manager).get(reverse("routing:referral", kwargs={"pk": other.pk})).status_code == 200


def test_a_refused_answer_shows_the_referral_page_again_with_the_error(login: Any, police: User, assessed: Any,
                                                                         directory: dict[str, Any]) -> None:
    [referral] = _referrals(assessed, directory, 1)
    response = login(police).post(reverse("routing:answer", kwargs={"pk": referral.pk}), {"answer": "hold"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "a hold needs an end in the future" in html and 'id="answer-form"' in html and "Police referral" in html
    referral.refresh_from_db()
    assert referral.answer == ""


def _tar_bag(content: bytes, tmp_path: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(content)) as tar:
        tar.extractall(tmp_path / "out", filter="data")
    [bag] = (tmp_path / "out").iterdir()
    return bag


def test_the_referral_package_download_is_the_delivered_bag_and_is_audited_each_time(
        login: Any, police: User, assessed: Any, make_trace: MakeTrace, directory: dict[str, Any], make_media: Any,
        smtp: Any, referral_dir: Path, tmp_path: Path) -> None:
    item = assessed("baseline")
    make_media(item, seed=5)
    route_item(item, trace=make_trace(item, "BE"), now=timezone.now())
    assert referral_step() is True
    referral = Referral.objects.get()
    client = login(police)
    url = reverse("routing:package", kwargs={"pk": referral.pk})
    response = client.post(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    content = b"".join(response.streaming_content)
    bag = _tar_bag(content, tmp_path)
    assert verify_bag(bag).ok
    assert (bag / "tagmanifest-sha256.txt").read_bytes() == (Path(referral.package_path)
                                                             / "tagmanifest-sha256.txt").read_bytes()
    client.post(url)
    events = AuditEvent.objects.filter(action="routing.package_downloaded", actor_user_id=police.pk)
    assert events.count() == 2
    assert events.first().after["delivered_package"] is True  # type: ignore[union-attr, index]


def test_the_item_package_download_is_a_signed_bag_and_is_audited(
        login: Any, police: User, assessed: Any, make_media: Any, tmp_path: Path) -> None:
    item = assessed("baseline")
    make_media(item, seed=6)
    response = login(police).post(reverse("routing:item_package", kwargs={"pk": item.pk}))
    assert response.status_code == 200
    bag = _tar_bag(b"".join(response.streaming_content), tmp_path)
    assert verify_bag(bag).ok and (bag / "data" / "metadata" / f"item-{item.pk}.json").exists()
    event = AuditEvent.objects.get(action="routing.package_downloaded", object_id=str(item.pk))
    assert event.actor_user_id == police.pk and event.after["sha256"] == response["X-Content-SHA256"]  # type: ignore[index]


def test_a_package_download_needs_a_recent_password_and_code(login: Any, police: User, assessed: Any) -> None:
    from hotline.accounts.session import mark_second_factor_done

    item = assessed("baseline")
    client = login(police)
    session = client.session
    mark_second_factor_done(session, now=timezone.now() - timedelta(hours=2))
    session.save()
    response = client.post(reverse("routing:item_package", kwargs={"pk": item.pk}))
    assert response.status_code == 302 and "/accounts/confirm/" in response["Location"]
    assert not AuditEvent.objects.filter(action="routing.package_downloaded").exists()


def test_the_police_liaison_cannot_download_a_package_of_an_item_they_may_not_see(
        login: Any, police: User, assessed: Any) -> None:
    item = assessed("not_illegal")
    assert login(police).post(reverse("routing:item_package", kwargs={"pk": item.pk})).status_code == 404


def test_a_release_dated_before_the_referral_does_not_end_the_hold_before_it(
        assessed: Any, make_trace: MakeTrace, directory: dict[str, Any]) -> None:
    """The simulation answers at the start of its hour, after referrals made a few seconds into it."""
    item = assessed("baseline")
    made = timezone.now()
    route_item(item, trace=make_trace(item, "BE"), now=made)
    referral = Referral.objects.get(items=item)
    answered = record_police_answer(referral, PoliceAnswer.RELEASE, actor=SYSTEM, now=made - timedelta(seconds=5))
    assert answered.hold_until == made
    assert _holds_after_creation() == []
