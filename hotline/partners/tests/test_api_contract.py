"""Schemathesis against the exchange operations of /api/openapi.json: no 5xx, documented statuses,
answers that match their schema, for generated requests and for a real signed message."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hotline.conftest import TIMING_HEALTH_CHECKS
from hotline.partners.tests.conftest import Peer, forward_body

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application()).include(path_regex="exchange")
schema.config.generation.update(max_examples=40)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def partner(transactional_db: None) -> Any:
    from hotline.partners.tests.conftest import make_peer

    with override_settings(HOTLINE_EXCHANGE_RATE="1000000/m"):
        yield make_peer()


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(suppress_health_check=[*TIMING_HEALTH_CHECKS, HealthCheck.function_scoped_fixture])
def test_the_exchange_operations_keep_their_contract(case: schemathesis.Case[Any], partner: Peer) -> None:
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db(transaction=True)
def test_an_accepted_message_and_its_resend_keep_the_contract(partner: Peer) -> None:
    wire = partner.seal(partner.message("forward", forward_body()))
    case = schema["/api/v1/exchange/messages"]["POST"].Case(media_type="application/json", body=wire)
    first = case.call_and_validate(checks=CHECKS)
    assert first.status_code == 200
    assert case.call_and_validate(checks=CHECKS).content == first.content
