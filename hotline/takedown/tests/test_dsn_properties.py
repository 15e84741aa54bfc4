"""The DSN parser never raises: arbitrary bytes, valid DSNs mutated byte by byte, and hostile field values
stored through the real services."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.conftest import TIMING_HEALTH_CHECKS
from hotline.takedown.bounces import Dsn, NotADsn, Outcome, parse_dsn, verdict
from hotline.takedown.models import Notice
from hotline.takedown.services import receive_bounce
from hotline.takedown.tests.dsns import Rcpt, build_dsn, original_mail

KEY = uuid.UUID("6f3f5a4e-2a55-4a0e-9b0d-6b7a1f0e4c11")
VALID = build_dsn(original_mail(f"<notice-{KEY}@hotline.invalid>"), [
    Rcpt(), Rcpt("desk@host.example", "delivered", "2.0.0", "smtp; 250 ok", original="abuse@host.example")],
    envelope_id=f"notice-{KEY}")
VALID_HEADERS = build_dsn(original_mail(f"<notice-{KEY}@hotline.invalid>"), returned="headers")

# Byte edits that break MIME in the ways real mail breaks: cut, drop, duplicate, overwrite, splice in junk.
_edit = st.tuples(st.sampled_from(["cut", "drop", "dup", "put", "insert"]), st.floats(0, 1), st.floats(0, 1),
                  st.binary(max_size=40))


def _mutate(raw: bytes, edits: list[tuple[str, float, float, bytes]]) -> bytes:
    for kind, where, span, junk in edits:
        i = int(where * len(raw))
        j = min(len(raw), i + int(span * 200))
        raw = {"cut": raw[:i], "drop": raw[:i] + raw[j:], "dup": raw[:j] + raw[i:j] + raw[j:],
               "put": raw[:i] + junk + raw[i + len(junk):], "insert": raw[:i] + junk + raw[i:]}[kind]
    return raw


def _holds(result: Dsn | NotADsn) -> None:
    if isinstance(result, Dsn):
        assert result.recipients
        outcome, named = verdict(result, "abuse@host.example")
        assert outcome in (Outcome.BOUNCED, Outcome.DELIVERED, Outcome.DELAYED) and named
        result.notice_key("hotline.invalid")
        for recipient in result.recipients:
            assert "\x00" not in recipient.reason and "\n" not in recipient.reason
    else:
        assert result.reason and result.reason.isprintable()


def test_the_unmutated_dsns_parse() -> None:
    result = parse_dsn(VALID)
    assert isinstance(result, Dsn) and result.notice_key("hotline.invalid") == KEY
    assert verdict(result, "abuse@host.example")[0] == Outcome.DELIVERED  # the alias reached one mailbox
    headers = parse_dsn(VALID_HEADERS)
    assert isinstance(headers, Dsn) and headers.notice_key("hotline.invalid") == KEY


def test_deep_nesting_is_refused_not_raised() -> None:
    head = b"Content-Type: multipart/report; report-type=delivery-status; boundary=a\n\n--a\n"
    assert isinstance(parse_dsn(head + b"Content-Type: message/rfc822\n\n" * 5000), NotADsn)
    assert isinstance(parse_dsn(head + b"Content-Type: multipart/mixed; boundary=a\n\n--a\n" * 5000), NotADsn)


@settings(max_examples=400)
@given(st.binary(max_size=3000))
def test_it_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    _holds(parse_dsn(raw))


@settings(max_examples=400)
@given(st.sampled_from([VALID, VALID_HEADERS]), st.lists(_edit, min_size=1, max_size=6))
def test_it_never_raises_on_mutated_dsns(raw: bytes, edits: list[tuple[str, float, float, bytes]]) -> None:
    _holds(parse_dsn(_mutate(raw, edits)))


_header_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)


@settings(max_examples=200)
@given(st.sampled_from(["Final-Recipient", "Action", "Status", "Diagnostic-Code", "Original-Envelope-Id",
                        "Content-Type", "Message-ID"]), _header_text)
def test_it_never_raises_on_any_field_value(field: str, value: str) -> None:
    lines = VALID.split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(field.encode() + b":"))
    lines[at] = field.encode() + b": " + value.encode("utf-8")
    _holds(parse_dsn(b"\n".join(lines)))


@pytest.mark.django_db
@settings(max_examples=60, suppress_health_check=[*TIMING_HEALTH_CHECKS, HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=120))
def test_any_diagnostic_bytes_are_stored_or_refused_never_raised(
        junk: bytes, contact: Any, traced_item: Any) -> None:
    notice = _notice(contact, traced_item)
    raw = build_dsn(original_mail(f"<notice-{notice.key}@hotline.invalid>", contact.email),
                    [Rcpt(contact.email, diagnostic="smtp; 550 JUNK")]).replace(b"JUNK", junk)
    outcome = receive_bounce(raw, now=notice.created_at)
    assert outcome in (Outcome.BOUNCED, Outcome.NOT_A_DSN, Outcome.UNKNOWN_MESSAGE)
    notice.refresh_from_db()
    assert (notice.bounced_at is not None) == (outcome == Outcome.BOUNCED)


def _notice(contact: Any, traced_item: Any) -> Notice:
    """One notice per test, reset for each example (hypothesis runs them all in one database transaction)."""
    notice = Notice.objects.filter(contact=contact).first()
    if notice is None:
        from django.utils import timezone

        from hotline.takedown.steps import notice_step

        traced_item(contact)
        notice_step(now=timezone.now())
        notice = Notice.objects.get(contact=contact)
    Notice.objects.filter(pk=notice.pk).update(bounced_at=None, bounce_reason="")
    return notice
