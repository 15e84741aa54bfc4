"""Writing a ``compat32`` e-mail message (what Django builds) to bytes for less CPU, the bytes being what the
``email`` package writes.

* Plain headers: a header whose value is printable ASCII without leading or trailing space and whose line fits
  within the policy's ``max_line_length`` is written as ``Name: value`` by ``compat32`` (``Header.encode`` splits
  nothing and keeps every inner space); ``PLAIN_FOLDING`` writes it so without the ``email.header`` machinery,
  and every other header through ``compat32`` itself.
* The MIME boundary: the generator draws one (``Generator._make_boundary``) and compiles a new regular expression
  for every message to check that no line of the written parts is that boundary. ``lean`` draws it the same way
  beforehand and checks that the boundary does not occur in the parts at all (stricter); when it does, the
  generator draws its own.
"""

from __future__ import annotations

from email.generator import Generator
from email.message import Message
from email.policy import Compat32, compat32
from typing import Any

from django.core.mail import EmailMessage

__all__ = ["PLAIN_FOLDING", "LeanEmailMessage", "lean"]


class _PlainFolding(Compat32):
    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if isinstance(value, str) and _plain(name, value, self.max_line_length or 0):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc,no-any-return]


def _plain(name: str, value: str, limit: int) -> bool:
    return (value.isascii() and value.isprintable() and value[:1] != " " and value[-1:] != " "
            and (not limit or len(name) + 2 + len(value) <= limit))


#: ``compat32`` with the plain headers' fast path (``compat32``'s settings: 78 columns, ``\n``).
PLAIN_FOLDING = _PlainFolding()


def lean(message: Message) -> Message:
    """``message``, to be written by a generator for less CPU and to the same bytes (its boundary, when it is a
    multipart message of single parts, drawn beforehand): only a message on ``compat32`` is changed."""
    if message.policy is not compat32:  # the email package's own, as every Message gets unless told otherwise
        return message
    message.policy = PLAIN_FOLDING
    if message.is_multipart() and message.get_boundary() is None:
        boundary = Generator._make_boundary()  # type: ignore[attr-defined]
        if _absent(f"--{boundary}", message.get_payload()):
            message.set_boundary(boundary)
    return message


def _absent(text: str, parts: Any) -> bool:
    """Whether ``text`` occurs in none of ``parts`` (single parts: their headers and payloads)."""
    if not isinstance(parts, list):
        return False
    for part in parts:
        if not isinstance(part, Message) or part.is_multipart():
            return False  # a nested multipart's boundary is drawn when it is written: the generator checks
        if any(text in str(value) for _, value in part.raw_items()) or text in str(part.get_payload()):
            return False
    return True


class LeanEmailMessage(EmailMessage):
    """Django's ``EmailMessage``, its message written to the same bytes for less CPU (:func:`lean`): the notices'
    and the police referrals' e-mail."""

    def message(self, *args: Any, **kwargs: Any) -> Any:
        return lean(super().message(*args, **kwargs))
