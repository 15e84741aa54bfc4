from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client, override_settings

from hotline.lib.ratelimit import parse_rate
from hotline.lib.tests.probe import accepted_per_hour
from hotline.reports.models import Item, Report

pytestmark = pytest.mark.django_db


def test_an_anonymous_report_is_stored_and_answered_with_a_reference() -> None:
    client = Client()
    response = client.post("/report/", {"urls": "http://x.sim.test/a\n\nhttp://x.sim.test/b",
                                        "description": "seen on a forum", "contact": ""})
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.reference in response.content.decode()
    assert (report.source, report.url_count, report.reporter_contact) == ("public", 2, "")
    assert Item.objects.count() == 2


def test_the_form_names_the_bad_line_and_stores_nothing() -> None:
    response = Client().post("/report/", {"urls": "http://ok.sim.test/\nftp://bad.sim.test/x"})
    assert response.status_code == 200
    assert "Line 2 is not a web address" in response.content.decode()
    assert Report.objects.count() == 0


@override_settings(HOTLINE_MAX_URLS_PER_PUBLIC_REPORT=3)
def test_the_form_limits_the_number_of_urls() -> None:
    urls = "\n".join(f"http://x.sim.test/{i}" for i in range(4))
    response = Client().post("/report/", {"urls": urls})
    assert "at most 3 addresses" in response.content.decode()


def test_the_form_needs_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/report/", {"urls": "http://x.sim.test/"}).status_code == 403
    assert Report.objects.count() == 0


@override_settings(HOTLINE_PUBLIC_RATE="3/h")
def test_the_form_is_rate_limited_per_client() -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [client.post("/report/", {"urls": f"http://r.sim.test/{i}"}).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert Client(REMOTE_ADDR="203.0.113.10").post("/report/", {"urls": "http://r.sim.test/x"}).status_code == 200
    assert Report.objects.count() == 4


@pytest.mark.parametrize("prefix,phrase", [
    ("/nl", "Webadressen"), ("/fr", "Adresses web"), ("", "Web addresses"),
])
def test_the_form_speaks_dutch_french_and_english(prefix: str, phrase: str) -> None:
    response = Client().get(f"{prefix}/report/")
    assert response.status_code == 200
    assert phrase in response.content.decode()


def test_a_dutch_report_records_its_language() -> None:
    Client().post("/nl/report/", {"urls": "http://nl.sim.test/"})
    assert Report.objects.get().language == "nl"


def test_the_status_page_shows_only_a_coarse_status(make_item: object) -> None:
    client = Client()
    client.post("/report/", {"urls": "http://st.sim.test/1"})
    report = Report.objects.get()
    Item.objects.update(status="assessed", verdict="baseline")
    page = client.get("/report/status/", {"code": report.reference.lower()}).content.decode()
    assert 'data-status="handled"' in page
    assert "baseline" not in page and "st.sim.test" not in page
    missing = client.get("/report/status/", {"code": "HL-0000-0000-0000"}).content.decode()
    assert "We know no report with this reference" in missing


@pytest.mark.parametrize("typed", [
    "hl-7qk2-m9xd-4tr1", "HL7QK2M9XD4TR1", "7QK2M9XD4TR1", " hl 7qk2 m9xd 4tr1 ",
    "HL-7QK2-M9XD-4TRI", "HL-7QK2-M9XD-4TRl", "HL.7QK2.M9XD.4TR1", "HL--7QK2 M9XD-4TR1",
])
def test_it_finds_a_report_from_a_reference_typed_loosely(typed: str) -> None:
    Client().post("/report/", {"urls": "http://loose.sim.test/1"})
    Report.objects.update(reference="HL-7QK2-M9XD-4TR1")
    page = Client().get("/report/status/", {"code": typed}).content.decode()
    assert 'data-status="received"' in page


def test_it_reads_the_letter_o_as_zero_in_a_reference() -> None:
    Client().post("/report/", {"urls": "http://loose.sim.test/2"})
    Report.objects.update(reference="HL-0000-10A0-0000")
    page = Client().get("/report/status/", {"code": "hl-oooo-loao-oooo"}).content.decode()
    assert 'data-status="received"' in page


def _post_report(client: Client, n: int) -> int:
    return int(client.post("/report/", {"urls": f"http://probe.sim.test/{n}"}).status_code)


def _look_up(client: Client, n: int) -> int:
    return int(client.get("/report/status/", {"code": f"ZZ{n:08d}"}).status_code)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("send", "setting", "clients", "attempts"), [
    (_post_report, "HOTLINE_PUBLIC_RATE", 8, 3),  # 120 posts an hour
    (_look_up, "HOTLINE_STATUS_RATE", 12, 5),  # 300 look-ups an hour
])
def test_it_accepts_exactly_the_hourly_budget_from_parallel_clients_over_two_hours(
        send: Callable[[Client, int], int], setting: str, clients: int, attempts: int) -> None:
    limit, _ = parse_rate(getattr(settings, setting))
    accepted = accepted_per_hour(send, address="203.0.113.20", clients=clients, attempts=attempts)
    assert accepted == [limit, limit]
