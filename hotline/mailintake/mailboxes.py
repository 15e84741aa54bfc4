"""Where intake mail (and the takedown domain's bounces) is read from: a local maildir or an IMAP folder,
behind one small interface.

``HOTLINE_MAIL_INTAKE_URL`` (or ``HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL``) picks one:
``maildir:///var/mail/intake``, ``imaps://user@host:993/INBOX`` (implicit TLS), ``imap://user@host:143/INBOX``
(STARTTLS, required) or ``imap+plain://user@127.0.0.1/INBOX`` (no TLS: refused for any host but loopback).
The password never sits in the URL.
"""

from __future__ import annotations

import imaplib
import ipaddress
import mailbox
import re
import ssl
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Security = Literal["tls", "starttls", "plain"]
_SCHEMES: dict[str, tuple[Security, int]] = {"imaps": ("tls", 993), "imap": ("starttls", 143),
                                             "imap+plain": ("plain", 143)}
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UID = re.compile(rb"\bUID (\d+)")


class MailboxError(Exception):
    """The mailbox could not be read or changed (connection, login, folder, refused command)."""


@dataclass(frozen=True)
class Fetched:
    ref: str  # the mailbox's own name for the mail: a maildir key or an IMAP UID
    raw: bytes
    delivered_at: datetime | None  # set by the mailbox (maildir name, IMAP INTERNALDATE), not the sender


class MailSource(ABC):
    """Open, list what waits, fetch one mail, remove it once recorded, close."""

    key: str  # the mailbox's name without secrets (lease key, shown on the mail list)

    def __enter__(self) -> MailSource:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def pending(self, limit: int) -> list[str]:
        """Up to ``limit`` refs of mails still in the mailbox, oldest first."""

    @abstractmethod
    def fetch(self, ref: str) -> Fetched: ...

    @abstractmethod
    def done(self, ref: str) -> None:
        """Remove the mail: it is recorded, and its original kept encrypted as evidence."""


def _delivered_from_key(key: str) -> datetime | None:
    # Maildir names start with the delivery time: "1700000000.M123456P42Q1.host".
    match = re.match(r"(\d{9,11})(?:\.M(\d{1,6}))?", key)
    if match is None:
        return None
    return datetime.fromtimestamp(int(match.group(1)) + int(match.group(2) or 0) / 1e6, tz=UTC)


class MaildirSource(MailSource):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = f"maildir://{path}"
        self._box: mailbox.Maildir | None = None

    def open(self) -> None:
        try:
            self._box = mailbox.Maildir(self.path, factory=None, create=False)
        except (OSError, mailbox.Error) as exc:
            raise MailboxError(f"maildir {self.path}: {exc}") from exc

    def close(self) -> None:
        self._box = None

    @property
    def box(self) -> mailbox.Maildir:
        if self._box is None:
            raise MailboxError("maildir is not open")
        return self._box

    def pending(self, limit: int) -> list[str]:
        try:
            keys = list(self.box.iterkeys())
        except OSError as exc:
            raise MailboxError(f"maildir {self.path}: {exc}") from exc
        keys.sort(key=lambda k: (_delivered_from_key(k) or datetime.max.replace(tzinfo=UTC), k))
        return keys[:limit]

    def fetch(self, ref: str) -> Fetched:
        try:
            return Fetched(ref, self.box.get_bytes(ref), _delivered_from_key(ref))
        except (KeyError, OSError) as exc:
            raise MailboxError(f"maildir message {ref}: {exc}") from exc

    def done(self, ref: str) -> None:
        try:
            self.box.discard(ref)
        except OSError as exc:
            raise MailboxError(f"maildir message {ref}: {exc}") from exc


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    user: str
    folder: str
    security: Security
    password: str = ""
    ca_file: str = ""
    timeout: float = 30.0

    @property
    def key(self) -> str:
        scheme = {"tls": "imaps", "starttls": "imap", "plain": "imap+plain"}[self.security]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{self.user}@{host}:{self.port}/{self.folder}"


class ImapSource(MailSource):
    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self.key = config.key
        self._conn: imaplib.IMAP4 | None = None
        self._removed = False

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file or None)

    def open(self) -> None:
        c = self.config
        try:
            if c.security == "tls":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(c.host, c.port, ssl_context=self._context(), timeout=c.timeout)
            else:
                conn = imaplib.IMAP4(c.host, c.port, timeout=c.timeout)
                if c.security == "starttls":
                    conn.starttls(self._context())  # raises when the server does not offer it: no fallback
            self._conn = conn
            conn.login(c.user, c.password)
            self._ok(conn.select(_quote(c.folder)), f"select {c.folder}")
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            self.close()
            raise MailboxError(f"{self.key}: {_describe(exc)}") from exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._removed:
                conn.expunge()
            conn.logout()
        except (imaplib.IMAP4.error, OSError, ssl.SSLError):
            pass  # best effort: flagged mails are skipped by the next search and expunged then

    @property
    def conn(self) -> imaplib.IMAP4:
        if self._conn is None:
            raise MailboxError("IMAP connection is not open")
        return self._conn

    def _ok(self, answer: tuple[str, Sequence[object]], what: str) -> list[object]:
        typ, data = answer
        if typ != "OK":
            raise MailboxError(f"{self.key}: {what} refused: {_text(data)}")
        return list(data)

    def _call(self, what: str, *args: str) -> list[object]:
        try:
            return self._ok(self.conn.uid(*args), what)
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            raise MailboxError(f"{self.key}: {what}: {_describe(exc)}") from exc

    def pending(self, limit: int) -> list[str]:
        data = self._call("search", "SEARCH", "UNDELETED")
        first = data[0] if data and isinstance(data[0], bytes) else b""
        uids = sorted(int(uid) for uid in first.split() if uid.isdigit())
        return [str(uid) for uid in uids[:limit]]

    def fetch(self, ref: str) -> Fetched:
        data = self._call(f"fetch {ref}", "FETCH", ref, "(INTERNALDATE RFC822)")
        for entry in data:
            if isinstance(entry, tuple) and len(entry) == 2 and _uid_of(entry[0]) == ref:
                return Fetched(ref, bytes(entry[1]), _internal_date(entry[0]))
        raise MailboxError(f"{self.key}: fetch {ref}: the server sent no message")

    def done(self, ref: str) -> None:
        self._call(f"store {ref}", "STORE", ref, "+FLAGS", r"(\Deleted)")
        self._removed = True


def _uid_of(line: object) -> str | None:
    match = _UID.search(line) if isinstance(line, bytes) else None
    return match.group(1).decode() if match else None


def _internal_date(line: object) -> datetime | None:
    match = _INTERNALDATE.search(line) if isinstance(line, bytes) else None
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: object) -> str:
    items = data if isinstance(data, list) else [data]
    return " ".join(i.decode("utf-8", "replace") if isinstance(i, bytes) else str(i) for i in items)[:300]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# ---------------------------------------------------------------- configuration


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_mailbox_url(url: str, *, prefix: str = "HOTLINE_MAIL_INTAKE") -> tuple[Path | None, ImapConfig | None]:
    """``(maildir path, None)`` or ``(None, IMAP settings without the password)``; ``ValueError`` if bad.
    ``prefix`` names the settings (``<prefix>_PASSWORD`` is where the password belongs) in the messages."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "maildir":
        path = Path(unquote(parts.path))
        if parts.netloc or not path.is_absolute():
            raise ValueError("a maildir URL names an absolute path: maildir:///var/mail/intake")
        return path, None
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme {scheme or '(none)'!r} is not one of maildir, imaps, imap, imap+plain")
    security, default_port = _SCHEMES[scheme]
    if parts.password is not None:
        raise ValueError(f"put the password in {prefix}_PASSWORD (or _FILE), not in the URL")
    host, user = (parts.hostname or ""), unquote(parts.username or "")
    if not host or not user:
        raise ValueError("an IMAP URL names a user and a host: imaps://user@host:993/INBOX")
    if security == "plain" and not _is_loopback(host):
        raise ValueError("imap+plain (no TLS) is only allowed to a loopback address; use imaps or imap (STARTTLS)")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from exc
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return None, ImapConfig(host=host, port=port, user=user, folder=folder, security=security)


def source_from_settings(prefix: str = "HOTLINE_MAIL_INTAKE") -> MailSource | None:
    """The mailbox configured by ``<prefix>_URL``, ``_PASSWORD`` and ``_CA_FILE`` (mail intake's by default),
    or None when there is none. Bad settings raise ``ImproperlyConfigured``."""
    url = str(getattr(settings, f"{prefix}_URL", "") or "")
    if not url:
        return None
    return source_for(url, prefix=prefix, password=str(getattr(settings, f"{prefix}_PASSWORD", "") or ""),
                      ca_file=str(getattr(settings, f"{prefix}_CA_FILE", "") or ""),
                      timeout=float(getattr(settings, "HOTLINE_MAIL_INTAKE_TIMEOUT", 30)))


def source_for(url: str, *, prefix: str, password: str = "", ca_file: str = "", timeout: float = 30.0) -> MailSource:
    """The mailbox ``url`` names, configured by the settings ``<prefix>_URL`` and ``<prefix>_PASSWORD``
    (used in the messages); bad values raise ``ImproperlyConfigured``. Mail intake and the takedown
    bounce mailbox both read their mailbox through this."""
    try:
        path, imap = parse_mailbox_url(url, prefix=prefix)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{prefix}_URL: {exc}") from exc
    if path is not None:
        return MaildirSource(path)
    assert imap is not None
    if not password:
        raise ImproperlyConfigured(f"{prefix}_PASSWORD (or _FILE) must be set for an IMAP mailbox.")
    return ImapSource(ImapConfig(host=imap.host, port=imap.port, user=imap.user, folder=imap.folder,
                                 security=imap.security, password=password, ca_file=ca_file, timeout=timeout))
