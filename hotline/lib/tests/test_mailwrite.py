"""``mailwrite``: a message written leanly has the bytes the ``email`` package writes (plain headers folded on a
fast path, the MIME boundary drawn beforehand)."""

from __future__ import annotations

import string
from email import message_from_bytes
from email.policy import compat32
from typing import Any
from unittest import mock

from django.core.mail import EmailMessage
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.lib.mailwrite import PLAIN_FOLDING, lean

NAMES = st.sampled_from(["Subject", "To", "From", "Message-ID", "X-Hotline-Notice", "Content-Disposition", "X"])
#: near the fast path's edges: spaces at either end and in runs, splitting characters, controls, non-ASCII
ALPHABET = st.sampled_from([*string.ascii_letters[:6], " ", "  ", "\t", ";", ",", "=?", "\r", "\n", "\x0b", "é",
                            "\u2028", "<", "@", ":"])


@settings(max_examples=3000, deadline=None)
@given(name=NAMES, parts=st.lists(ALPHABET, max_size=40), padding=st.integers(0, 90), crlf=st.booleans())
def test_it_folds_every_header_as_compat32_does(name: str, parts: list[str], padding: int, crlf: bool) -> None:
    value = "x" * padding + "".join(parts)  # lengths around the 78 columns
    policy = compat32.clone(linesep="\r\n") if crlf else compat32
    fast = PLAIN_FOLDING.clone(linesep=policy.linesep)
    assert _fold(fast, name, value) == _fold(policy, name, value)


def _fold(policy: object, name: str, value: str) -> bytes | str:
    try:
        return policy.fold_binary(name, value)  # type: ignore[attr-defined,no-any-return]
    except Exception as exc:  # a header compat32 refuses is refused alike
        return repr(exc)


def test_it_folds_a_short_plain_header_without_the_header_machinery() -> None:
    assert PLAIN_FOLDING.fold_binary("Subject", "Notice NTC-1: please act") == b"Subject: Notice NTC-1: please act\n"
    assert PLAIN_FOLDING.clone(linesep="\r\n").fold_binary("X", "a  b") == b"X: a  b\r\n"


def _email(subject: str, body: str = "body\nline two é\n") -> EmailMessage:
    email = EmailMessage(subject=subject, body=body, to=["abuse@provider.sim.test"], from_email="b@hotline.sim.test",
                         headers={"From": "Hotline <notices@hotline.sim.test>", "Message-ID": "<n-1@h.test>",
                                  "Date": "Mon, 07 Dec 2026 12:00:00 -0000"})
    email.attach("xarf-NTC-1.json", '[\n {"a": "é"}\n]', "application/json")
    return email


def test_a_django_message_has_the_same_bytes() -> None:
    for subject in ("Notice NTC-2026-000001", "Notice " + "long words " * 12, "Mélding: kinderpornografie"):
        email = _email(subject)
        plain, fast = email.message(), lean(email.message())
        assert plain.policy is compat32 and fast.policy is PLAIN_FOLDING
        assert fast.get_boundary() is not None and plain.get_boundary() is None  # the lean one's drawn already
        assert _written(fast) == _written(plain)
        assert [p.get_payload(decode=True) for p in message_from_bytes(fast.as_bytes()).walk()] \
            == [p.get_payload(decode=True) for p in plain.walk()]


def test_a_boundary_found_in_a_part_is_left_to_the_generator() -> None:
    drawn = "===============0000000000000000042=="
    with mock.patch("email.generator.random.randrange", side_effect=[42, 43]):
        message = lean(_email("Notice", body=f"quoted:\n--{drawn}\n").message())
        assert message.get_boundary() is None
        written = message.as_bytes()
    assert message.get_boundary() == "===============0000000000000000043=="
    assert f"--{drawn}".encode() in written  # the body, whole


def _written(message: Any) -> bytes:
    """The message's bytes, its random MIME boundary named alike."""
    written: bytes = message.as_bytes(linesep="\r\n")
    return written.replace(str(message.get_boundary()).encode(), b"BOUNDARY")


def test_the_lean_email_message_is_djangos_message_made_lean() -> None:
    """``LeanEmailMessage`` (the notices' and the referrals' e-mail): the message ``lean`` makes of Django's, its
    binary attachment (a referral's package) carried byte for byte."""
    from hotline.lib.mailwrite import LeanEmailMessage

    package = bytes(range(256)) * 40
    made = []
    for kind in (EmailMessage, LeanEmailMessage):
        email = kind(subject="[Hotline] Police referral 1a2b3c4d", body="Referral.\n", to=["police@police.sim.test"],
                     from_email="h@hotline.sim.test", headers={"Message-ID": "<r-1@h.test>",
                                                                "Date": "Mon, 07 Dec 2026 12:00:00 -0000"})
        email.attach("package.zip", package, "application/octet-stream")
        made.append(email.message())
    plain, fast = made
    assert plain.policy is compat32 and fast.policy is PLAIN_FOLDING and fast.get_boundary() is not None
    assert _written(fast) == _written(plain)
    assert [p.get_payload(decode=True) for p in message_from_bytes(fast.as_bytes()).walk()][-1] == package
