"""System checks for the mail intake settings: a bad mailbox URL or a missing password stops start-up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from hotline.mailintake.mailboxes import parse_mailbox_url


@register(Tags.security)
def mail_intake_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    url = str(getattr(settings, "HOTLINE_MAIL_INTAKE_URL", "") or "")
    if not url:
        return []
    try:
        _, imap = parse_mailbox_url(url)
    except ValueError as exc:
        return [Error(f"HOTLINE_MAIL_INTAKE_URL: {exc}", id="hotline.E601")]
    found: list[CheckMessage] = []
    if imap is not None and not getattr(settings, "HOTLINE_MAIL_INTAKE_PASSWORD", ""):
        found.append(Error("An IMAP mailbox is configured without a password.",
                           hint="Set HOTLINE_MAIL_INTAKE_PASSWORD or HOTLINE_MAIL_INTAKE_PASSWORD_FILE.",
                           id="hotline.E602"))
    if not getattr(settings, "HOTLINE_MAIL_AUTHSERV_ID", ""):
        found.append(Warning(
            "Mail intake is on but HOTLINE_MAIL_AUTHSERV_ID is empty: no Authentication-Results count, so only "
            "senders with a token can be trusted.",
            hint="Set it to the authserv-id your MTA writes (the first word of its Authentication-Results).",
            id="hotline.W601"))
    return found
