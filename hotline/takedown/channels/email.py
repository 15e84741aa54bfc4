"""E-mail notices through Django's configured e-mail backend (SMTP in production), with the bounce
address as envelope sender when one is set (``HOTLINE_TAKEDOWN_BOUNCE_ADDRESS``)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from hotline.takedown import xarf
from hotline.takedown.channels import Channel, ChannelError, OutboundMessage, SendResult


def envelope_sender() -> str:
    """Where bounces go: Django sends ``from_email`` as the SMTP MAIL FROM (the Return-Path the recipient's
    MTA writes and bounces to), while the explicit From header keeps what the provider sees."""
    return str(settings.HOTLINE_TAKEDOWN_BOUNCE_ADDRESS or settings.DEFAULT_FROM_EMAIL)


class EmailChannel(Channel):
    name = "email"

    def send(self, message: OutboundMessage) -> SendResult:
        if not message.recipient or "@" not in message.recipient:
            raise ChannelError(f"recipient: {message.recipient!r} is not an e-mail address", retry=False)
        email = EmailMessage(
            subject=message.subject, body=message.body, to=[message.recipient], from_email=envelope_sender(),
            headers={"From": settings.DEFAULT_FROM_EMAIL, "Message-ID": message.message_id,
                     "X-Hotline-Notice": message.reference, "Auto-Submitted": "auto-generated"},
        )
        if message.xarf:
            email.attach(f"xarf-{message.reference}.json", xarf.dumps(message.xarf), "application/json")
        try:
            with get_connection(fail_silently=False) as connection:
                sent = connection.send_messages([email])
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
