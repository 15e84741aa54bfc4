"""Reports without a URL: the public path end to end, the support queue, encrypted screenshots, audited views.

Every screenshot is a generated pattern (``sim.images``); every account name a ``.test`` placeholder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from hotline.accounts.models import User
from hotline.assessment.models import Incident, IncidentScreenshot, IncidentStatus, Urgency
from hotline.assessment.services import incidents
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.evidence.backends import storage_from_settings
from hotline.evidence.store import get_blob_bytes
from hotline.lib.support import parse
from hotline.reports.models import Item, Report
from hotline.sim.images import make_image

pytestmark = pytest.mark.django_db

CONTACTS = json.dumps([
    {"name": {"en": "Test helpline", "nl": "Testhulplijn", "fr": "Ligne d'aide test"}, "phone": "0000 00 00",
     "url": "https://help.example.test/", "text": {"en": "Day and night", "nl": "Dag en nacht"}},
    {"name": "Sextortion desk", "url": "https://desk.example.test/", "kinds": ["sextortion"]},
])


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> Any:
    settings.HOTLINE_SUPPORT_CONTACTS = CONTACTS
    cache.clear()
    yield
    cache.clear()


def _post(client: Client, prefix: str = "", **extra: Any) -> Any:
    data = {"kind": "sextortion", "description": "Someone on a game chat threatens to share a picture.",
            "platform": "GameChat", "accounts": "player_x.example.test", "happened_when": "yesterday",
            "contact": "", **extra}
    return client.post(f"{prefix}/report/without-link/", data)


def _shot(seed: int = 3) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"shot{seed}.png", make_image("png", seed, size=(200, 120)), content_type="image/png")


def test_a_report_without_a_url_is_stored_with_help_and_never_reaches_the_url_queue() -> None:
    response = _post(Client(), screenshots=[_shot(1), _shot(2)], contact="me@example.test", ongoing="on")
    page = response.content.decode()
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.reference in page
    assert "Test helpline" in page and "https://help.example.test/" in page and "Sextortion desk" in page
    assert (report.kind, report.source, report.url_count, report.reporter_contact) == (
        "sextortion", "public", 0, "me@example.test")
    incident = report.incident
    assert (incident.urgency, incident.status, incident.platform) == (Urgency.URGENT, "new", "GameChat")
    assert incident.accounts == "player_x.example.test"
    assert incident.screenshots.count() == 2
    # Never an item: the URL queue, its counts and the capture worker see nothing.
    assert Item.objects.count() == 0 and Item.objects.awaiting_assessment().count() == 0
    assert not report.links.exists()
    assert AuditEvent.objects.filter(action="incident.received").count() == 1


def test_help_is_shown_before_anything_is_sent_in_each_language() -> None:
    for prefix, name, phrase in (("", "Test helpline", "Help right now"), ("/nl", "Testhulplijn", "Nu hulp"),
                                 ("/fr", "Ligne d'aide test", "Aide immédiate")):
        page = Client().get(f"{prefix}/report/without-link/").content.decode()
        assert phrase in page and name.replace("'", "&#x27;") in page, prefix
        # Before a kind is chosen every helpline shows; the thanks page keeps those for the kind.
        assert "Sextortion desk" in page


def test_the_grooming_thanks_page_leaves_out_contacts_for_other_kinds() -> None:
    page = _post(Client(), kind="grooming").content.decode()
    assert "Test helpline" in page and "Sextortion desk" not in page
    assert Report.objects.get().incident.urgency == Urgency.NORMAL


def test_urgency_follows_kind_and_whether_it_is_happening_now() -> None:
    assert incidents.urgency_for("sextortion", ongoing=False) == Urgency.HIGH
    assert incidents.urgency_for("grooming", ongoing=False) == Urgency.NORMAL
    assert incidents.urgency_for("solicitation", ongoing=True) == Urgency.URGENT


def test_screenshots_are_encrypted_at_rest_and_read_back_intact() -> None:
    original = make_image("png", 7, size=(200, 120))
    _post(Client(), screenshots=[SimpleUploadedFile("s.png", original, content_type="image/png")])
    shot = IncidentScreenshot.objects.get()
    assert shot.blob is not None
    on_disk = storage_from_settings().get(shot.blob.storage_name)
    assert on_disk != original and original not in on_disk and original[:64] not in on_disk
    assert get_blob_bytes(shot.blob) == original


@pytest.mark.parametrize("data,message", [
    (b"<html><script>x</script></html>", "Only images can be attached"),
    (b"%PDF-1.4 not an image", "Only images can be attached"),
])
def test_only_images_are_accepted_as_screenshots(data: bytes, message: str) -> None:
    page = _post(Client(), screenshots=[SimpleUploadedFile("s.png", data, content_type="image/png")]).content
    assert message in page.decode()
    assert Report.objects.count() == 0


@override_settings(HOTLINE_INCIDENT_MAX_SCREENSHOT_BYTES=2048, HOTLINE_INCIDENT_MAX_SCREENSHOTS=2)
def test_screenshot_size_and_number_are_limited() -> None:
    big = make_image("png", 9, size=(600, 600))
    assert len(big) > 2048
    page = _post(Client(), screenshots=[SimpleUploadedFile("b.png", big, content_type="image/png")]).content.decode()
    assert "larger than" in page
    page = _post(Client(), screenshots=[_shot(1), _shot(2), _shot(3)]).content.decode()
    assert "at most 2 screenshots" in page
    assert Report.objects.count() == 0


@pytest.mark.parametrize("field", ["description", "platform", "accounts", "happened_when", "contact"])
def test_text_that_cannot_be_stored_is_refused_field_by_field(field: str) -> None:
    page = _post(Client(), **{field: "abc\x00def"}).content.decode()
    assert "Null characters are not allowed" in page or "characters we cannot store" in page
    assert Report.objects.count() == 0
    # The service refuses what a form would not catch (a lone surrogate cannot even be posted).
    with pytest.raises(incidents.IncidentError, match=field):
        texts: dict[str, Any] = {"description": "x", field: "a\ud800b"}
        incidents.receive_incident(incidents.IncomingIncident(kind="grooming", **texts), actor=SYSTEM)


def test_a_url_kind_cannot_be_posted_on_this_path() -> None:
    page = _post(Client(), kind="url").content.decode()
    assert "Select a valid choice" in page
    with pytest.raises(incidents.IncidentError):
        incidents.receive_incident(incidents.IncomingIncident(kind="url", description="x"), actor=SYSTEM)


def test_the_form_needs_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    assert _post(client).status_code == 403
    assert Report.objects.count() == 0


@override_settings(HOTLINE_PUBLIC_RATE="2/h")
def test_the_form_is_rate_limited_per_client() -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert [_post(client).status_code for _ in range(4)] == [200, 200, 429, 429]
    assert Report.objects.count() == 2


def test_the_public_form_carries_the_strict_csp() -> None:
    response = Client().get("/report/without-link/")
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_url_form_points_to_the_path_without_a_link() -> None:
    assert "/report/without-link/" in Client().get("/report/").content.decode()


def test_a_dutch_report_records_its_language() -> None:
    _post(Client(), prefix="/nl")
    assert Report.objects.get().language == "nl"


# --- staff ------------------------------------------------------------------------------------------


def _incident(**extra: Any) -> Incident:
    report = incidents.receive_incident(incidents.IncomingIncident(
        kind=extra.pop("kind", "sextortion"), description="Threat over chat.", accounts="someone.example.test",
        screenshots=extra.pop("screenshots", [make_image("png", 4, size=(200, 120))]), **extra), actor=SYSTEM)
    incident: Incident = report.incident
    return incident


def test_the_queue_is_for_analysts_and_the_police_liaison(login: Callable[[User], Client], personas: Any) -> None:
    _incident()
    for role, user in personas.items():
        status = login(user).get("/incidents/").status_code
        assert status == (200 if role in ("analyst", "senior_analyst", "police_liaison") else 403), role
    assert Client().get("/incidents/").status_code == 302


def test_the_queue_orders_by_urgency_then_age(login: Callable[[User], Client], analyst: User) -> None:
    normal = _incident(kind="grooming")
    urgent = _incident(kind="solicitation", ongoing=True)
    high = _incident(kind="sextortion")
    assert list(Incident.objects.waiting()) == [urgent, high, normal]
    page = login(analyst).get("/incidents/").content.decode()
    order = [page.index(f'data-incident="{i.pk}"') for i in (urgent, high, normal)]
    assert order == sorted(order)


def test_the_incident_page_shows_the_report_and_audits_the_opening(
        login: Callable[[User], Client], police: User) -> None:
    incident = _incident()
    page = login(police).get(f"/incidents/{incident.pk}/").content.decode()
    assert "Threat over chat." in page and "someone.example.test" in page
    assert AuditEvent.objects.filter(action="incident.opened", actor_label="user:piet").count() == 1


def test_every_screenshot_view_is_audited_and_blurred_unless_asked(
        login: Callable[[User], Client], analyst: User, manager: User) -> None:
    incident = _incident()
    client = login(analyst)
    blurred = client.get(f"/incidents/{incident.pk}/screenshots/0/")
    sharp = client.get(f"/incidents/{incident.pk}/screenshots/0/?sharp=1")
    assert blurred["Content-Type"] == sharp["Content-Type"] == "image/png"
    assert blurred.content != sharp.content and "no-store" in sharp["Cache-Control"]
    views = AuditEvent.objects.filter(action="incident.screenshot_viewed").order_by("pk")
    assert [(e.after or {})["sharp"] for e in views] == [False, True]
    assert {e.actor_label for e in views} == {"user:ana"}
    assert login(manager).get(f"/incidents/{incident.pk}/screenshots/0/?sharp=1").status_code == 403
    assert views.count() == 2


def test_take_refer_close_and_reopen_are_audited(login: Callable[[User], Client], police: User) -> None:
    incident = _incident()
    client = login(police)
    client.post(f"/incidents/{incident.pk}/take/")
    client.post(f"/incidents/{incident.pk}/refer/", {"police_reference": "PV-123"})
    incident.refresh_from_db()
    assert (incident.status, incident.police_reference, incident.handled_by) == ("referred", "PV-123", police)
    client.post(f"/incidents/{incident.pk}/close/")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLOSED and not Incident.objects.waiting().exists()
    client.post(f"/incidents/{incident.pk}/take/")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.IN_PROGRESS and incident.reopened_at is not None
    actions = list(AuditEvent.objects.filter(object_type="assessment.incident").values_list("action", flat=True))
    for action in ("incident.in_progress", "incident.referred", "incident.closed"):
        assert action in actions


def test_a_closed_incident_cannot_be_referred(analyst: User) -> None:
    incident = _incident()
    incidents.close_incident(incident, user=analyst)
    with pytest.raises(incidents.IncidentError):
        incidents.refer_incident(incident, user=analyst)


def test_report_annotations_are_set_on_the_incident_page(login: Callable[[User], Client], analyst: User) -> None:
    incident = _incident()
    client = login(analyst)
    client.post(f"/incidents/{incident.pk}/annotate/", {"annotations": ["sextortion", "minor_to_minor"]})
    incident.refresh_from_db()
    assert (incident.ann_sextortion, incident.ann_solicitation, incident.ann_minor_to_minor) == (True, False, True)
    event = AuditEvent.objects.get(action="incident.annotated")
    assert event.after == {"annotations": ["sextortion", "minor_to_minor"]}
    assert client.post(f"/incidents/{incident.pk}/annotate/", {"annotations": ["bogus"]}).status_code == 302
    incident.refresh_from_db()
    assert incident.ann_sextortion


def test_support_contacts_configuration_is_checked() -> None:
    assert [c.name["en"] for c in parse(CONTACTS)] == ["Test helpline", "Sextortion desk"]
    assert parse("") == []
    for bad in ('{"name": "x"}', '[{"name": "x"}]', '[{"name": "x", "url": "http://plain.test/"}]',
                '[{"name": "x", "phone": "1", "kinds": ["url"]}]', '[{"name": "x", "phone": "1", "colour": 1}]'):
        with pytest.raises(ValueError):
            parse(bad)


def test_the_public_status_page_follows_the_incident(analyst: User) -> None:
    from hotline.reports.services import public_status

    incident = _incident()
    reference = incident.report.reference
    assert public_status(reference) == "received"
    incidents.take_incident(incident, user=analyst)
    assert public_status(reference) == "in_progress"
    incidents.close_incident(incident, user=analyst)
    assert public_status(reference) == "handled"
    page = Client().get("/report/status/", {"code": reference}).content.decode()
    assert 'data-status="handled"' in page and "Threat over chat" not in page
