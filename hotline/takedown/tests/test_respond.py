from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.sim.smtp import SmtpSink
from hotline.takedown.links import make_token
from hotline.takedown.models import Notice, Takedown
from hotline.takedown.steps import notice_step
from hotline.takedown.tests.conftest import MakeTraced
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db


def _sent_notice(contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> tuple[Notice, str]:
    now = timezone.now() - timedelta(hours=2)
    traced_item(contact, due=now)
    traced_item(contact, due=now)
    while notice_step(now=timezone.now()):
        pass
    link = re.search(r"http://\S+/respond/\?t=\S+", smtp.wait_for(1)[0].text())
    assert link is not None
    return Notice.objects.get(), link.group(0).split("8000", 1)[1]


def test_the_provider_acknowledges_and_reports_removal_without_logging_in(
    contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    notice, path = _sent_notice(contact, traced_item, smtp)
    client = Client()
    page = client.get(path)
    assert page.status_code == 200 and notice.reference.encode() in page.content
    assert b"sim.test" not in page.content  # the page never repeats the URLs
    assert client.post(path, {"action": "acknowledge"}).status_code == 200
    notice.refresh_from_db()
    assert notice.acknowledged_at is not None
    assert set(Takedown.objects.values_list("acknowledged_at", flat=True)) == {notice.acknowledged_at}
    before = timezone.now()
    response = client.post(path, {"action": "removed"})
    assert b"we will check that the content is gone" in response.content
    for takedown in Takedown.objects.all():
        assert takedown.provider_removed_at is not None and takedown.state == "online"  # the checker decides
        assert takedown.next_check_at is not None and takedown.next_check_at >= before - timedelta(seconds=1)
    event = AuditEvent.objects.get(action="takedown.notice_acknowledged")
    assert event.actor_label == f"provider:contact-{contact.pk}"


def test_an_expired_or_forged_link_is_refused(contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, path = _sent_notice(contact, traced_item, smtp)
    client = Client()
    assert client.get(path.replace("?t=n", "?t=x")).status_code == 404
    assert client.get(path[:-3] + "abc").status_code == 404
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        expired = client.get(path)
        assert expired.status_code == 410 and b"expired" in expired.content
    stranger = make_token("notice", "00000000-0000-0000-0000-000000000000", timezone.now())
    assert client.get(f"/takedown/respond/?t={stranger}").status_code == 404
    notice.refresh_from_db()
    assert notice.acknowledged_at is None


def test_machines_use_the_json_endpoint_with_the_same_token(
    contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    _notice, path = _sent_notice(contact, traced_item, smtp)
    token = path.split("?t=", 1)[1]
    client = Client()

    def post(body: dict[str, str]) -> tuple[int, dict[str, str]]:
        response = client.post("/api/v1/takedown/respond", json.dumps(body), content_type="application/json")
        return response.status_code, response.json()

    assert post({"token": token, "action": "acknowledge"}) == (200, {"result": "acknowledged"})
    assert post({"token": token, "action": "acknowledge"}) == (200, {"result": "already_acknowledged"})
    assert post({"token": token, "action": "delete everything"})[0] == 400
    # Found by schemathesis: a schema-valid but forged token answered 400, as if the request were malformed.
    assert post({"token": token[:-4] + "AAAA", "action": "removed"})[0] == 404


def test_a_link_to_an_unsent_notice_cannot_acknowledge(contact: AbuseContact, traced_item: MakeTraced) -> None:
    traced_item(contact, due=timezone.now())
    notice_step(now=timezone.now())
    notice = Notice.objects.get()
    token = make_token("notice", str(notice.key), notice.created_at)
    assert Client().post(f"/takedown/respond/?t={token}", {"action": "acknowledge"}).status_code == 409
