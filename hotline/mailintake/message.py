"""Read a raw e-mail into the facts intake needs: sender, subject, auth headers, text parts, attachments.

Reading is total: malformed MIME gives defects and notes, a missing or ambiguous sender raises
``Malformed`` (naming the header), and nothing else escapes.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

MAX_PART_BYTES = 10 * 1024 * 1024
MAX_PARTS = 200
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}")
TOKEN_RE = re.compile(r"\[hotline:([A-Za-z0-9_-]{16,128})\]")


class Malformed(ValueError):
    """The mail cannot be attributed to one sender; ``field`` names the header at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class Part:
    """One leaf MIME part. ``text`` is set for text parts that were read (bodies and text attachments)."""

    index: int
    content_type: str
    filename: str
    size: int
    attachment: bool
    text: str | None = None
    note: str = ""

    def summary(self) -> dict[str, Any]:
        found = {"index": self.index, "type": self.content_type, "filename": self.filename[:200],
                 "size": self.size, "attachment": self.attachment}
        return found | ({"note": self.note} if self.note else {})


@dataclass
class ParsedMail:
    sender: str = ""
    subject: str = ""
    message_id: str = ""
    auth_results: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    problem: Malformed | None = None  # set when the mail has no single valid sender

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]

    def bodies(self, content_type: str) -> list[Part]:
        return [p for p in self.parts if p.content_type == content_type and not p.attachment and p.text is not None]

    def tokens(self) -> list[str]:
        """Every ``[hotline:<token>]`` in the subject and the text and HTML bodies."""
        texts = [self.subject] + [p.text or "" for p in self.parts if not p.attachment]
        return [m.group(1) for text in texts for m in TOKEN_RE.finditer(text)]


def redact_tokens(text: str) -> str:
    """The text with every sender token replaced: tokens are secrets, never stored in clear."""
    return TOKEN_RE.sub("[hotline:…]", text)


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse ``raw``; ``problem`` says why when there is no single, valid From address."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; anything it still raises is malformed input
        return ParsedMail(problem=Malformed("*", f"not a readable e-mail ({type(exc).__name__})"))
    assert isinstance(message, EmailMessage)
    parsed = ParsedMail(
        subject=_header_text(message, "Subject"),
        message_id=_header_text(message, "Message-ID")[:500],
        auth_results=_all_headers(message, "Authentication-Results"),
        defects=[type(d).__name__ for d in message.defects][:20],
    )
    parsed.parts = _parts(message, parsed)
    try:
        parsed.sender = sender_of(message)
    except Malformed as exc:
        parsed.problem = exc
    return parsed


def parse_headers(raw: bytes) -> ParsedMail:
    """Only the headers (for a mail too large to read whole): sender, subject, Message-ID."""
    try:
        message = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    except Exception as exc:
        return ParsedMail(problem=Malformed("*", f"not a readable e-mail ({type(exc).__name__})"))
    parsed = ParsedMail(subject=_header_text(message, "Subject"), message_id=_header_text(message, "Message-ID")[:500])
    try:
        parsed.sender = sender_of(message)
    except Malformed as exc:
        parsed.problem = exc
    return parsed


def _header_text(message: Message, name: str) -> str:
    try:
        value = message.get(name)
        return " ".join(str(value).split()) if value is not None else ""
    except Exception:  # a header the registry cannot even decode: treat as absent
        return ""


def _all_headers(message: Message, name: str) -> list[str]:
    try:
        return [str(value) for value in (message.get_all(name) or [])][:50]
    except Exception:
        return []


def sender_of(message: Message) -> str:
    """The one From address, lower-cased; ``Malformed`` when absent, repeated, a group or invalid."""
    try:
        values = message.get_all("From") or []
        if len(values) != 1:
            raise Malformed("From", "must appear exactly once" if values else "is missing")
        addresses: tuple[Address, ...] = tuple(getattr(values[0], "addresses", ()))
        defects = getattr(values[0], "defects", ())
    except Malformed:
        raise
    except Exception as exc:
        raise Malformed("From", f"cannot be read ({type(exc).__name__})") from exc
    if len(addresses) != 1 or defects:
        raise Malformed("From", "must name exactly one valid address")
    local, domain = addresses[0].username, _ascii_domain(addresses[0].domain)
    if not _LOCAL.fullmatch(local or "") or not _DOMAIN.fullmatch(domain or ""):
        raise Malformed("From", "must name exactly one valid address")
    return f"{local}@{domain}".lower()


def _ascii_domain(domain: str) -> str:
    try:
        return domain.lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return ""


def _parts(message: EmailMessage, parsed: ParsedMail) -> list[Part]:
    parts: list[Part] = []
    try:
        leaves = [p for p in message.walk() if not p.is_multipart()]
    except Exception as exc:
        parsed.defects.append(f"structure: {type(exc).__name__}")
        return parts
    for index, leaf in enumerate(leaves[:MAX_PARTS], start=1):
        parts.append(_part(index, leaf))
        parsed.defects.extend(type(d).__name__ for d in leaf.defects[:5])
    if len(leaves) > MAX_PARTS:
        parsed.defects.append(f"more than {MAX_PARTS} parts: the rest were not read")
    return parts


def _part(index: int, leaf: Message) -> Part:
    try:
        content_type = leaf.get_content_type()
        filename = str(leaf.get_filename() or "")
        attachment = leaf.get_content_disposition() == "attachment" or bool(filename)
        payload = leaf.get_payload(decode=True)
    except Exception as exc:
        return Part(index, "application/octet-stream", "", 0, True, note=f"unreadable part ({type(exc).__name__})")
    data = payload if isinstance(payload, bytes) else b""
    part = Part(index, content_type, filename, len(data), attachment)
    if not _readable(part):
        part.note = "not read: only text, HTML and CSV parts are read"
    elif len(data) > MAX_PART_BYTES:
        part.note = f"not read: larger than {MAX_PART_BYTES} bytes"
    else:
        part.text = _decode(data, leaf.get_content_charset())
    return part


def _readable(part: Part) -> bool:
    name = part.filename.lower()
    return part.content_type in ("text/plain", "text/html", "text/csv") or name.endswith((".csv", ".txt"))


def _decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name: read as UTF-8 rather than lose the part
        return data.decode("utf-8", errors="replace")
