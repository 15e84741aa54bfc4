"""A rebinding DNS stub for tests: each lookup of a name returns its next scripted answer.

``ScriptedDns({"partner.example": [["93.184.215.14"], ["127.0.0.1"]]})`` answers the public address
first and loopback from then on (the last answer repeats): what an attacker's name server does to
get past a check that resolves the name and a client that resolves it again.

It is a :class:`hotline.lib.http.Resolver` and, through :meth:`install`, a stand-in for
``socket.getaddrinfo``, so code that resolves by itself (a bare HTTP client) is exposed to the same
answers. :meth:`install` also puts a guard on ``socket.connect``: every attempt is recorded, and any
address outside loopback is refused with ``ECONNREFUSED`` before a packet leaves, so a test can
assert where a request *would* have gone without ever sending traffic off this machine.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hotline.lib.http import FetchError

if TYPE_CHECKING:
    import pytest

__all__ = ["ScriptedDns"]


class ScriptedDns:
    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = {name.lower(): list(script) for name, script in answers.items()}
        self.calls: list[str] = []
        #: (ip, port) of every socket connect() while installed
        self.connects: list[tuple[str, int]] = []

    def _next(self, host: str) -> list[str] | None:
        self.calls.append(host)
        script = self.answers.get(host.lower().rstrip("."))
        if not script:
            return None
        return script.pop(0) if len(script) > 1 else script[0]

    def resolve(self, host: str, port: int) -> Sequence[str]:
        answer = self._next(host)
        if answer is None:
            raise FetchError("dns_failure", f"{host}: NXDOMAIN")
        return answer

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                    flags: int = 0) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            answer = [str(ipaddress.ip_address(name))]  # literals answer themselves, unrecorded
        except ValueError:
            found = self._next(name)
            if found is None:
                raise socket.gaierror(socket.EAI_NONAME, f"{name}: NXDOMAIN (scripted DNS)") from None
            answer = found
        port_number = int(port or 0)
        out: list[tuple[Any, ...]] = []
        for ip in answer:
            v6 = ipaddress.ip_address(ip).version == 6
            fam = socket.AF_INET6 if v6 else socket.AF_INET
            addr: tuple[Any, ...] = (ip, port_number, 0, 0) if v6 else (ip, port_number)
            out.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", addr))
        return out

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ScriptedDns:
        """Answer every ``socket.getaddrinfo`` from the script and guard ``socket.connect``."""
        real_connect = socket.socket.connect
        connects = self.connects

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                connects.append((str(address[0]), int(address[1])))
                if not ipaddress.ip_address(str(address[0]).partition("%")[0]).is_loopback:
                    raise ConnectionRefusedError(errno.ECONNREFUSED, f"test guard: {address[0]} is not loopback")
            real_connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", guarded_connect)
        return self
