"""The audit actions of mail intake: one constant per event the services record (values are stored; never
change one)."""

from __future__ import annotations

from typing import Final

MAIL_RECEIVED: Final = "mail.received"
MAIL_TEXT_VIEWED: Final = "mail.text_viewed"
SENDER_ADDED: Final = "mail_sender.added"
SENDER_CHANGED: Final = "mail_sender.changed"
SENDER_TOKEN_ISSUED: Final = "mail_sender.token_issued"  # noqa: S105 - an action name, not a secret
