"""Signed, expiring links for providers and companies: acknowledge a notice, confirm a removal, answer an
information request. No login: the signature is the credential, and it names one notice or request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "hotline.takedown.respond"
KINDS = {"n": "notice", "r": "request"}


class BadLink(Exception):
    """The token is forged, damaged or expired; ``expired`` tells the two apart for the page."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class LinkTarget:
    kind: str  # "notice" or "request"
    key: str  # the notice's or request's UUID


class _IssuedSigner(signing.TimestampSigner):
    """Stamps the time the notice or request was created, not the time of rendering: every resend of a
    message carries the same link, and the link's age counts from the message's creation."""

    def __init__(self, issued: datetime) -> None:
        super().__init__(salt=_SALT)
        self._issued = issued

    def timestamp(self) -> str:
        return signing.b62_encode(int(self._issued.timestamp()))


def make_token(kind: str, key: str, issued: datetime) -> str:
    prefix = next(code for code, name in KINDS.items() if name == kind)
    return _IssuedSigner(issued).sign(f"{prefix}:{key}")


def read_token(token: str) -> LinkTarget:
    """Check signature and age (against the clock)."""
    max_age = timedelta(days=settings.HOTLINE_TAKEDOWN_LINK_DAYS)
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token.strip(), max_age=max_age)
    except signing.SignatureExpired as exc:
        raise BadLink("this link has expired", expired=True) from exc
    except signing.BadSignature as exc:
        raise BadLink("this link is not valid") from exc
    prefix, _, key = value.partition(":")
    if prefix not in KINDS or not key:
        raise BadLink("this link is not valid")
    return LinkTarget(KINDS[prefix], key)


def respond_path(kind: str, key: str, issued: datetime) -> str:
    return f"{reverse('takedown:respond')}?t={make_token(kind, key, issued)}"


def respond_url(kind: str, key: str, issued: datetime) -> str:
    """The absolute link put into a notice or request (HOTLINE_PUBLIC_URL + the public page)."""
    return f"{settings.HOTLINE_PUBLIC_URL}{respond_path(kind, key, issued)}"


def expires_at(issued: datetime) -> datetime:
    return issued + timedelta(days=settings.HOTLINE_TAKEDOWN_LINK_DAYS)
