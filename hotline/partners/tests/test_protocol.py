"""The canonical form and signatures of docs/exchange.md §2.1, pinned by fixed vectors."""

from __future__ import annotations

import base64

import pytest

from hotline.lib import signing
from hotline.lib.signing import CanonicalError, canonical_bytes
from hotline.partners import protocol
from hotline.partners.protocol import ProtocolError

SEED = base64.b64encode(bytes(range(32))).decode()


def test_the_canonical_form_sorts_keys_and_escapes_to_ascii() -> None:
    value = {"b": [1, True, None], "a": "é/\n\"\\\x7f\x01😀", "A": {"z": -3, "y": ""}}
    assert canonical_bytes(value) == (
        b'{"A":{"y":"","z":-3},"a":"\\u00e9/\\n\\"\\\\\\u007f\\u0001\\ud83d\\ude00","b":[1,true,null]}')


@pytest.mark.parametrize(("value", "path"), [({"a": 1.0}, "a"), ({"a": [1, {"b": 2.5}]}, "a.1.b"),
                                             ({"a": {1: 2}}, "a"), ({"a": b"x"}, "a")])
def test_values_without_a_canonical_form_are_refused_with_their_path(value: object, path: str) -> None:
    with pytest.raises(CanonicalError) as caught:
        canonical_bytes(value)
    assert caught.value.path == path


def test_a_signature_is_deterministic_and_covers_every_member() -> None:
    key = signing.private_key(SEED)
    message = {"v": 1, "body": {"url": "http://a.sim.test/"}}
    signature = signing.sign(key, message)
    assert signature == signing.sign(key, dict(reversed(list(message.items()))))
    assert len(base64.b64decode(signature)) == 64
    public = signing.public_key(signing.public_b64(key))
    assert signing.verify(public, message, signature)
    assert not signing.verify(public, {"v": 1, "body": {"url": "http://b.sim.test/"}}, signature)
    assert not signing.verify(public, message, "AAAA")
    # The context prefix: a bare signature over the canonical bytes is not a message signature.
    assert not signing.verify(public, message, base64.b64encode(key.sign(canonical_bytes(message))).decode())


def test_the_fixed_vector_stays_the_same() -> None:
    """Another implementation can check itself against this: seed 00..1f, this message."""
    key = signing.private_key(SEED)
    message = protocol.make_message(
        "status", sender="be-hotline", recipient="nl-sim", message_id="00000000-0000-4000-8000-000000000001",
        created_at=protocol.parse_time("2026-03-01T12:00:00Z"), sent_at=protocol.parse_time("2026-03-01T12:00:00Z"),
        body={"forward_id": "00000000-0000-4000-8000-000000000000", "status": "removed",
              "at": "2026-03-01T12:00:00.000000Z", "note": ""})
    assert signing.public_b64(key) == "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    assert signing.sign(key, message) == VECTOR_SIGNATURE


VECTOR_SIGNATURE = "akCYNXIHJCPeHtcdGHnIjRZ/0wkE/p07qehe9+jGYhVIgKJSN4Ql+hGTmBotfGYIcKycJ8+79yMBiIX5epvJAw=="


def test_keys_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError, match="must be 32 bytes"):
        signing.private_key(base64.b64encode(b"x" * 31).decode())
    with pytest.raises(ValueError, match="not base64"):
        signing.public_key("***")


def test_the_content_digest_ignores_only_sent_at() -> None:
    message = {"id": "x", "sent_at": "2026-01-01T00:00:00Z", "body": {}}
    assert protocol.content_digest(message) == protocol.content_digest(dict(message, sent_at="later"))
    assert protocol.content_digest(message) != protocol.content_digest(dict(message, body={"a": 1}))


@pytest.mark.parametrize(("raw", "field"), [(b"\xff", "request"), (b"[" * 100_000, "request"),
                                            (b'{"message": {"a": "\\u0000"}}', "message.a"),
                                            (b'{"message": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}",
                                             "message.a" + ".0" * 20)])
def test_the_wire_parser_refuses_broken_input_by_field(raw: bytes, field: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_wire(raw, max_bytes=1_000_000)
    assert (caught.value.outcome, caught.value.field) == ("bad_schema", field)
