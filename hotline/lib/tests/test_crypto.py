from __future__ import annotations

import pytest

from hotline.lib.crypto import CryptoError, Keyring, new_key_spec


def test_it_round_trips_and_binds_the_context() -> None:
    ring = Keyring.parse(new_key_spec("k1"))
    token = ring.encrypt(b"reporter@example.org", aad=b"reports.report.contact")
    assert b"reporter" not in token.encode()
    assert ring.decrypt(token, aad=b"reports.report.contact") == b"reporter@example.org"
    with pytest.raises(CryptoError):
        ring.decrypt(token, aad=b"another.column")


def test_it_detects_tampering() -> None:
    ring = Keyring.parse(new_key_spec("k1"))
    token = ring.encrypt(b"secret")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(CryptoError):
        ring.decrypt(flipped)


def test_old_keys_still_decrypt_and_rewrap_moves_to_the_current_key() -> None:
    old_spec = new_key_spec("old")
    old = Keyring.parse(old_spec)
    token = old.encrypt(b"value")
    rotated = Keyring.parse(f"{new_key_spec('new')},{old_spec}")
    assert rotated.decrypt(token) == b"value"
    moved = rotated.rewrap(token)
    assert rotated.key_id_of(moved) == "new" and rotated.decrypt(moved) == b"value"
    with pytest.raises(CryptoError, match="not configured"):
        Keyring.parse(new_key_spec("other")).decrypt(token)


@pytest.mark.parametrize("spec,message", [
    ("", "no keys"), ("k1", "id:base64key"), ("k1:c2hvcnQ", "32 bytes"), ("k-1:" + "A" * 43, "id:base64key"),
])
def test_bad_key_specs_are_refused_with_a_reason(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Keyring.parse(spec)
