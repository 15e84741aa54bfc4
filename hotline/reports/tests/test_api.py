from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client, override_settings

from hotline.accounts.models import ApiClient, ClientKind
from hotline.accounts.services import issue_api_client, revoke_api_client
from hotline.audit.services import SYSTEM
from hotline.reports.models import Item, Report, Submission

pytestmark = pytest.mark.django_db
URL = "/api/v1/submissions"


def _post(token: str, body: dict[str, Any]) -> Any:
    return Client().post(URL, json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {token}")


def _batch(submission_id: str, *urls: str) -> dict[str, Any]:
    return {"submission_id": submission_id, "reports": [{"urls": list(urls), "external_ref": "P-1"}]}


def test_it_needs_a_valid_token() -> None:
    assert Client().post(URL, "{}", content_type="application/json").status_code == 401
    assert _post("hl_nope_nope", _batch("s1", "http://a.sim.test/")).status_code == 401


def test_a_revoked_token_stops_working(partner_client: tuple[ApiClient, str]) -> None:
    client, token = partner_client
    revoke_api_client(client, actor=SYSTEM)
    assert _post(token, _batch("s1", "http://a.sim.test/")).status_code == 401


def test_a_batch_gets_a_result_per_url(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    Client().post("/report/", {"urls": "http://known.sim.test/p"})
    body = _batch("s1", "http://new.sim.test/p", "http://KNOWN.sim.test/p#frag", "mailto:x@y.example")
    response = _post(token, body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["counts"] == {"created": 1, "merged": 1, "rejected": 1}
    urls = data["reports"][0]["urls"]
    assert [u["result"] for u in urls] == ["created", "merged", "rejected"]
    assert urls[1]["item_id"] == Item.objects.get(host="known.sim.test").pk
    assert urls[2]["code"] == "bad_scheme" and urls[2]["reason"]
    report = Report.objects.get(reference=data["reports"][0]["reference"])
    assert (report.source, report.external_ref) == ("partner", "P-1")


def test_a_resend_with_the_same_id_stores_nothing_new(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    first = _post(token, _batch("s1", "http://a.sim.test/", "http://b.sim.test/")).json()
    again = _post(token, _batch("s1", "http://a.sim.test/", "http://b.sim.test/")).json()
    assert again["replayed"] is True and first["replayed"] is False
    assert again["reports"] == first["reports"]
    assert Report.objects.count() == 1 and Item.objects.get(host="a.sim.test").report_count == 1
    conflict = _post(token, _batch("s1", "http://c.sim.test/"))
    assert conflict.status_code == 409 and "different batch" in conflict.json()["detail"]


def test_submission_ids_are_per_client(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    _, other = issue_api_client("Industry X", ClientKind.INDUSTRY, actor=SYSTEM)
    _post(token, _batch("same", "http://a.sim.test/"))
    response = _post(other, _batch("same", "http://a.sim.test/"))
    assert response.json()["replayed"] is False
    assert Report.objects.get(api_client__name="Industry X").source == "industry"
    lookup = Client().get("/api/v1/submissions/same", HTTP_AUTHORIZATION=f"Bearer {other}")
    assert lookup.json()["reports"][0]["reference"] == response.json()["reports"][0]["reference"]
    assert Client().get("/api/v1/submissions/none", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404


def test_report_status_only_for_the_clients_own_reports(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    _, other = issue_api_client("Other", ClientKind.PARTNER, actor=SYSTEM)
    ref = _post(token, _batch("s1", "http://a.sim.test/")).json()["reports"][0]["reference"]
    own = Client().get(f"/api/v1/reports/{ref}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert own.json() == {"reference": ref, "status": "received"}
    loose = Client().get(f"/api/v1/reports/{ref.lower().replace('-', '')}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert loose.json() == {"reference": ref, "status": "received"}
    assert Client().get(f"/api/v1/reports/{ref}", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404


@override_settings(HOTLINE_MAX_URLS_PER_SUBMISSION=3)
def test_an_oversized_batch_is_refused_whole(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    response = _post(token, _batch("big", *[f"http://x.sim.test/{i}" for i in range(4)]))
    assert response.status_code == 413 and "limit is 3" in response.json()["detail"]
    assert not Submission.objects.exists()


def test_a_malformed_batch_names_the_field(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    response = _post(token, {"submission_id": "s", "reports": [{"urls": "http://x.sim.test/"}]})
    assert response.status_code == 422
    assert "urls" in json.dumps(response.json())


@pytest.mark.parametrize("field", ["urls", "external_ref", "text", "language", "submission_id"])
@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_text_postgres_cannot_store_is_refused(partner_client: tuple[ApiClient, str], field: str, bad: str) -> None:
    """Found by schemathesis: NUL (and unpaired surrogates) reached PostgreSQL and answered 500."""
    _, token = partner_client
    body = _batch("s1", "http://a.sim.test/")
    if field == "submission_id":
        body["submission_id"] = f"s{bad}"
    else:
        body["reports"][0][field] = [f"http://a.sim.test/{bad}"] if field == "urls" else f"x{bad}"
    response = _post(token, body)
    assert response.status_code == 422, response.content
    assert field in json.dumps(response.json())
    assert not Report.objects.exists() and not Submission.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/submissions/s%00", "/api/v1/reports/HL%00"])
def test_a_nul_in_a_lookup_id_is_refused(partner_client: tuple[ApiClient, str], path: str) -> None:
    _, token = partner_client
    assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 422


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+01:00",
                                   "0001-01-01T12:00:00Z", "9999-12-31T00:00:00+00:00"])
def test_a_received_at_beyond_the_utc_range_is_refused(partner_client: tuple[ApiClient, str], stamp: str) -> None:
    _, token = partner_client
    body = _batch("s1", "http://a.sim.test/")
    body["reports"][0]["received_at"] = stamp
    response = _post(token, body)
    assert response.status_code == 422 and "received_at" in json.dumps(response.json())
    assert not Report.objects.exists()


def test_a_received_at_without_offset_is_utc(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    body = _batch("s1", "http://a.sim.test/")
    body["reports"][0]["received_at"] = "2026-03-01T12:00:00"
    ref = _post(token, body).json()["reports"][0]["reference"]
    assert Report.objects.get(reference=ref).received_at == datetime(2026, 3, 1, 12, tzinfo=UTC)


@override_settings(HOTLINE_API_RATE="2/m")
def test_the_api_is_rate_limited_per_client(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    codes = [_post(token, _batch(f"s{i}", "http://a.sim.test/")).status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_the_openapi_document_describes_the_api() -> None:
    doc = Client().get("/api/openapi.json").json()
    assert {"/api/v1/submissions", "/api/v1/submissions/{submission_id}",
            "/api/v1/reports/{reference}"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["ClientToken"]["scheme"] == "bearer"


@pytest.mark.parametrize("bad", ["a/b", "a?b", "a#b", "a b", "a%2Fb", "", "x" * 101, "é"])
def test_a_submission_id_that_cannot_be_looked_up_later_is_refused(partner_client: tuple[ApiClient, str],
                                                                    bad: str) -> None:
    """Found by an outside probe: an id with "/" was stored, and /submissions/{id} could never fetch it."""
    _, token = partner_client
    response = _post(token, _batch(bad, "http://a.sim.test/"))
    assert response.status_code == 422 and "submission_id" in json.dumps(response.json())
    assert not Submission.objects.exists()


def test_every_allowed_submission_id_can_be_looked_up(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    submission_id = "Batch_2026-03-01T12:00:00.7"
    assert _post(token, _batch(submission_id, "http://a.sim.test/")).status_code == 200
    response = Client().get(f"/api/v1/submissions/{submission_id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.json()["submission_id"] == submission_id
    parameter = Client().get("/api/openapi.json").json()["paths"]["/api/v1/submissions/{submission_id}"]["get"][
        "parameters"][0]
    assert parameter["schema"]["pattern"] == "^[A-Za-z0-9._:-]{1,100}$" and "path segment" in parameter["description"]


@pytest.mark.parametrize("stamp", [0, 1767225600, 1.5, True])
def test_a_received_at_that_is_not_a_string_is_refused(partner_client: tuple[ApiClient, str], stamp: object) -> None:
    """Found by schemathesis: a number was taken as a Unix time although the document says a date-time string."""
    _, token = partner_client
    body = _batch("s1", "http://a.sim.test/")
    body["reports"][0]["received_at"] = stamp
    response = _post(token, body)
    assert response.status_code == 422 and "received_at" in json.dumps(response.json())


def test_the_document_names_the_days_a_received_at_may_not_fall_on() -> None:
    """Found by schemathesis: 0001-01-01T00:00:00+01:00 fits "format: date-time" but is refused (not in UTC's
    range), so the document now says which days are refused, and they are refused whatever the offset."""
    schema = Client().get("/api/openapi.json").json()["components"]["schemas"]["ReportIn"]["properties"]
    assert schema["received_at"]["pattern"] == "^(?!0001-01-01|9999-12-31)"


def test_the_answer_is_what_the_schema_renders(partner_client: tuple[ApiClient, str]) -> None:
    """The 200 answer is written without ninja's output validation; it must still be that document."""
    from hotline.reports.api import SubmissionOut

    _, token = partner_client
    for _ in range(2):  # the first answer, then the replay
        response = _post(token, _batch("s1", "http://new.sim.test/p", "http://NEW.sim.test/p", "mailto:x@y.example"))
        data = response.json()
        assert response["Content-Type"].startswith("application/json")
        assert SubmissionOut.model_validate(data).model_dump(mode="json") == data
        assert set(data["reports"][0]["urls"][2]) == {"index", "url", "result", "item_id", "canonical_url", "code",
                                                     "reason"}
