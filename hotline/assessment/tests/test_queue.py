"""The queue: failed captures at once with their failure, next retry and two actions; a bulk action
for identical failures; filters by source, status, age and country; paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment import queue_views
from hotline.assessment.models import Assessment
from hotline.assessment.services import claim_item
from hotline.audit.models import AuditEvent
from hotline.evidence.services import CaptureConfig, capture_item
from hotline.reports.models import Item, ItemStatus, Source
from hotline.sim.web import SimWeb

# Transactional, like production: a view that writes outside a transaction fails here.
pytestmark = pytest.mark.django_db(transaction=True)
Login = Callable[[User], Client]
MakeItem = Callable[..., Item]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimWeb]:
    with SimWeb() as web:
        yield web


def _failed(sim: SimWeb, make_item: MakeItem, path: str = "/status/503", *, n: int = 0,
            source: str = Source.PUBLIC) -> Item:
    """An item whose first capture just failed (503: retried later; 404: final)."""
    config = CaptureConfig(policy=sim.fetch_policy(total_timeout=10.0), max_attempts=3)
    item = make_item(sim.url("blog.sim.test", f"{path}?n={n}"), source=source, captured=False)
    capture_item(item, config=config, now=timezone.now())
    item.refresh_from_db()
    return item


def test_a_failed_capture_is_in_the_queue_at_once_with_its_failure_and_actions(
    sim: SimWeb, login: Login, analyst: User, make_item: MakeItem
) -> None:
    item = _failed(sim, make_item)
    assert item.status == ItemStatus.UNREACHABLE and item.next_capture_at is not None
    page = login(analyst).get(reverse("assessment:queue")).content.decode()
    row = page[page.index(f'id="failed-{item.pk}"'):]
    row = row[: row.index("</tr>")]
    assert "the server answered HTTP 503" in row and "http_503" in row
    assert f"{item.next_capture_at:%Y-%m-%d %H:%M}" in row
    assert reverse("assessment:retry_capture", kwargs={"pk": item.pk}) in row
    assert reverse("assessment:assess_unavailable", kwargs={"pk": item.pk}) in row
    assert '<option value="temporarily_unavailable" selected>' in row  # the capture's own reason first


def test_retry_capture_now_makes_it_due_and_is_audited(
    sim: SimWeb, login: Login, analyst: User, make_item: MakeItem
) -> None:
    item = _failed(sim, make_item, "/status/404")
    assert item.next_capture_at is None  # no automatic retry after a 404
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        response = login(analyst).post(reverse("assessment:retry_capture", kwargs={"pk": item.pk}),
                                       {"query": "source=public&status=unreachable"})
    assert response.headers["Location"] == reverse("assessment:queue") + "?source=public&status=unreachable"
    item.refresh_from_db()
    assert item.next_capture_at == now and item in Item.objects.capture_due(now)
    event = AuditEvent.objects.get(action="item.capture_retry_requested")
    assert event.actor_user_id == analyst.pk and event.object_id == str(item.pk)

    captured = make_item()
    login(analyst).post(reverse("assessment:retry_capture", kwargs={"pk": captured.pk}))
    assert Item.objects.get(pk=captured.pk).next_capture_at is None
    assert AuditEvent.objects.filter(action="item.capture_retry_requested").count() == 1


def test_assess_as_unavailable_claims_and_assesses_through_the_ordinary_rules(
    sim: SimWeb, login: Login, analyst: User, senior: User, make_item: MakeItem
) -> None:
    item, taken, wrong = (_failed(sim, make_item, n=n) for n in range(3))
    client = login(analyst)
    client.post(reverse("assessment:assess_unavailable", kwargs={"pk": item.pk}), {"reason": "site_down"})
    item.refresh_from_db()
    assert (item.status, item.verdict, item.claimed_by) == (ItemStatus.ASSESSED, "unreachable", None)
    assessment = Assessment.objects.get(item=item)
    assert (assessment.reason, assessment.analyst, assessment.is_final) == ("site_down", analyst, True)
    assert AuditEvent.objects.filter(action="item.assessed", object_id=str(item.pk)).count() == 1

    claim_item(taken, user=senior)  # a colleague holds it: refused
    client.post(reverse("assessment:assess_unavailable", kwargs={"pk": taken.pk}), {"reason": "site_down"})
    client.post(reverse("assessment:assess_unavailable", kwargs={"pk": wrong.pk}), {"reason": "adult_pornography"})
    assert not Assessment.objects.filter(item__in=[taken, wrong]).exists()
    assert Item.objects.get(pk=taken.pk).claimed_by == senior


def test_a_captured_item_cannot_be_assessed_as_unavailable_from_the_queue(
    login: Login, analyst: User, make_item: MakeItem
) -> None:
    item = make_item()
    login(analyst).post(reverse("assessment:assess_unavailable", kwargs={"pk": item.pk}), {"reason": "site_down"})
    assert not Assessment.objects.filter(item=item).exists()


def test_bulk_assesses_only_identical_failures_one_event_each(
    sim: SimWeb, login: Login, analyst: User, make_item: MakeItem
) -> None:
    same = [_failed(sim, make_item, n=n) for n in range(3)]
    other = _failed(sim, make_item, "/status/404")
    captured = make_item()
    client = login(analyst)
    url = reverse("assessment:bulk_unavailable")
    for mixed in ([*same, other], [*same, captured]):
        client.post(url, {"items": [i.pk for i in mixed], "reason": "temporarily_unavailable"})
        assert not Assessment.objects.exists()  # all or nothing

    client.post(url, {"items": [i.pk for i in same], "reason": "temporarily_unavailable"})
    assert Item.objects.filter(pk__in=[i.pk for i in same], status=ItemStatus.ASSESSED,
                               verdict="unreachable").count() == 3
    events = AuditEvent.objects.filter(action="item.assessed")
    assert sorted(int(e.object_id) for e in events) == sorted(i.pk for i in same)
    assert Item.objects.get(pk=other.pk).status == ItemStatus.UNREACHABLE


def test_the_queue_filters_by_source_status_age_and_country_and_pages(
    sim: SimWeb, login: Login, analyst: User, make_item: MakeItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hotline.tracing.models import Trace

    with time_machine.travel(timezone.now() - timedelta(days=3)):
        old = make_item("http://old.sim.test/")
    police = make_item("http://police.sim.test/", source=Source.POLICE)
    failed = _failed(sim, make_item)
    Trace.objects.create(item=police, traced_at=timezone.now(), host="police.sim.test", outcome="ok", country="NL")
    client = login(analyst)

    def shown(**query: str) -> set[int]:
        page = client.get(reverse("assessment:queue"), query).content.decode()
        return {i.pk for i in (old, police, failed) if reverse("assessment:item", kwargs={"pk": i.pk}) + '"' in page}

    assert shown() == {old.pk, police.pk, failed.pk}
    assert shown(source="police") == {police.pk}
    assert shown(status="unreachable") == {failed.pk}
    assert shown(status="captured") == {old.pk, police.pk}
    assert shown(age="24h") == {old.pk}
    assert shown(country="nl") == {police.pk}
    assert shown(country="<script>") == {old.pk, police.pk, failed.pk}  # an invalid filter is ignored

    monkeypatch.setattr(queue_views, "PAGE_SIZE", 1)
    first = client.get(reverse("assessment:queue"), {"status": "captured"}).content.decode()
    assert "status=captured&amp;page=2" in first
    second = client.get(reverse("assessment:queue"), {"status": "captured", "page": "2"}).content.decode()
    assert (reverse("assessment:item", kwargs={"pk": old.pk}) + '"' in first) != (
        reverse("assessment:item", kwargs={"pk": old.pk}) + '"' in second)


def test_age_source_and_priority_are_shown(login: Login, analyst: User, make_item: MakeItem) -> None:
    with time_machine.travel(timezone.now() - timedelta(hours=5)):
        make_item("http://partner-item.sim.test/", source=Source.POLICE)
    page = login(analyst).get(reverse("assessment:queue")).content.decode()
    assert "5\xa0hours" in page and "Police" in page and "partner/police" in page


@pytest.mark.parametrize("prefix,retry,failed", [("/nl", "Nu opnieuw vastleggen", "Vastlegging mislukt"),
                                                 ("/fr", "Recapturer maintenant", "Capture échouée")])
def test_the_failed_captures_speak_dutch_and_french(
    sim: SimWeb, login: Login, analyst: User, make_item: MakeItem, prefix: str, retry: str, failed: str
) -> None:
    _failed(sim, make_item)
    page = login(analyst).get(f"{prefix}/queue/").content.decode()
    assert f">{retry}</button>" in page and f"<h2>{failed} " in page
