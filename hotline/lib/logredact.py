"""A logging filter that removes secrets and reporter contact data from log records before any handler
writes them: API tokens, bearer credentials, secret-named ``key=value`` pairs, key specs, e-mail addresses.

Install it on every *handler* (a filter on a logger only sees records logged on that very logger, not
those propagated from its children). It rewrites the record in place, so handlers that run after it
also get the redacted record. It over-redacts on purpose: ``key_id=k2`` loses its value too.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "RedactSecrets", "is_secret_name", "redact_text", "redact_value"]

REDACTED = "[redacted]"

# Any key whose name contains one of these words holds a secret or personal contact data.
_SECRET_WORDS = (
    "password", "passwd", "secret", "token", "key", "contact", "email", "e-mail", "phone",
    "authorization", "cookie", "sessionid", "csrf",
)
_SECRET_NAME = re.compile("|".join(re.escape(word) for word in _SECRET_WORDS), re.IGNORECASE)

_B64 = r"A-Za-z0-9_\-"  # base64url alphabet; the standard one adds + and /
# An unquoted value ends at white space or punctuation; an earlier "[redacted]" stays in one piece.
_STOP = r"(?:\[redacted\]|[^\s,;&'\")}\]])+"
_PHONE = r"\+?[0-9(][0-9 ()./\-]{5,}[0-9]"  # a phone number may contain spaces
# A value that was already redacted (the filter may run once per handler on the same record).
_DONE = r"(?:hl_[0-9a-f]{8}_)?\[redacted\]"
_ALREADY = re.compile(rf"(?:(?i:bearer|basic)\s+)?{_DONE}")
# 1. API tokens as made by ApiClient.new_token: hl_<8 hex>_<urlsafe>. The prefix is kept: it names
#    the client in lists and logs and is not secret.
_API_TOKEN = re.compile(rf"(?<![{_B64}])(hl_[0-9a-f]{{8}}_)[{_B64}]{{16,}}")
# 2. The credential after an HTTP auth scheme (``Authorization: Bearer …``, ``Basic …``).
_AUTH_SCHEME = re.compile(
    rf"((?i:\bbearer)\s+|\bBasic\s+)(?!{_DONE})[A-Za-z0-9._~+/=\-]{{8,}}"
)
# 3. key=value, key: value, "key": "value", 'key': 'value' (dict reprs, JSON, headers, query strings).
_KEY_VALUE = re.compile(
    rf"(?P<key>(?P<q>[\"']?)[A-Za-z0-9_.\-]*(?:{'|'.join(re.escape(w) for w in _SECRET_WORDS)})"
    rf"[A-Za-z0-9_.\-]*(?P=q))(?P<sep>\s*[:=]\s*)"
    rf"(?P<value>{_ALREADY.pattern}|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|{_PHONE}|(?i:bearer|basic)\s+{_STOP}|{_STOP})",
    re.IGNORECASE,
)
# 4. Key specs ``id:base64key`` (HOTLINE_FIELD_KEYS, HOTLINE_STORE_KEYS): a 32-byte key is 43 characters.
_KEY_SPEC = re.compile(rf"(?<![{_B64}])([A-Za-z0-9]{{1,32}}:)[{_B64}]{{43}}=?(?![{_B64}=])")
# 5. A bare 32-byte key in base64 (e.g. HOTLINE_EVIDENCE_SIGNING_KEY): 43 characters (+ "="), with
#    upper case, lower case and a digit, so that long words and slugs are left alone.
_BARE_KEY = re.compile(
    r"(?<![A-Za-z0-9+/_=\-])"
    r"(?=[A-Za-z0-9+/_\-]*[0-9])(?=[A-Za-z0-9+/_\-]*[a-z])(?=[A-Za-z0-9+/_\-]*[A-Z])"
    r"[A-Za-z0-9+/_\-]{43}=?(?![A-Za-z0-9+/_=\-])"
)
# 6. E-mail addresses (reporters, abuse contacts, staff).
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)+"
)


def is_secret_name(name: object) -> bool:
    """Whether a dict key or field name says its value is secret or personal contact data."""
    return isinstance(name, str) and _SECRET_NAME.search(name) is not None


def _key_value(match: re.Match[str]) -> str:
    value = match["value"]
    quote = value[0] if value[0] in "'\"" else ""
    if _ALREADY.fullmatch(value.strip("'\"") if quote else value):
        return match[0]
    return f"{match['key']}{match['sep']}{quote}{REDACTED}{quote}"


def redact_text(text: str) -> str:
    """``text`` with every secret the patterns know replaced by ``[redacted]``."""
    text = _API_TOKEN.sub(rf"\1{REDACTED}", text)
    text = _AUTH_SCHEME.sub(rf"\1{REDACTED}", text)
    text = _KEY_VALUE.sub(_key_value, text)
    text = _KEY_SPEC.sub(rf"\1{REDACTED}", text)
    text = _BARE_KEY.sub(REDACTED, text)
    return _EMAIL.sub(REDACTED, text)


def redact_value(value: Any) -> Any:
    """A copy of ``value`` with secret-named mapping entries and secrets inside strings redacted.

    Strings, mappings, lists, tuples and sets are walked (to a depth of 8); anything else is
    returned as it is and relies on the redaction of the rendered message.
    """
    return _redact(value, 8)


def _redact(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth <= 0:
        return value
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret_name(k) else _redact(v, depth - 1) for k, v in value.items()}
    if type(value) in (tuple, list, set, frozenset):
        return type(value)(_redact(v, depth - 1) for v in value)
    return value


def _render(msg: object, args: Any) -> str:
    """What ``LogRecord.getMessage`` would give, without raising on a bad format."""
    text = str(msg)
    if not args:
        return text
    try:
        rendered: str = text % args
    except (TypeError, ValueError, KeyError):
        return f"{text} {args!r}"
    return rendered


class RedactSecrets(logging.Filter):
    """Rewrite each record so no known secret reaches a handler; never drops a record.

    1. Secret-named entries of dict arguments are replaced, then the message is rendered and the
       text patterns are applied to the result.
    2. If anything changed, ``msg`` becomes the redacted text and ``args`` is emptied, so neither a
       formatter nor a structured handler can read the original arguments.
    3. An exception or stack trace is formatted, redacted into ``exc_text``/``stack_info``, and
       ``exc_info`` is dropped (its frames and message would carry the unredacted values), so a
       handler that wants the exception object itself (an error tracker) gets the text only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        self._redact_message(record)
        self._redact_traces(record)
        return True

    @staticmethod
    def _redact_message(record: logging.LogRecord) -> None:
        original = _render(record.msg, record.args)
        args = redact_value(record.args) if record.args else record.args
        redacted = redact_text(_render(record.msg, args))
        if redacted != original or args != record.args:
            record.msg, record.args = redacted, ()
            if "message" in record.__dict__:  # set by a formatter that ran before this filter
                record.message = redacted

    @staticmethod
    def _redact_traces(record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
