"""Property-based tests of the exchange endpoint: whatever arrives, never a 5xx, and never a report
unless the signature is valid for a partner in our directory."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.conftest import TIMING_HEALTH_CHECKS
from hotline.lib import signing
from hotline.partners.models import InboundMessage
from hotline.partners.tests.conftest import Peer, forward_body, post
from hotline.reports.models import Report

pytestmark = pytest.mark.django_db
FIXTURES = [*TIMING_HEALTH_CHECKS, HealthCheck.function_scoped_fixture]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
MEMBERS = ["v", "id", "kind", "sender", "recipient", "created_at", "sent_at", "body"]
BODY_MEMBERS = ["url", "reference", "trace", "assessment", "media"]


def _reports() -> int:
    return Report.objects.count()


@settings(max_examples=150, suppress_health_check=FIXTURES)
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bodies_never_break_the_endpoint(peer: Peer, raw: bytes) -> None:
    before, logged = _reports(), InboundMessage.objects.count()
    response = post(raw)
    assert response.status_code in (400, 401, 403, 409, 413)
    assert response.json()["outcome"] in ("bad_schema", "bad_signature", "unknown_sender", "replay")
    assert _reports() == before and InboundMessage.objects.count() == logged + 1


@settings(max_examples=150, suppress_health_check=FIXTURES)
@given(where=st.sampled_from(["message", "body", "signature"]), data=st.data())
def test_a_mutated_signed_message_never_creates_a_report(peer: Peer, where: str, data: st.DataObject) -> None:
    message = peer.message("forward", forward_body(f"http://p{data.draw(st.integers(0, 10**6))}.sim.test/"))
    wire: dict[str, Any] = peer.seal(message)
    if where == "signature":
        raw = bytearray(json.dumps(wire).encode())
        start = raw.index(b'"signature": "') + 14
        position = data.draw(st.integers(start, start + 87))
        raw[position] = data.draw(st.sampled_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij+/="))
        body: bytes | dict[str, Any] = bytes(raw)
    else:
        target = message if where == "message" else message["body"]
        name = data.draw(st.sampled_from(MEMBERS if where == "message" else BODY_MEMBERS))
        target[name] = data.draw(json_values)
        body = wire
    before = _reports()
    response = post(body)
    assert response.status_code < 500
    valid = _still_valid(peer, body)
    if not valid:
        assert response.status_code in (400, 401, 403, 409)
        assert _reports() == before


def _still_valid(peer: Peer, body: bytes | dict[str, Any]) -> bool:
    """Whether the mutation happened to leave a message the partner's key still signs."""
    wire = json.loads(body) if isinstance(body, bytes) else body
    try:
        return signing.verify(signing.public_key(peer.hotline.public_key), wire["message"], wire["signature"])
    except (signing.CanonicalError, ValueError, KeyError, TypeError):
        return False


@settings(max_examples=60, suppress_health_check=FIXTURES)
@given(body=st.dictionaries(st.sampled_from([*BODY_MEMBERS, "extra"]), json_values, max_size=6))
def test_validly_signed_arbitrary_bodies_are_refused_cleanly_or_accepted(peer: Peer, body: dict[str, Any]) -> None:
    try:
        wire = peer.seal(peer.message("forward", body))
    except signing.CanonicalError:
        return  # a float: no signature can be made, the parser's own test covers it
    before = _reports()
    response = post(wire)
    assert response.status_code in (200, 400), response.content
    assert _reports() == before + (1 if response.status_code == 200 else 0)
