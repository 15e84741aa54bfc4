"""Schemathesis against /api/openapi.json, in-process over WSGI, with every built-in check (as
``schemathesis run --checks all`` against the running server: see docs/security.md for the command).

Every operation gets schemathesis' coverage cases (boundaries, missing auth, wrong methods) and up to
``MAX_EXAMPLES`` fuzzed ones, both schema-valid (positive) and schema-violating (negative), sent with a
real API client token. Rows persist across examples on purpose, so resends reach the replay and 409 paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client, override_settings
from hypothesis import HealthCheck, settings
from schemathesis.transport.serialization import Binary

from hotline.accounts.models import ClientKind
from hotline.accounts.services import issue_api_client
from hotline.audit.services import SYSTEM
from hotline.conftest import TIMING_HEALTH_CHECKS

MAX_EXAMPLES = 30  # fuzzed examples per operation; the coverage phase adds its own fixed set

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
schema.config.generation.update(max_examples=MAX_EXAMPLES)


@schema.hook
def filter_body(context: schemathesis.HookContext, body: object) -> bool:
    """Skip empty uploads: Werkzeug's test client encodes an empty file part without the line break
    before the closing boundary, so Django never sees the file (Django's own client sends it fine)."""
    part = body.get("file") if isinstance(body, dict) else None
    return not (isinstance(part, Binary) and not part.data) and part != b""


# Every built-in check, as `schemathesis run --checks all` (the framework's own refusals, 400, 401, 413,
# 422 and 429, are in the document, so no status is excused): no 5xx, documented statuses, content types
# and bodies, schema-valid requests accepted, schema-violating ones refused, auth not ignored, ...
CHECKS = None


@pytest.fixture
def token(transactional_db: None) -> Iterator[str]:
    # The WSGI handler runs on this thread's connection; a transactional test commits the client's row.
    with override_settings(HOTLINE_API_RATE="1000000/m"):
        yield issue_api_client("Schema fuzzer", ClientKind.PARTNER, actor=SYSTEM, country="NL")[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(suppress_health_check=[*TIMING_HEALTH_CHECKS, HealthCheck.function_scoped_fixture])
def test_every_operation_keeps_its_contract(case: schemathesis.Case[Any], token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.mark.django_db(transaction=True)
def test_stored_answers_keep_the_contract(token: str) -> None:
    """Generated ids never name a stored submission or report, so their 200 answers are checked here."""
    auth = {"Authorization": f"Bearer {token}"}
    submit = schema["/api/v1/submissions"]["POST"].Case(media_type="application/json", body={
        "submission_id": "known",
        "reports": [{"urls": ["http://a.sim.test/", "mailto:x@y.example"], "received_at": "2026-03-01T12:00:00"}],
    })
    reference = submit.call_and_validate(headers=auth, checks=CHECKS).json()["reports"][0]["reference"]
    assert submit.call_and_validate(headers=auth, checks=CHECKS).json()["replayed"] is True
    for path, parameters in (("/api/v1/submissions/{submission_id}", {"submission_id": "known"}),
                             ("/api/v1/reports/{reference}", {"reference": reference})):
        case = schema[path]["GET"].Case(path_parameters=parameters)
        assert case.call_and_validate(headers=auth, checks=CHECKS).status_code == 200


def test_the_document_declares_the_frameworks_refusals() -> None:
    """Found by an outside probe: 400, 401 and 422 were answered but not in /api/openapi.json."""
    document = Client().get("/api/openapi.json").json()
    paths = document["paths"]
    for status in ("400", "401", "413", "422", "429"):
        assert status in paths["/api/v1/submissions"]["post"]["responses"], status
    assert {"401", "422", "429"} <= set(paths["/api/v1/reports/{reference}"]["get"]["responses"])
    assert "401" not in paths["/api/v1/exchange/identity"]["get"]["responses"]  # no token needed there
    refusal = paths["/api/v1/hashes/lookup"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert refusal == {"$ref": "#/components/schemas/ValidationRefusalOut"}
    assert document["components"]["schemas"]["RequestRefusalOut"]["properties"]["detail"]["type"] == "string"


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_an_unreadable_body_is_a_documented_json_refusal(debug: bool, token_plain: str) -> None:
    with override_settings(DEBUG=debug, DATA_UPLOAD_MAX_NUMBER_FIELDS=2):
        response = Client(raise_request_exception=False).post(
            "/api/v1/hashes/match-file", data="a=1&b=2&c=3&d=4", content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=f"Bearer {token_plain}")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")


@pytest.fixture
def token_plain(db: None) -> str:
    token = issue_api_client("Plain", ClientKind.PARTNER, actor=SYSTEM, country="NL")[1]
    assert token is not None
    return token
