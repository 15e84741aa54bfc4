"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives: for tests, benches and the demo.

    with SmtpSink() as sink:            # sink.port -> EMAIL_PORT
        ...send...
        sink.message_ids()              # Message-ID of every message received, in order

``data_delay`` makes the server slow to answer DATA (the message is recorded first): a client killed
during that wait has handed the message over but never learnt it was accepted, as in a real crash.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["Received", "SmtpSink", "free_port", "listening_socket"]

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket already bound and listening on a free port, inheritable by a child process (gunicorn's
    ``--bind fd://N`` with ``pass_fds``): unlike :func:`free_port`, no other process can take the port between
    picking it and the server binding it."""
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    message: EmailMessage
    at: float

    @property
    def message_id(self) -> str:
        return str(self.message.get("Message-ID", ""))

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())

    def attachments(self) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            found[part.get_filename() or "unnamed"] = payload if isinstance(payload, bytes) else b""
        return found


@dataclass
class _Handler:
    sink: SmtpSink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        sink = self.sink
        message = message_from_bytes(envelope.content, policy=policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message, time.time())
        with sink.lock:
            sink.data_started += 1
            if sink.fail_with:
                return sink.fail_with
            sink.received.append(received)
        for listener in list(sink.listeners):
            listener(received)
        if sink.data_delay:
            await asyncio.sleep(sink.data_delay)
        return "250 OK"


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    data_delay: float = 0.0
    fail_with: str = ""  # e.g. "451 try again later" or "550 no such user"
    received: list[Received] = field(default_factory=list)
    listeners: list[Callable[[Received], None]] = field(default_factory=list)
    data_started: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def start(self) -> SmtpSink:
        self.port = self.port or free_port(self.host)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def message_ids(self) -> list[str]:
        return [entry.message_id for entry in self.messages()]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """The messages once ``count`` have arrived, or whatever arrived within ``timeout`` (generous: it
        returns as soon as they are there, and a busy machine must not make a test miss a message)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages()) >= count:
                break
            time.sleep(0.02)
        return self.messages()
