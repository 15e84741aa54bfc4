from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.sim.smtp import SmtpSink
from hotline.takedown.models import InfoRequest, RequestMessage, RequestState
from hotline.takedown.services import NewRequest, RequestInvalid, create_info_request, follow_up, record_answer
from hotline.takedown.steps import inforequest_step

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _request(now: datetime, **changes: Any) -> InfoRequest:
    data: dict[str, Any] = {"kind": "preservation", "on_behalf_of": "police", "company_name": "Social Co",
                            "email": "lawful@social.example", "subject_type": "account", "subject": "user 4711",
                            "legal_basis": "Art. 46bis Code of Criminal Procedure",
                            "police_reference": "PV-2026-001", "deadline_at": now + 10 * DAY,
                            "reminder_hours": 72, "language": "nl"}
    data.update(changes)
    return create_info_request(NewRequest(**data), actor=SYSTEM, now=now)


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-address"}, "email"),
    ({"police_reference": ""}, "police_reference"),
    ({"kind": "wiretap"}, "kind"),
    ({"subject": "  "}, "subject"),
    ({"deadline_at": timezone.now() - DAY}, "deadline_at"),
])
def test_a_bad_request_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestInvalid) as caught:
        _request(timezone.now(), **change)
    assert caught.value.field == field
    assert not InfoRequest.objects.exists()


def test_the_request_goes_out_once_with_a_link_in_the_companys_language(smtp: SmtpSink) -> None:
    now = timezone.now()
    request = _request(now)
    assert inforequest_step(now=now) is True
    [received] = smtp.wait_for(1)
    assert received.recipients == ["lawful@social.example"]
    assert received.message_id == f"<request-{request.messages.get().key}@hotline.invalid>"
    text = received.text()
    assert "bewaren" in text and "PV-2026-001" in text and "user 4711" in text and "/nl/takedown/respond/?t=r:" in text
    request.refresh_from_db()
    assert request.sent_at == now and request.next_follow_up_at == now + timedelta(hours=72)
    assert inforequest_step(now=now) is False


def test_reminders_then_escalation_then_no_answer(smtp: SmtpSink, settings: Any) -> None:
    settings.HOTLINE_INFOREQUEST_ESCALATE_DAYS = 2
    settings.HOTLINE_INFOREQUEST_GIVE_UP_DAYS = 5
    now = timezone.now()
    request = _request(now, deadline_at=now + 4 * DAY, reminder_hours=48)
    inforequest_step(now=now)
    inforequest_step(now=now + 2 * DAY)
    request.refresh_from_db()
    assert request.reminders_sent == 1 and request.escalated_at is None
    assert "Herinnering 1" in str(smtp.wait_for(2)[1].message["Subject"])
    assert request.next_follow_up_at == now + 4 * DAY  # the deadline comes before the next reminder
    for day in (4, 6):
        inforequest_step(now=now + day * DAY)
    request.refresh_from_db()
    assert request.escalated_at == now + 6 * DAY and request.state == RequestState.OPEN
    assert follow_up(request.pk, now=now + 9 * DAY) == "no_answer"
    request.refresh_from_db()
    assert request.state == RequestState.NO_ANSWER
    assert request.answered_via == "system" and request.next_follow_up_at is None
    assert AuditEvent.objects.filter(action="inforequest.escalated").count() == 1


def test_the_company_answers_through_its_signed_link(smtp: SmtpSink) -> None:
    now = timezone.now()
    request = _request(now, language="en")
    inforequest_step(now=now)
    link = re.search(r"http://\S+/respond/\?t=\S+", smtp.wait_for(1)[0].text())
    assert link is not None
    path = link.group(0).split("8000", 1)[1]
    client = Client()
    assert b"Information request" in client.get(path).content
    response = client.post(path, {"outcome": "partial", "note": "subscriber data only"})
    assert response.status_code == 200 and b"your answer is recorded" in response.content
    request.refresh_from_db()
    assert (request.state, request.answer_note, request.answered_via) == (RequestState.PARTIAL, "subscriber data only",
                                                                         "link")
    assert client.post(path, {"outcome": "answered"}).status_code == 409  # answered once; staff may correct it
    event = AuditEvent.objects.get(action="inforequest.answered")
    assert event.actor_label == "company:Social Co"


def test_an_answer_stops_the_reminders(smtp: SmtpSink) -> None:
    now = timezone.now()
    request = _request(now)
    inforequest_step(now=now)
    follow_up(request.pk, now=now + 3 * DAY)  # a reminder is queued ...
    record_answer(request, "refused", note="needs a court order", actor=SYSTEM, now=now + 3 * DAY)
    inforequest_step(now=now + 3 * DAY)  # ... and never sent
    assert len(smtp.messages()) == 1
    assert RequestMessage.objects.get(kind="reminder").state == "cancelled"
    with pytest.raises(RequestInvalid):
        record_answer(request, "maybe", note="", actor=SYSTEM, now=now)


def test_staff_create_and_answer_requests_in_the_pages(login: Any, police: User, analyst: User) -> None:
    client = login(police)
    response = client.post("/takedown/requests/new/", {
        "kind": "disclosure", "on_behalf_of": "police", "police_reference": "PV-9", "company_name": "Files Inc",
        "email": "legal@files.example", "language": "fr", "subject_type": "url",
        "subject": "http://files.sim.test/f/1", "legal_basis": "Art. 46bis", "deadline_days": 7,
        "reminder_hours": 48})
    request = InfoRequest.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/takedown/requests/{request.pk}/")
    assert request.created_by == police and request.language == "fr"
    missing = client.post("/takedown/requests/new/", {"kind": "disclosure", "on_behalf_of": "police"})
    assert missing.status_code == 200 and b"police reference" in missing.content
    client.post(f"/takedown/requests/{request.pk}/answer/", {"outcome": "answered", "note": "sent on paper"})
    request.refresh_from_db()
    assert request.state == RequestState.ANSWERED and request.answered_via == "form"
    assert login(analyst).post(f"/takedown/requests/{request.pk}/answer/", {"outcome": "refused"}).status_code == 403
