"""TOTP (RFC 6238) and recovery-code arithmetic, with no database: secrets, codes, QR code."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
# Codes one step either side of now are accepted: phone clocks drift and people type slowly.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols without look-alikes (l, o, 0, 1)
_RECOVERY_LENGTH = 16  # 16 symbols x 5 bits = 80 bits: a plain SHA-256 cannot be brute-forced


def new_secret() -> str:
    """A 160-bit base32 secret, the size RFC 4226 recommends."""
    return pyotp.random_base32(length=32)


def step_number(now: datetime) -> int:
    """The number of the TOTP time-step (RFC 6238 T) that ``now`` falls in."""
    return int(now.timestamp()) // STEP_SECONDS


def normalise_code(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace() and ch != "-")


def looks_like_totp(text: str) -> bool:
    code = normalise_code(text)
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step_number(secret: str, text: str, now: datetime) -> int | None:
    """The time-step whose code ``text`` is (within the allowed drift), or None."""
    if not looks_like_totp(text):
        return None
    code, current = normalise_code(text), step_number(now)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, now: datetime) -> str:
    """The current code (for tests and the demo, which play the authenticator app)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step_number(now))


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer)


def qr_svg(uri: str, *, title: str) -> str:
    """An inline SVG QR code: attributes only, no inline style, so the strict CSP holds."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", title=title)
    return svg


def grouped(secret: str) -> str:
    """The secret in groups of four, for people who type it in."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def hash_recovery_code(text: str) -> str:
    """Case, spaces and dashes do not matter when a code is typed back."""
    return hashlib.sha256(normalise_code(text).lower().encode("utf-8")).hexdigest()
