"""What a fetch keeps between calls (issue 21, goal 3): the address checks' answers and the shared TLS context.

The SSRF verdicts themselves are pinned by test_http_ssrf.py; here: a kept answer is the one the check gives
without keeping, an invalid address is refused every time, and the TLS context is built once however many
threads ask for it first.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from typing import Any

import pytest

from hotline.lib import http, netguard

ADDRESSES = ["127.0.0.1", "10.1.2.3", "93.184.215.14", "169.254.169.254", "::1", "::ffff:10.0.0.1",
             "::ffff:93.184.215.14", "64:ff9b::a00:1", "2002:a00:1::1", "2606:4700::1", "fe80::1%eth0",
             " 8.8.8.8 ", "0.0.0.7", "fc00::1", "2001:db8::1"]


def _uncached_classify(value: str) -> netguard.Blocked | None:
    return netguard._classify.__wrapped__(netguard._parse_text.__wrapped__(value))


@pytest.mark.parametrize("value", ADDRESSES)
def test_it_gives_the_same_verdicts_kept_as_computed(value: str) -> None:
    for _ in range(2):  # the second time from what was kept
        assert netguard.parse_ip(value) == netguard._parse_text.__wrapped__(value)
        assert netguard.classify(value) == _uncached_classify(value)
        addr = netguard.parse_ip(value)
        assert netguard.is_loopback(value) == netguard._is_loopback.__wrapped__(addr)
        for allow in (False, True):
            expected = _uncached_classify(value)
            if expected is not None and allow and netguard._is_loopback.__wrapped__(addr):
                expected = None
            assert netguard.blocked_reason(value, allow_loopback=allow) == expected


def test_it_tells_a_v4_address_from_the_v6_one_with_the_same_number() -> None:
    assert netguard.classify(ipaddress.IPv4Address(1)) is not None  # 0.0.0.1: "this network"
    assert netguard.is_loopback(ipaddress.IPv6Address(1))  # ::1
    assert not netguard.is_loopback(ipaddress.IPv4Address(1))


def test_it_drops_the_zone_of_an_address_object_too() -> None:
    scoped = ipaddress.IPv6Address("fe80::1%eth0")
    unscoped = netguard.parse_ip(scoped)
    assert isinstance(unscoped, ipaddress.IPv6Address)
    assert unscoped == ipaddress.IPv6Address("fe80::1") and unscoped.scope_id is None


@pytest.mark.parametrize("value", ["1.2.3.999", "not an address", "", "::g"])
def test_it_refuses_an_invalid_address_every_time(value: str) -> None:
    for _ in range(3):
        with pytest.raises(ValueError):
            netguard.parse_ip(value)


def test_it_parses_an_address_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = ipaddress.ip_address

    def counted(value: Any) -> Any:
        calls.append(value)
        return original(value)

    monkeypatch.setattr(ipaddress, "ip_address", counted)
    netguard._parse_text.cache_clear()
    for _ in range(5):
        assert netguard.classify("93.184.215.99") is None
        assert not netguard.is_loopback("93.184.215.99")
    assert calls == ["93.184.215.99"]


def test_it_builds_the_tls_context_once_when_threads_ask_together(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[ssl.SSLContext] = []
    original = ssl.create_default_context

    def slow(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        time.sleep(0.05)  # what loading a CA bundle takes, so the threads' first calls overlap
        context = original()
        built.append(context)
        return context

    monkeypatch.setattr(ssl, "create_default_context", slow)
    http._built_ssl_context.cache_clear()
    try:
        start = threading.Barrier(6)
        got: list[ssl.SSLContext] = []

        def ask() -> None:
            start.wait()
            got.append(http._ssl_context("/nonexistent-but-never-read.pem", True))

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(built) == 1
        assert len(got) == 6 and all(context is built[0] for context in got)
        assert got[0].minimum_version == ssl.TLSVersion.TLSv1_2
    finally:
        http._built_ssl_context.cache_clear()
