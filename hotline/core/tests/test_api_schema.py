"""Schemathesis against /api/openapi.json, in-process over WSGI: no 5xx, and every answer matches the schema.

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
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis import CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import Binary

from hotline.accounts.models import ClientKind
from hotline.accounts.services import issue_api_client
from hotline.audit.services import SYSTEM
from hotline.conftest import TIMING_HEALTH_CHECKS

MAX_EXAMPLES = 30  # fuzzed examples per operation; the coverage phase adds its own fixed set
# Answers django-ninja gives before the view runs and leaves out of the document: 400 (body is not
# JSON), 401 (no or bad token), 422 (body or parameter fails the schema). They are only right for a
# request that breaks the contract, so they pass for negative cases alone; a valid request still
# has to get a documented status.
FRAMEWORK_REFUSALS = {400, 401, 422}

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
schema.config.generation.update(max_examples=MAX_EXAMPLES)


@schema.hook
def filter_body(context: schemathesis.HookContext, body: object) -> bool:
    """Skip empty uploads: Werkzeug's test client encodes an empty file part without the line break
    before the closing boundary, so Django never sees the file (Django's own client sends it fine)."""
    part = body.get("file") if isinstance(body, dict) else None
    return not (isinstance(part, Binary) and not part.data) and part != b""


def documented_status(ctx: CheckContext, response: Response, case: schemathesis.Case[Any]) -> bool | None:
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    if negative and response.status_code in FRAMEWORK_REFUSALS:
        return None
    return status_code_conformance(ctx, response, case)


CHECKS = [not_a_server_error, documented_status, content_type_conformance, response_schema_conformance]


@pytest.fixture
def token(transactional_db: None) -> Iterator[str]:
    # The WSGI handler runs on this thread's connection; a transactional test commits the client's row.
    with override_settings(HOTLINE_API_RATE="1000000/m"):
        yield issue_api_client("Schema fuzzer", ClientKind.PARTNER, actor=SYSTEM, country="NL")[1]


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
