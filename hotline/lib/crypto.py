"""Authenticated encryption of small values (AES-256-GCM) with named, rotatable keys.

A ciphertext is ``v1:<key id>:<base64url(nonce || ciphertext+tag)>``; the key id lets old values
be read after a new key becomes current, and ``rewrap`` moves a value to the current key.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1"


class CryptoError(Exception):
    """A value cannot be decrypted: unknown key, tampered or malformed."""


@dataclass(frozen=True)
class Keyring:
    """Keys by id; ``current`` encrypts, all of them decrypt."""

    keys: dict[str, bytes]
    current: str

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Parse ``id:base64key,id2:base64key2``; the first key is the current one."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            key_id, sep, encoded = part.partition(":")
            if not sep or not key_id.isalnum():
                raise ValueError(f"key entry {key_id!r} must look like 'id:base64key'")
            try:
                raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"key {key_id!r} is not valid base64") from exc
            if len(raw) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}")
            keys[key_id] = raw
            order.append(key_id)
        if not order:
            raise ValueError("no keys given")
        return cls(keys=keys, current=order[0])

    def encrypt(self, plaintext: bytes, *, aad: bytes = b"") -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext, aad)
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{PREFIX}:{self.current}:{body}"

    def decrypt(self, token: str, *, aad: bytes = b"") -> bytes:
        prefix, key_id, body = _split(token)
        if prefix != PREFIX:
            raise CryptoError(f"unknown ciphertext version {prefix!r}")
        key = self.keys.get(key_id)
        if key is None:
            raise CryptoError(f"key {key_id!r} is not configured")
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return AESGCM(key).decrypt(blob[:12], blob[12:], aad)
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise CryptoError("ciphertext is damaged or was not made with this key") from exc

    def key_id_of(self, token: str) -> str:
        return _split(token)[1]

    def rewrap(self, token: str, *, aad: bytes = b"") -> str:
        """Return ``token`` encrypted under the current key (unchanged if it already is)."""
        if self.key_id_of(token) == self.current:
            return token
        return self.encrypt(self.decrypt(token, aad=aad), aad=aad)


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(":", 2)
    if len(parts) != 3:
        raise CryptoError("value is not an encrypted token")
    return parts[0], parts[1], parts[2]


def new_key_spec(key_id: str) -> str:
    """A fresh ``id:base64key`` entry, for operators creating keys."""
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode('ascii').rstrip('=')}"
