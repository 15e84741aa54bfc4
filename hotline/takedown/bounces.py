"""Bounces and delivery reports of e-mail notices: a strict parser of delivery status notifications
(DSN, RFC 3464; RFC 3461's envelope id) and ``verdict``, what one says about a notice. No database: the
service ``receive_bounce`` (``services/bounces.py``) records it, and ``bounce_step`` reads the bounce
mailbox (``HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value
from enum import StrEnum
from itertools import islice

# A DSN puts its status part before the returned original, so the first half MiB holds everything read;
# the rest of a huge mail (a returned original with attachments, or hostile padding) is never parsed.
READ_LIMIT = 512 * 1024
MAX_BLOCKS = 50

REPORT_TYPES = frozenset({"delivery-status", "global-delivery-status"})
STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
ORIGINAL_TYPES = frozenset({"message/rfc822", "message/global"})
HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
# "relayed" and "expanded": the recipient's side took the message on (and will not report further).
ARRIVED = frozenset({"delivered", "relayed", "expanded"})

_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_NOTICE_ID = re.compile(rf"<notice-({_UUID})@([^<>@\s]+)>", re.IGNORECASE)
_ENVELOPE_ID = re.compile(rf"<?(?:notice-)?({_UUID})(?:@([^<>@\s]+))?>?", re.IGNORECASE)
_TYPED = re.compile(r"[a-z0-9][a-z0-9-]{0,30}\s*;\s*", re.IGNORECASE)
_XTEXT = re.compile(r"\+([0-9A-F]{2})")
_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")


class Outcome(StrEnum):
    BOUNCED = "bounced"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    UNKNOWN_MESSAGE = "unknown_message"
    NOT_A_DSN = "not_a_dsn"


@dataclass(frozen=True)
class Recipient:
    """One per-recipient block of a DSN."""

    final: str  # Final-Recipient's address, lower-case
    original: str  # Original-Recipient's address ("" when absent)
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # x.y.z
    diagnostic: str  # Diagnostic-Code without its type ("550 5.1.1 user unknown")

    @property
    def reason(self) -> str:
        return f"{self.status} {self.final}: {self.diagnostic}" if self.diagnostic else f"{self.status} {self.final}"


@dataclass(frozen=True)
class Dsn:
    recipients: tuple[Recipient, ...]
    message_id: str = ""  # of the returned original (message/rfc822 or text/rfc822-headers)
    envelope_id: str = ""  # Original-Envelope-Id, xtext decoded
    reporting_mta: str = ""

    def notice_key(self, domain: str) -> uuid.UUID | None:
        """The key of the notice this reports on: from the returned Message-ID (ours: ``<notice-KEY@domain>``),
        else from the envelope id (``KEY``, ``notice-KEY`` or the Message-ID)."""
        for value, pattern in ((self.message_id, _NOTICE_ID), (self.envelope_id, _ENVELOPE_ID)):
            match = pattern.fullmatch(value)
            if match and (match.group(2) is None or match.group(2).lower() == domain.lower()):
                return uuid.UUID(match.group(1))
        return None


@dataclass(frozen=True)
class NotADsn:
    reason: str


def parse_dsn(raw: bytes) -> Dsn | NotADsn:
    """Read a DSN strictly: a ``multipart/report`` of report-type delivery-status with a status part that
    has at least one recipient block naming Final-Recipient, a known Action and an x.y.z Status.

    Never raises: anything else, however malformed, is a ``NotADsn`` with the reason.
    """
    try:
        return _parse(raw[:READ_LIMIT])
    except Exception as exc:  # hostile input: the stdlib parser has raised on crafted mail (deep nesting...)
        return NotADsn(f"unreadable: {type(exc).__name__}")


def _parse(raw: bytes) -> Dsn | NotADsn:
    top = BytesParser(policy=compat32).parsebytes(raw)
    if top.get_content_type() != "multipart/report":
        return NotADsn(f"{_clean(top.get_content_type(), 60)}, not multipart/report")
    if _param(top, "report-type").lower() not in REPORT_TYPES:
        return NotADsn(f"report-type {_clean(_param(top, 'report-type'), 40)!r}, not delivery-status")
    parts = [part for part in top.get_payload() if isinstance(part, Message)] if top.is_multipart() else []
    status = next((part for part in parts if part.get_content_type() in STATUS_TYPES), None)
    if status is None:
        return NotADsn("no message/delivery-status part")
    blocks = _blocks(status)
    per_message = blocks[0] if blocks and "final-recipient" not in blocks[0] else {}
    recipients = tuple(r for r in map(_recipient, blocks[:MAX_BLOCKS]) if r is not None)
    if not recipients:
        return NotADsn("no recipient block with Final-Recipient, a known Action and an x.y.z Status")
    return Dsn(recipients, message_id=_returned_message_id(parts),
               envelope_id=_xtext(per_message.get("original-envelope-id", "")),
               reporting_mta=_untyped(per_message.get("reporting-mta", "")))


def _param(message: Message, name: str) -> str:
    value = message.get_param(name, "")
    return str(collapse_rfc2231_value(value) if isinstance(value, tuple) else value)


def _blocks(part: Message) -> list[dict[str, str]]:
    """The status part's field blocks (per-message first), names lower-case, first occurrence kept."""
    payload = part.get_payload()
    messages = [block for block in payload if isinstance(block, Message)] if isinstance(payload, list) else []
    if part.get_content_type() == "message/delivery-status":  # the stdlib splits it: one Message per block
        found = [_fields(block) for block in messages]
    elif messages:  # message/global-delivery-status is read as a message: its header is the first block
        found = [_fields(messages[0]), *_text_blocks(messages[0].get_payload(decode=True))]
    else:
        found = _text_blocks(part.get_payload(decode=True))
    return [block for block in found if block]


def _text_blocks(data: object) -> list[dict[str, str]]:
    chunks = _BLANK_LINE.split(_text(data))[:MAX_BLOCKS]
    return [_fields(BytesHeaderParser(policy=compat32).parsebytes(c.strip().encode() + b"\n")) for c in chunks]


def _fields(block: Message) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in islice(block.raw_items(), MAX_BLOCKS):
        fields.setdefault(str(name).strip().lower(), _clean(value))
    return fields


def _recipient(fields: dict[str, str]) -> Recipient | None:
    final, action = _address(fields.get("final-recipient", "")), fields.get("action", "").strip().lower()
    status = _STATUS.match(fields.get("status", "").strip())
    if not final or action not in ACTIONS or status is None:
        return None
    return Recipient(final=final, original=_address(fields.get("original-recipient", "")), action=action,
                     status=status.group(0), diagnostic=_untyped(fields.get("diagnostic-code", ""))[:500])


def _returned_message_id(parts: list[Message]) -> str:
    for part in parts:
        kind = part.get_content_type()
        if kind in ORIGINAL_TYPES:
            inner = part.get_payload()
            headers = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else None
        elif kind in HEADER_TYPES:
            data = part.get_payload(decode=True)
            headers = BytesHeaderParser(policy=compat32).parsebytes(data) if isinstance(data, bytes) else None
        else:
            continue
        if headers is not None:
            return next((_clean(v, 300) for k, v in headers.raw_items() if str(k).lower() == "message-id"), "")
    return ""


def _address(value: str) -> str:
    """``rfc822; abuse@host.example`` (or a bare address) -> ``abuse@host.example``."""
    return _untyped(value).strip("<> ").lower()[:320]


def _untyped(value: str) -> str:
    """Drop the type that starts a DSN field (``smtp; 550 ...``, ``dns; mx.example``, ``rfc822; a@b``)."""
    match = _TYPED.match(value)
    return value[match.end():] if match else value


def _xtext(value: str) -> str:
    return _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), value)


def _text(data: object) -> str:
    if not isinstance(data, bytes):
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")  # a mislabelled legacy charset still reads as text


def _clean(value: object, limit: int = 1000) -> str:
    """One line of printable text: undecodable bytes (kept by the parser as surrogates) read as UTF-8 or
    cp1252, controls (NUL included, which PostgreSQL refuses) and folding become spaces."""
    text = str(value)
    try:
        text = _text(text.encode("ascii", "surrogateescape"))
    except UnicodeEncodeError:  # already decoded text
        text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


# ---------------------------------------------------------------- what a DSN says about a notice


def verdict(dsn: Dsn, recipient: str) -> tuple[Outcome, list[Recipient]]:
    """What the DSN says about a notice sent to ``recipient``, and the blocks that say it.

    Only the blocks naming our recipient count; when none does (an alias or forward rewrote it), all do.
    Arrival anywhere wins over failure (someone at the provider has the notice), failure over delay.
    """
    address = recipient.strip().lower()
    ours = [r for r in dsn.recipients if address and address in (r.final, r.original)]
    relevant = ours or list(dsn.recipients)
    for outcome, actions in ((Outcome.DELIVERED, ARRIVED), (Outcome.BOUNCED, {"failed"})):
        hits = [r for r in relevant if r.action in actions]
        if hits:
            return outcome, hits
    return Outcome.DELAYED, relevant
