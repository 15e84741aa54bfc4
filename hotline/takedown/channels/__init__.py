"""Notice channels behind one interface. A channel is one module with one class; the registry maps an
abuse contact's ``channel`` value to it. To add one: write ``channels/<name>.py`` with a ``Channel``
subclass and add it to ``REGISTRY`` (docs/takedown.md, "Channels")."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
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


def channel_for(name: str) -> Channel:
    path = REGISTRY.get(name)
    if path is None:
        raise ChannelError(f"channel {name!r} is not one of {', '.join(sorted(REGISTRY))}", retry=False)
    channel: Channel = import_string(path)()
    return channel
