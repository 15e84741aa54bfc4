"""The queue's failed captures in a real browser: shown at once, "retry capture now", "assess as
unavailable" and the bulk action for identical failures. Leaves ``artifacts/screenshots/flow-queue-*.png``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.core.tests.test_browser_flows import enrolled, shot, sign_in
from hotline.evidence.services import CaptureConfig, capture_item
from hotline.reports.models import Item, ItemStatus
from hotline.sim.web import SimWeb

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimWeb]:
    with SimWeb() as web:
        yield web


def _failed(sim: SimWeb, make_item: Callable[..., Item], path: str, n: int) -> Item:
    config = CaptureConfig(policy=sim.fetch_policy(total_timeout=10.0), max_attempts=3)
    item = make_item(sim.url("blog.sim.test", f"{path}?n={n}"), captured=False)
    capture_item(item, config=config, now=timezone.now())
    return Item.objects.get(pk=item.pk)


def test_an_analyst_retries_and_assesses_failed_captures_from_the_queue(
    page: Any, analyst: User, sim: SimWeb, make_item: Callable[..., Item]
) -> None:
    down = [_failed(sim, make_item, "/status/503", n) for n in range(3)]
    gone = _failed(sim, make_item, "/status/404", 9)
    make_item("http://captured.sim.test/")
    sign_in(page, enrolled(analyst))
    page.goto("/queue/")
    rows = page.locator("#failed-captures tbody tr")
    assert rows.count() == 4
    assert "the server answered HTTP 503" in page.locator(f"#failed-{down[0].pk}").inner_text()
    assert "no more retries" in page.locator(f"#failed-{gone.pk}").inner_text()
    shot(page, "queue-failed")

    page.locator(f"#failed-{gone.pk} button", has_text="Retry capture now").click()
    page.wait_for_load_state()
    assert "will be captured again" in page.locator(".messages").inner_text()
    assert Item.objects.get(pk=gone.pk).next_capture_at is not None
    assert AuditEvent.objects.filter(action="item.capture_retry_requested", actor_user_id=analyst.pk).count() == 1

    page.locator(f"#failed-{gone.pk} select[name=reason]").select_option("content_not_found")
    page.locator(f"#failed-{gone.pk} button", has_text="Assess as unavailable").click()
    page.wait_for_load_state()
    assert Item.objects.get(pk=gone.pk).status == ItemStatus.ASSESSED
    assert page.locator(f"#failed-{gone.pk}").count() == 0

    page.goto("/queue/?status=unreachable")
    for item in down[:2]:
        page.locator(f"#failed-{item.pk} input[type=checkbox]").check()
    page.locator(".bulk select[name=reason]").select_option("temporarily_unavailable")
    page.locator(".bulk button").click()
    page.wait_for_load_state()
    assert "/queue/?status=unreachable" in page.url  # the filters survive the action
    assert "2 items assessed as unavailable" in page.locator(".messages").inner_text()
    assert [Item.objects.get(pk=i.pk).status for i in down] == [ItemStatus.ASSESSED] * 2 + [ItemStatus.UNREACHABLE]
    shot(page, "queue-after-bulk")
