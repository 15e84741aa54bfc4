from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.sim.smtp import SmtpSink
from hotline.takedown.models import Notice, Takedown
from hotline.takedown.steps import notice_step
from hotline.takedown.tests.conftest import MakeTraced
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db


def test_notice_pages_show_what_was_sent_to_whom(login: Any, personas: dict[str, User], contact: AbuseContact,
                                                 traced_item: MakeTraced, smtp: SmtpSink) -> None:
    start = timezone.now() - timedelta(hours=2)
    item = traced_item(contact, due=start)
    while notice_step(now=timezone.now()):
        pass
    notice = Notice.objects.get()
    client = login(personas["analyst"])
    listing = client.get("/takedown/notices/?state=sent")
    assert listing.status_code == 200 and notice.reference.encode() in listing.content
    detail = client.get(f"/takedown/notices/{notice.pk}/")
    assert item.canonical_url.encode() in detail.content and str(notice.key).encode() in detail.content
    page = client.get(f"/takedown/items/{item.pk}/")
    assert page.status_code == 200 and b"First notice" in page.content and notice.reference.encode() in page.content
    assert login(personas["police_liaison"]).get(f"/takedown/notices/{notice.pk}/").status_code == 403
    assert login(personas["outsider"]).get(f"/takedown/items/{item.pk}/").status_code == 403


def test_the_police_liaison_sees_takedowns_of_illegal_items_only(login: Any, police: User, contact: AbuseContact,
                                                                 traced_item: MakeTraced) -> None:
    illegal = traced_item(contact)
    other = traced_item(contact, verdict="not_illegal")
    client = login(police)
    assert client.get(f"/takedown/items/{illegal.pk}/").status_code == 200
    assert client.get(f"/takedown/items/{other.pk}/").status_code == 404


def test_non_responders_page_lists_flagged_items(login: Any, manager: User, contact: AbuseContact,
                                                 traced_item: MakeTraced) -> None:
    item = traced_item(contact)
    now = timezone.now()
    Takedown.objects.create(item=item, state_changed_at=now, opened_at=now, reported_at=now, contact=contact,
                            managers_flagged_at=now)
    page = login(manager).get("/takedown/non-responders/")
    assert page.status_code == 200 and f"#{item.pk}".encode() in page.content
