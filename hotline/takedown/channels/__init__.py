"""Notice channels behind one interface. A channel is one module with one class; the registry maps an
abuse contact's ``channel`` value to it. To add one: write ``channels/<name>.py`` with a ``Channel``
subclass and add it to ``REGISTRY`` (docs/takedown.md, "Channels")."""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

REGISTRY: dict[str, str] = {
    "email": "hotline.takedown.channels.email.EmailChannel",
    "api": "hotline.takedown.channels.api.ApiChannel",
}


class ChannelError(Exception):
    """Sending failed. ``retry`` says whether trying the same message again later can help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class OutboundMessage:
    """Everything a channel needs; built the same way on every attempt, so a resend is the same message."""

    key: uuid.UUID
    message_id: str
    reference: str
    recipient: str
    subject: str
    body: str
    language: str
    xarf: list[dict[str, Any]] = field(default_factory=list)
    respond_url: str = ""


@dataclass(frozen=True)
class SendResult:
    """``delivered``: the recipient's own system confirmed receipt (an API answer), not just a relay."""

    delivered: bool
    detail: str = ""


class Channel(ABC):
    name: str = ""

    @abstractmethod
    def send(self, message: OutboundMessage) -> SendResult:
        """Send once; raise ChannelError on failure."""

    def close(self) -> None:  # noqa: B027 - most channels keep nothing open
        """Let go of what the channel kept open between messages of one session (a connection)."""


_sessions = threading.local()


@contextmanager
def session() -> Iterator[None]:
    """Inside, ``channel_for`` gives one channel per name, kept for every message (the e-mail channel sends
    them over one SMTP connection); closed at the end. Only how messages travel changes: each is still sent
    and recorded on its own."""
    if getattr(_sessions, "open", None) is not None:  # nested: the outer session keeps the channels
        yield
        return
    _sessions.open = {}
    try:
        yield
    finally:
        channels, _sessions.open = _sessions.open, None
        for channel in channels.values():
            channel.close()


def in_session() -> bool:
    return getattr(_sessions, "open", None) is not None


def channel_for(name: str) -> Channel:
    open_channels: dict[str, Channel] | None = getattr(_sessions, "open", None)
    if open_channels is not None and name in open_channels:
        return open_channels[name]
    path = REGISTRY.get(name)
    if path is None:
        raise ChannelError(f"channel {name!r} is not one of {', '.join(sorted(REGISTRY))}", retry=False)
    channel: Channel = import_string(path)()
    if open_channels is not None:
        open_channels[name] = channel
    return channel
