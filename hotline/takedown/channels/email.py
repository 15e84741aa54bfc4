"""E-mail notices through Django's configured e-mail backend (SMTP in production), with the bounce
address as envelope sender when one is set (``HOTLINE_TAKEDOWN_BOUNCE_ADDRESS``). Inside a channel session
(``channels.session``) one connection carries every message; a connection the server has closed meanwhile
is replaced once."""

from __future__ import annotations

import contextlib
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from hotline.lib.mailwrite import LeanEmailMessage
from hotline.takedown import xarf
from hotline.takedown.channels import Channel, ChannelError, OutboundMessage, SendResult, in_session


def envelope_sender() -> str:
    """Where bounces go: Django sends ``from_email`` as the SMTP MAIL FROM (the Return-Path the recipient's
    MTA writes and bounces to), while the explicit From header keeps what the provider sees."""
    return str(settings.HOTLINE_TAKEDOWN_BOUNCE_ADDRESS or settings.DEFAULT_FROM_EMAIL)


class EmailChannel(Channel):
    name = "email"

    def __init__(self) -> None:
        self._connection: Any = None  # kept open between the messages of a session

    def send(self, message: OutboundMessage) -> SendResult:
        if not message.recipient or "@" not in message.recipient:
            raise ChannelError(f"recipient: {message.recipient!r} is not an e-mail address", retry=False)
        email = LeanEmailMessage(
            subject=message.subject, body=message.body, to=[message.recipient], from_email=envelope_sender(),
            headers={"From": settings.DEFAULT_FROM_EMAIL, "Message-ID": message.message_id,
                     "X-Hotline-Notice": message.reference, "Auto-Submitted": "auto-generated"},
        )
        if message.xarf:
            email.attach(f"xarf-{message.reference}.json", xarf.dumps(message.xarf), "application/json")
        try:
            sent = self._send(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            temporary = all(400 <= code < 500 for code in codes)
            raise ChannelError(f"SMTP refused the recipient: {codes}", retry=temporary) from exc
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retry=exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"SMTP: {exc}", retry=True) from exc
        if not sent:
            raise ChannelError("the e-mail backend sent nothing", retry=True)
        return SendResult(delivered=False, detail="accepted by the SMTP server")

    def _send(self, email: EmailMessage) -> int:
        if not in_session():  # no session: a connection for this message alone
            with get_connection(fail_silently=False) as connection:
                return int(connection.send_messages([email]))
        if self._connection is not None:
            try:
                return int(self._connection.send_messages([email]))
            except smtplib.SMTPServerDisconnected:
                self.close()  # the server closed the kept connection (idle, or a restart): once more on a new one
            except BaseException:
                self.close()  # the connection's state is unknown: the next message gets a new one
                raise
        self._connection = get_connection(fail_silently=False)
        self._connection.open()
        try:
            return int(self._connection.send_messages([email]))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):  # every message sent on it was answered
                connection.close()

