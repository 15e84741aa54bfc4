"""Ed25519 signatures over a canonical JSON form (the exchange protocol, docs/exchange.md §2.1)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_CONTEXT = b"hotline-exchange/1\n"


class CanonicalError(ValueError):
    """A value has no canonical form (a float, a non-string key, an unsupported type)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise CanonicalError(path, "numbers must be integers")
    if isinstance(value, list):
        for index, member in enumerate(value):
            _check(member, f"{path}.{index}")
        return
    if isinstance(value, dict):
        for key, member in value.items():
            if not isinstance(key, str):
                raise CanonicalError(path, "object keys must be strings")
            _check(member, f"{path}.{key}" if path else key)
        return
    raise CanonicalError(path, f"{type(value).__name__} is not a JSON value")


def canonical_bytes(value: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII with lower-case ``\\uXXXX`` escapes, integers only."""
    _check(value, "")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decode(text: str, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not base64") from exc
    if len(raw) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(raw)}")
    return raw


def new_keypair() -> tuple[str, str]:
    """A fresh key: (private seed base64, public key base64)."""
    key = Ed25519PrivateKey.generate()
    return _b64(key.private_bytes_raw()), _b64(key.public_key().public_bytes_raw())


def private_key(text: str) -> Ed25519PrivateKey:
    """The key from base64 of its 32-byte seed; ValueError naming what is wrong."""
    return Ed25519PrivateKey.from_private_bytes(_decode(text, 32, "Ed25519 private key"))


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def derived_private_b64(secret: str, context: str) -> str:
    """A deterministic seed derived from ``secret`` (development and demo keys only)."""
    return _b64(hashlib.sha256(f"hotline-signing:{context}:".encode() + secret.encode()).digest())


def public_key(text: str) -> Ed25519PublicKey:
    """The key from base64 of its 32 raw bytes; ValueError naming what is wrong."""
    return Ed25519PublicKey.from_public_bytes(_decode(text, 32, "Ed25519 public key"))


def public_b64(key: Ed25519PrivateKey) -> str:
    return _b64(key.public_key().public_bytes_raw())


def private_b64(key: Ed25519PrivateKey) -> str:
    return _b64(key.private_bytes_raw())


def sign(key: Ed25519PrivateKey, message: Any) -> str:
    """The base64 signature of ``message``'s canonical bytes (raises CanonicalError)."""
    return _b64(key.sign(SIGNATURE_CONTEXT + canonical_bytes(message)))


def verify(key: Ed25519PublicKey, message: Any, signature: str) -> bool:
    """Whether ``signature`` is valid for ``message``; malformed signatures are simply invalid."""
    try:
        raw = _decode(signature, 64, "signature")
    except ValueError:
        return False
    try:
        key.verify(raw, SIGNATURE_CONTEXT + canonical_bytes(message))
    except InvalidSignature:
        return False
    return True
