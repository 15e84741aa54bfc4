"""Delivery status notifications the way an MTA writes them (RFC 3464), built with Python's email package."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.policy import compat32


@dataclass(frozen=True)
class Rcpt:
    """One per-recipient block."""

    address: str = "abuse@host.example"
    action: str = "failed"
    status: str = "5.1.1"
    diagnostic: str = "smtp; 550 5.1.1 user unknown"
    original: str = ""


def original_mail(message_id: str, to: str = "abuse@host.example") -> bytes:
    """A stand-in for the returned message when the test has no real notice to return."""
    return (f"From: hotline@hotline.invalid\r\nTo: {to}\r\nSubject: Notice\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe notice text.\r\n").encode()


def build_dsn(original: bytes | None, recipients: Sequence[Rcpt] = (Rcpt(),), *, returned: str = "rfc822",
              envelope_id: str | None = None, human: str = "Your message could not be delivered.\n") -> bytes:
    """A ``multipart/report; report-type=delivery-status`` with its three parts: the human-readable text,
    the ``message/delivery-status`` fields and the returned original (``returned``: "rfc822" whole,
    "headers" as text/rfc822-headers, "" not returned)."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.host.example>"
    report["To"] = "bounces@hotline.invalid"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText(human))
    report.attach(_status_part(recipients, envelope_id))
    if original is not None and returned == "rfc822":
        report.attach(MIMEMessage(BytesParser(policy=compat32).parsebytes(original)))
    elif original is not None and returned == "headers":
        head = original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode() + "\n"
        report.attach(MIMEText(head, "rfc822-headers"))
    return report.as_bytes()


def _status_part(recipients: Sequence[Rcpt], envelope_id: str | None) -> Message:
    per_message = _block(("Reporting-MTA", "dns; mx.host.example"), ("X-Postfix-Queue-ID", "4Q7XyZ1abc"),
                         ("Arrival-Date", "Mon, 30 Nov 2026 02:00:00 +0000"))
    if envelope_id is not None:
        per_message["Original-Envelope-Id"] = envelope_id
    blocks: list[Message | str] = [per_message]
    for r in recipients:
        block = _block(("Final-Recipient", f"rfc822; {r.address}"), ("Action", r.action), ("Status", r.status),
                       ("Remote-MTA", "dns; mx.host.example"))
        if r.original:
            block["Original-Recipient"] = f"rfc822;{r.original}"
        if r.diagnostic:
            block["Diagnostic-Code"] = r.diagnostic
        blocks.append(block)
    part = Message()
    part["Content-Type"] = "message/delivery-status"
    part["Content-Description"] = "Delivery report"
    part.set_payload(blocks)
    return part


def _block(*fields: tuple[str, str]) -> Message:
    block = Message()
    for name, value in fields:
        block[name] = value
    return block
