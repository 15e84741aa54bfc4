"""Tests for hotline.lib.urls (synthetic example.* / *.test hosts only)."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import re
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hotline.lib.urls import (
    MAX_URL_LENGTH,
    CanonicalURL,
    InvalidURL,
    canonicalize,
    registrable_host,
)

# --- worked examples ----------------------------------------------------------

# (input, expected canonical URL)
CANONICAL_FORMS = [
    ("http://example.org", "http://example.org/"),
    ("example.org", "http://example.org/"),
    (
        "  HTTP://User:Secret@WWW.Example.ORG.:80/a/../b/./c?x=1&y=2#top  ",
        "http://www.example.org/b/c?x=1&y=2",
    ),
    ("https://example.org:8443/a%2fb", "https://example.org:8443/a%2Fb"),
    ("http://bücher.example/straße", "http://xn--bcher-kva.example/stra%C3%9Fe"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://[2001:DB8:0:0:1:0:0:1]/", "http://[2001:db8::1:0:0:1]/"),
    ("http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
    ("http://[0:0:0:0:0:0:0:0]/", "http://[::]/"),
    ("http://[1:0:0:2:0:0:0:3]/", "http://[1:0:0:2::3]/"),
    ("http://[1:0:2:0:3:0:4:0]/", "http://[1:0:2:0:3:0:4:0]/"),
    ("http://example.org/%zz", "http://example.org/%25zz"),
    ('http://example.org/a b<c>"d`{e}|^', "http://example.org/a%20b%3Cc%3E%22d%60%7Be%7D%7C%5E"),
    ("http://example.org/!$&'()*+,=:@~", "http://example.org/!$&'()*+,=:@~"),
    ("http://example.org/?q=a b&r=/?:@", "http://example.org/?q=a%20b&r=/?:@"),
    ("http://example.org/a\x01b\x7f", "http://example.org/a%01b"),
    ("http://example.org/a%01b%7F", "http://example.org/a%01b%7F"),
    ("http://example.org/a\x00b?c\x1fd", "http://example.org/a%00b?c%1Fd"),
    ("http://example.org/%E9", "http://example.org/%E9"),
    ("http://example.org/?a\\b", "http://example.org/?a%5Cb"),
    ("http://example.org/a/..", "http://example.org/"),
    ("http://example.org/a/.", "http://example.org/a/"),
    ("http://example.org/../../a", "http://example.org/a"),
    ("http://example.org/a//../b", "http://example.org/a/b"),
    ("http://example.org/..;x/a", "http://example.org/..;x/a"),
    ("http://example.org?", "http://example.org/"),
    ("http://example.org/#", "http://example.org/"),
    ("http://example.org/?&", "http://example.org/?&"),
    ("http://example.org:/", "http://example.org/"),
    ("http://example.org:0080/", "http://example.org/"),
    ("https://example.org:80/", "https://example.org:80/"),
    ("http://example.org:443/", "http://example.org:443/"),
    ("http://sub_domain.example.org/", "http://sub_domain.example.org/"),
]


@pytest.mark.parametrize(("raw", "expected"), CANONICAL_FORMS)
def test_it_produces_the_expected_canonical_form(raw: str, expected: str) -> None:
    assert canonicalize(raw).url == expected


# Pairs that are the same resource and must land on the same canonical URL.
SAME = [
    # whitespace and control characters
    pytest.param("  http://example.org/x \n", "http://example.org/x", id="outer-whitespace"),
    pytest.param("\x00\x1fhttp://example.org/x\x7f\x0b", "http://example.org/x", id="outer-c0"),
    pytest.param(
        "\u3000\u00a0http://example.org/x\u200b\ufeff",
        "http://example.org/x",
        id="outer-unicode-space",
    ),
    pytest.param("http://exa\tmple.org/x", "http://example.org/x", id="tab-in-host"),
    pytest.param(
        "ht\r\ntp://example.org/a\nb?c\t=d", "http://example.org/ab?c=d", id="newlines-anywhere"
    ),
    pytest.param("http://example.org/%2\t5", "http://example.org/%25", id="tab-inside-escape"),
    pytest.param("http://example.org/a\x01b", "http://example.org/a%01b", id="inner-c0-encoded"),
    # scheme
    pytest.param("example.org/x", "http://example.org/x", id="no-scheme"),
    pytest.param("//example.org/x", "http://example.org/x", id="protocol-relative"),
    pytest.param("example.org:8080/x", "http://example.org:8080/x", id="no-scheme-with-port"),
    pytest.param("127.0.0.1:8080", "http://127.0.0.1:8080/", id="no-scheme-ip-port"),
    pytest.param("[::1]/x", "http://[::1]/x", id="no-scheme-ipv6"),
    pytest.param("HTTPS://example.org/", "https://example.org/", id="scheme-upper"),
    pytest.param("hTtP://example.org/", "http://example.org/", id="scheme-mixed"),
    pytest.param("http:example.org/x", "http://example.org/x", id="scheme-no-slashes"),
    pytest.param("http:///example.org/x", "http://example.org/x", id="scheme-three-slashes"),
    pytest.param("http:\\\\example.org\\x", "http://example.org/x", id="scheme-backslashes"),
    # userinfo
    pytest.param("http://user:pass@example.org/", "http://example.org/", id="userinfo"),
    pytest.param("http://@example.org/", "http://example.org/", id="empty-userinfo"),
    pytest.param("http://example.org@evil.test/", "http://evil.test/", id="userinfo-lookalike"),
    pytest.param(
        "http://example.org:80@evil.test/", "http://evil.test/", id="userinfo-port-lookalike"
    ),
    pytest.param("http://a@example.org@evil.test/", "http://evil.test/", id="last-at-wins"),
    pytest.param("example.org@evil.test", "http://evil.test/", id="userinfo-no-scheme"),
    pytest.param(
        "http://evil.test\\@example.org/",
        "http://evil.test/@example.org/",
        id="backslash-ends-host",
    ),
    pytest.param("http://evil.test#@example.org/", "http://evil.test/", id="hash-ends-host"),
    pytest.param(
        "http://evil.test?@example.org/", "http://evil.test/?@example.org/", id="query-ends-host"
    ),
    # host
    pytest.param("http://EXAMPLE.Org/", "http://example.org/", id="host-case"),
    pytest.param("http://example.org./", "http://example.org/", id="trailing-dot"),
    pytest.param("http://example.org../", "http://example.org/", id="trailing-dots"),
    pytest.param("http://ex%61mple.org/", "http://example.org/", id="pct-host"),
    pytest.param(
        "http://%62%C3%BCcher.example/", "http://xn--bcher-kva.example/", id="pct-utf8-host"
    ),
    pytest.param("http://bücher.example/", "http://xn--bcher-kva.example/", id="idn"),
    pytest.param("http://BÜCHER.example/", "http://xn--bcher-kva.example/", id="idn-upper"),
    pytest.param(
        "http://XN--BCHER-KVA.EXAMPLE/", "http://xn--bcher-kva.example/", id="a-label-upper"
    ),
    pytest.param(
        "http://b\u00fccher\u3002example/", "http://xn--bcher-kva.example/", id="ideographic-dot"
    ),
    pytest.param("http://example\uff0eorg/", "http://example.org/", id="fullwidth-dot"),
    pytest.param("http://example\uff61org/", "http://example.org/", id="halfwidth-dot"),
    pytest.param(
        "http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.org/",
        "http://example.org/",
        id="fullwidth-letters",
    ),
    pytest.param("http://例え.テスト/", "http://xn--r8jz45g.xn--zckzah/", id="idn-japanese"),
    # IPv4
    pytest.param("http://2130706433/", "http://127.0.0.1/", id="ipv4-integer"),
    pytest.param("http://0x7f000001/", "http://127.0.0.1/", id="ipv4-hex"),
    pytest.param("http://0X7F.0.0.1/", "http://127.0.0.1/", id="ipv4-hex-part"),
    pytest.param("http://0177.0.0.1/", "http://127.0.0.1/", id="ipv4-octal-part"),
    pytest.param("http://017700000001/", "http://127.0.0.1/", id="ipv4-octal"),
    pytest.param("http://127.1/", "http://127.0.0.1/", id="ipv4-two-parts"),
    pytest.param("http://127.0.1/", "http://127.0.0.1/", id="ipv4-three-parts"),
    pytest.param("http://0x7f.0.0x0.01/", "http://127.0.0.1/", id="ipv4-mixed"),
    pytest.param("http://192.0.2.1./", "http://192.0.2.1/", id="ipv4-trailing-dot"),
    pytest.param(
        "http://\uff11\uff19\uff12.\uff10.\uff12.\uff11/", "http://192.0.2.1/", id="ipv4-fullwidth"
    ),
    pytest.param("http://0x/", "http://0.0.0.0/", id="ipv4-bare-0x"),
    pytest.param("http://4294967295/", "http://255.255.255.255/", id="ipv4-max"),
    # IPv6
    pytest.param("http://[2001:DB8::1]/", "http://[2001:db8::1]/", id="ipv6-case"),
    pytest.param(
        "http://[2001:0db8:0000:0000:0000:0000:0000:0001]/", "http://[2001:db8::1]/", id="ipv6-long"
    ),
    pytest.param("http://[::FFFF:192.0.2.1]/", "http://[::ffff:c000:201]/", id="ipv6-mapped"),
    pytest.param("http://[::1]:80/", "http://[::1]/", id="ipv6-default-port"),
    # ports
    pytest.param("http://example.org:80/", "http://example.org/", id="http-default-port"),
    pytest.param("https://example.org:443/", "https://example.org/", id="https-default-port"),
    pytest.param("http://example.org:080/", "http://example.org/", id="port-leading-zero"),
    pytest.param("http://example.org:8080/", "http://example.org:08080/", id="port-8080"),
    # path
    pytest.param("http://example.org", "http://example.org/", id="empty-path"),
    pytest.param("http://example.org?x", "http://example.org/?x", id="empty-path-query"),
    pytest.param("http://example.org/a/../b", "http://example.org/b", id="dotdot"),
    pytest.param("http://example.org/a/./b", "http://example.org/a/b", id="dot"),
    pytest.param("http://example.org/a/%2e%2E/b", "http://example.org/b", id="pct-dotdot"),
    pytest.param("http://example.org/a/.%2e/b", "http://example.org/b", id="half-pct-dotdot"),
    pytest.param("http://example.org/a/%2e/b", "http://example.org/a/b", id="pct-dot"),
    pytest.param(
        "http://example.org/a/%252e%252e/b", "http://example.org/b", id="double-pct-dotdot"
    ),
    pytest.param("http://example.org/a\\b\\..\\c", "http://example.org/a/c", id="backslashes"),
    # percent-encoding
    pytest.param("http://example.org/%61%62%63", "http://example.org/abc", id="pct-unreserved"),
    pytest.param(
        "http://example.org/%7e%2D%5F%2E", "http://example.org/~-_.", id="pct-unreserved-marks"
    ),
    pytest.param("http://example.org/a%2fb", "http://example.org/a%2Fb", id="pct-hex-case"),
    pytest.param(
        "http://example.org/a%2525252Fb", "http://example.org/a%2Fb", id="pct-nested-slash"
    ),
    pytest.param("http://example.org/%2561", "http://example.org/a", id="pct-double-unreserved"),
    pytest.param("http://example.org/é", "http://example.org/%C3%A9", id="non-ascii-path"),
    pytest.param(
        "http://example.org/%c3%a9", "http://example.org/%C3%A9", id="non-ascii-pct-lower"
    ),
    pytest.param(
        "http://example.org/%253Ca%253E", "http://example.org/<a>", id="pct-nested-brackets"
    ),
    pytest.param("http://example.org/a b", "http://example.org/a%20b", id="space-path"),
    pytest.param("http://example.org/%zz", "http://example.org/%25zz", id="pct-invalid"),
    pytest.param("http://example.org/100%", "http://example.org/100%25", id="pct-trailing"),
    pytest.param("http://example.org/a%b", "http://example.org/a%25b", id="pct-literal"),
    pytest.param("http://example.org/%41;%42", "http://example.org/A;B", id="pct-around-semicolon"),
    pytest.param(
        "http://example.org/?a=%41%42", "http://example.org/?a=AB", id="pct-query-unreserved"
    ),
    pytest.param("http://example.org/?a=1%2526", "http://example.org/?a=1%26", id="pct-nested-amp"),
    pytest.param("http://example.org/?a=%2F%3f", "http://example.org/?a=/?", id="pct-query-slash"),
    pytest.param("http://example.org/?a=é", "http://example.org/?a=%C3%A9", id="non-ascii-query"),
    # query and fragment
    pytest.param("http://example.org/?", "http://example.org/", id="empty-query"),
    pytest.param("http://example.org/x?#frag", "http://example.org/x", id="empty-query-fragment"),
    pytest.param("http://example.org/x#frag", "http://example.org/x", id="fragment"),
    pytest.param(
        "http://example.org/x?a=1#frag?b=2", "http://example.org/x?a=1", id="fragment-after-query"
    ),
    pytest.param("http://example.org/x#", "http://example.org/x", id="empty-fragment"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_it_merges_spellings_of_the_same_resource(a: str, b: str) -> None:
    assert canonicalize(a) == canonicalize(b)


# Pairs that are (or may be) different resources and must stay apart.
DIFFERENT = [
    pytest.param("http://example.org/", "https://example.org/", id="scheme"),
    pytest.param("http://example.org/", "http://example.com/", id="host"),
    pytest.param("http://www.example.org/", "http://example.org/", id="subdomain"),
    pytest.param("http://example.org@evil.test/", "http://example.org/", id="userinfo-lookalike"),
    pytest.param(
        "http://evil.test\\@example.org/", "http://example.org/", id="backslash-lookalike"
    ),
    pytest.param("http://example.org:8080/", "http://example.org/", id="port"),
    pytest.param("https://example.org:80/", "http://example.org/", id="port-of-other-scheme"),
    pytest.param("http://[::ffff:192.0.2.1]/", "http://192.0.2.1/", id="ipv4-mapped-stays-v6"),
    pytest.param("http://192.0.2.1/", "http://192.0.2.10/", id="ipv4"),
    pytest.param("http://xn--bcher-kva.example/", "http://bucher.example/", id="idn-vs-ascii"),
    pytest.param("http://example.org/a/b", "http://example.org/a//b", id="double-slash"),
    pytest.param("http://example.org/a", "http://example.org/a/", id="trailing-slash"),
    pytest.param("http://example.org/a", "http://example.org/A", id="path-case"),
    pytest.param("http://example.org/a%2Fb", "http://example.org/a/b", id="encoded-slash"),
    pytest.param("http://example.org/a%252Fb", "http://example.org/a/b", id="double-encoded-slash"),
    pytest.param("http://example.org/a%3Bb", "http://example.org/a;b", id="encoded-semicolon"),
    pytest.param("http://example.org/a%3Fb", "http://example.org/a?b", id="encoded-question"),
    pytest.param("http://example.org/a%23b", "http://example.org/a", id="encoded-hash"),
    pytest.param("http://example.org/a%5Cb", "http://example.org/a/b", id="encoded-backslash"),
    pytest.param(
        "http://example.org/a%2E%2E%2Fb", "http://example.org/b", id="encoded-dotdot-slash"
    ),
    pytest.param("http://example.org/%C3%A9", "http://example.org/%E9", id="utf8-vs-latin1"),
    pytest.param("http://example.org/a", "http://example.org/a?b", id="query-present"),
    pytest.param("http://example.org/?a=1%262", "http://example.org/?a=1&2", id="encoded-amp"),
    pytest.param("http://example.org/?a=%3D", "http://example.org/?a==", id="encoded-equals"),
    pytest.param("http://example.org/?a=%2B", "http://example.org/?a=+", id="encoded-plus"),
    pytest.param("http://example.org/?a=%20", "http://example.org/?a=+", id="space-vs-plus"),
    pytest.param(
        "http://example.org/?a=%3B", "http://example.org/?a=;", id="encoded-semicolon-query"
    ),
    pytest.param("http://example.org/?a=%23", "http://example.org/?a=", id="encoded-hash-query"),
    pytest.param("http://example.org/?a=1&b=2", "http://example.org/?b=2&a=1", id="param-order"),
    pytest.param("http://example.org/?a=1", "http://example.org/?a=2", id="query-value"),
    pytest.param("http://example.org/?a", "http://example.org/?A", id="query-case"),
    pytest.param("http://example.org/?", "http://example.org/?&", id="empty-vs-amp"),
    pytest.param("http://example.org/x?a", "http://example.org/x%3Fa", id="query-vs-encoded"),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_it_keeps_different_resources_apart(a: str, b: str) -> None:
    first, second = canonicalize(a), canonicalize(b)
    assert first.url != second.url
    assert first.dedup_key != second.dedup_key


INVALID = [
    pytest.param("", "empty", id="empty"),
    pytest.param("  \t\n ", "empty", id="only-whitespace"),
    pytest.param("http://example.org/" + "a" * MAX_URL_LENGTH, "too_long", id="too-long"),
    pytest.param("http://example.org/" + "é" * 1400, "too_long", id="too-long-once-encoded"),
    pytest.param("ftp://example.org/", "bad_scheme", id="ftp"),
    pytest.param("FTP://example.org/", "bad_scheme", id="ftp-upper"),
    pytest.param("javascript:alert(1)", "bad_scheme", id="javascript"),
    pytest.param("data:text/plain,hello", "bad_scheme", id="data"),
    pytest.param("file:///tmp/x", "bad_scheme", id="file"),
    pytest.param("mailto:abuse@example.org", "bad_scheme", id="mailto"),
    pytest.param("com.example.app://x", "bad_scheme", id="dotted-scheme"),
    pytest.param("http://", "no_host", id="http-nothing"),
    pytest.param("https:///", "no_host", id="https-slash"),
    pytest.param("http://?q=1", "no_host", id="query-only"),
    pytest.param("http://user@/", "no_host", id="userinfo-only"),
    pytest.param("http://:8080/", "no_host", id="port-only"),
    pytest.param("localhost", "bad_host", id="localhost"),
    pytest.param("http://localhost:8080/", "bad_host", id="localhost-port"),
    pytest.param("http://intranet/", "bad_host", id="no-dot"),
    pytest.param("http://./", "bad_host", id="only-dot"),
    pytest.param("http://a..example.org/", "bad_host", id="empty-label"),
    pytest.param("http://.example.org/", "bad_host", id="leading-dot"),
    pytest.param("http://" + "a" * 64 + ".example/", "bad_host", id="label-too-long"),
    pytest.param("http://" + "a." * 126 + "example/", "bad_host", id="host-too-long"),
    pytest.param("http://exa mple.org/", "bad_host", id="space-in-host"),
    pytest.param("http://exa!mple.org/", "bad_host", id="bang-in-host"),
    pytest.param("http://exa\x01mple.org/", "bad_host", id="control-in-host"),
    pytest.param("http://example.org%2Fevil.test/", "bad_host", id="pct-slash-in-host"),
    pytest.param("http://example.org%40evil.test/", "bad_host", id="pct-at-in-host"),
    pytest.param("http://ex%2561mple.org/", "bad_host", id="double-pct-host"),
    pytest.param("http://%FF.example/", "bad_host", id="bad-utf8-host"),
    pytest.param("http://ex\uff0fample.org/", "bad_host", id="fullwidth-slash-host"),
    pytest.param("http://faß.example/", "bad_host", id="deviation-sharp-s"),
    pytest.param("http://exa\u200dmple.org/", "bad_host", id="deviation-zwj"),
    pytest.param("http://xn--.example/", "bad_host", id="empty-a-label"),
    pytest.param("http://xn--abc-.example/", "bad_host", id="ascii-a-label"),
    pytest.param("http://xn--zz.example/", "bad_host", id="broken-a-label"),
    pytest.param("http://[::1]x/", "bad_host", id="junk-after-ipv6"),
    pytest.param("http://example.org:65536/", "bad_port", id="port-too-big"),
    pytest.param("http://example.org:99999999999999999999/", "bad_port", id="port-huge"),
    pytest.param("http://example.org:8a/", "bad_port", id="port-letters"),
    pytest.param("http://example.org:-1/", "bad_port", id="port-negative"),
    pytest.param("http://example.org:\uff18\uff10/", "bad_port", id="port-fullwidth"),
    pytest.param("http://example.org:80:80/", "bad_port", id="port-twice"),
    pytest.param("example.org:abc/", "bad_port", id="no-scheme-bad-port"),
    pytest.param("http://256.0.0.1/", "bad_ip", id="ipv4-octet-range"),
    pytest.param("http://1.2.3.4.5/", "bad_ip", id="ipv4-five-parts"),
    pytest.param("http://4294967296/", "bad_ip", id="ipv4-integer-range"),
    pytest.param("http://0x100000000/", "bad_ip", id="ipv4-hex-range"),
    pytest.param("http://1.16777216/", "bad_ip", id="ipv4-two-part-range"),
    pytest.param("http://09.1.1.1/", "bad_ip", id="ipv4-bad-octal"),
    pytest.param("http://0xg.1.1.1/", "bad_ip", id="ipv4-bad-hex"),
    pytest.param("http://example.123/", "bad_ip", id="numeric-tld"),
    pytest.param("http://[::1%25eth0]/", "bad_ip", id="ipv6-zone-encoded"),
    pytest.param("http://[fe80::1%eth0]/", "bad_ip", id="ipv6-zone"),
    pytest.param("http://[::1/", "bad_ip", id="ipv6-unterminated"),
    pytest.param("http://[192.0.2.1]/", "bad_ip", id="ipv4-in-brackets"),
    pytest.param("http://[:::1]/", "bad_ip", id="ipv6-junk"),
    pytest.param("http://[]/", "bad_ip", id="ipv6-empty"),
    pytest.param("hello world", "not_a_url", id="hello-world"),
    pytest.param("not a url", "not_a_url", id="not-a-url"),
    pytest.param(":::", "not_a_url", id="colons"),
    pytest.param("/relative/path", "not_a_url", id="relative-path"),
    pytest.param("?q=1", "not_a_url", id="query-without-host"),
    pytest.param("#top", "not_a_url", id="fragment-without-host"),
    pytest.param("//", "not_a_url", id="two-slashes"),
    pytest.param("http://example.org/\ud800", "not_a_url", id="surrogate"),
    pytest.param("http://example.org/%" + "25" * 10 + "41", "not_a_url", id="nested-11-deep"),
]


@pytest.mark.parametrize(("raw", "code"), INVALID)
def test_it_rejects_invalid_input_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(InvalidURL) as excinfo:
        canonicalize(raw)
    assert excinfo.value.code == code
    assert excinfo.value.message
    assert str(excinfo.value) == excinfo.value.message


def test_it_explains_a_rejected_scheme() -> None:
    with pytest.raises(InvalidURL, match="scheme 'ftp' is not allowed; use http or https"):
        canonicalize("ftp://example.org/")


def test_it_accepts_percent_encoding_nested_ten_deep() -> None:
    assert canonicalize("http://example.org/%" + "25" * 9 + "41").path == "/A"


def test_it_accepts_a_url_of_exactly_the_maximum_length() -> None:
    raw = "http://example.org/" + "a" * (MAX_URL_LENGTH - len("http://example.org/"))
    assert canonicalize(f"  {raw}  ").url == raw


def test_it_splits_the_result_into_parts() -> None:
    result = canonicalize("HTTPS://Example.ORG:8443/a/b?c=d#e")
    assert result == CanonicalURL(
        url="https://example.org:8443/a/b?c=d",
        dedup_key=hashlib.sha256(b"https://example.org:8443/a/b?c=d").hexdigest(),
        scheme="https",
        host="example.org",
        port=8443,
        path="/a/b",
        query="c=d",
    )


def test_it_keeps_ipv6_brackets_out_of_the_host_field() -> None:
    result = canonicalize("http://[2001:db8::1]:8080/")
    assert (result.host, result.port, result.url) == (
        "2001:db8::1",
        8080,
        "http://[2001:db8::1]:8080/",
    )


def test_it_uses_the_host_as_site_key() -> None:
    assert registrable_host(canonicalize("http://A.Example.ORG./x")) == "a.example.org"
    assert registrable_host(canonicalize("http://0x7f.1/")) == "127.0.0.1"


def test_it_makes_invalid_url_a_picklable_value_error() -> None:
    error = InvalidURL("bad_port", "port 'x' is not a number")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own data
    assert (copy.code, copy.message, str(copy)) == (
        "bad_port",
        "port 'x' is not a number",
        "port 'x' is not a number",
    )


def test_it_returns_an_immutable_result() -> None:
    result = canonicalize("http://example.org/")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.url = "http://example.com/"  # type: ignore[misc]


# --- property-based tests ---------------------------------------------------------

UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
SAFE = "abcxyzABCXYZ0189-_~"  # no "." so no segment is a dot segment

labels = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
hosts = st.builds(
    lambda subs, base: ".".join([*subs, base]),
    st.lists(labels, max_size=2),
    st.sampled_from(["example.org", "example.com", "site.test", "host.example"]),
)
segments = st.text(SAFE, max_size=6)
paths = st.lists(segments, max_size=4).map(lambda parts: "/" + "/".join(parts))
words = st.text(SAFE, min_size=1, max_size=6)
queries = st.lists(st.tuples(words, st.text(SAFE, max_size=6)), max_size=3).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
)


@dataclass(frozen=True)
class Parts:
    scheme: str
    host: str
    port: int | None
    path: str
    query: str

    def render(
        self,
        *,
        host: str | None = None,
        port: str | None = None,
        path: str | None = None,
        query: str | None = None,
        scheme: str | None = None,
    ) -> str:
        port_text = port if port is not None else ("" if self.port is None else f":{self.port}")
        query_text = self.query if query is None else query
        return "".join(
            (
                scheme or self.scheme,
                "://",
                self.host if host is None else host,
                port_text,
                self.path if path is None else path,
                f"?{query_text}" if query_text else "",
            )
        )

    @property
    def expected(self) -> str:
        return self.render()


parts = st.builds(
    Parts,
    scheme=st.sampled_from(["http", "https"]),
    host=hosts,
    port=st.one_of(st.none(), st.integers(1, 65535).filter(lambda p: p not in (80, 443))),
    path=paths,
    query=queries,
)

TRICKY_PIECES = [
    "http://",
    "HTTPS://",
    "http:",
    "//",
    "\\",
    "/",
    "example.org",
    "EXAMPLE.org.",
    "bücher.example",
    "xn--bcher-kva",
    "site.test",
    "[::1]",
    "[::ffff:192.0.2.1]",
    "0x7f.1",
    "2130706433",
    "127.1",
    ":8080",
    ":80",
    ":443",
    ":",
    "@",
    "user:pw@",
    "..",
    ".",
    "%2e",
    "%2E%2e",
    "%2F",
    "%252F",
    "%25",
    "%zz",
    "%",
    "%C3%A9",
    "%E9",
    "é",
    "?",
    "&",
    "=",
    "+",
    ";",
    "#",
    "a",
    "B",
    "~",
    " ",
    "\t",
    "\n",
    "\x01",
    "。",
    "ß",
    "faß",
    "%41",
    "%2561",
    "%3B",
    "%26",
    "%3D",
    "%2B",
    "%23",
    "%5C",
    "[",
    "]",
]
messy = st.lists(st.sampled_from(TRICKY_PIECES), max_size=14).map("".join)
mostly_valid = st.one_of(
    parts.map(lambda p: p.expected),
    st.builds(
        str.__add__,
        st.sampled_from(
            [
                "http://example.org/",
                "HTTPS://Bücher.example",
                "//[::1]",
                "0x7f.1:8080",
                "example.com",
            ]
        ),
        messy,
    ),
)
anything = st.one_of(mostly_valid, messy, st.text(max_size=60))


def accepted(raw: str) -> CanonicalURL:
    try:
        return canonicalize(raw)
    except InvalidURL:
        assume(False)
        raise


def random_case(text: str, flips: list[bool]) -> str:
    return "".join(
        c.upper() if flip else c for c, flip in zip(text, flips + [False] * len(text), strict=False)
    )


def encode_unreserved(text: str, chosen: list[bool], levels: int, upper: bool) -> str:
    """Percent-encode some unreserved characters of ``text`` ``levels`` times."""
    out = []
    for char, choose in zip(text, chosen + [False] * len(text), strict=False):
        if choose and char in UNRESERVED:
            escape = f"%{ord(char):02X}" if upper else f"%{ord(char):02x}"
            for _ in range(levels - 1):
                escape = escape.replace("%", "%25")
            out.append(escape)
        else:
            out.append(char)
    return "".join(out)


@settings(max_examples=150)
@given(anything)
def test_it_never_raises_anything_but_invalid_url(raw: str) -> None:
    try:
        canonicalize(raw)
    except InvalidURL as error:
        assert error.code and error.message


@settings(max_examples=150)
@given(anything)
def test_it_is_idempotent(raw: str) -> None:
    result = accepted(raw)
    assert canonicalize(result.url) == result


@settings(max_examples=60)
@given(anything)
def test_it_uses_sha256_of_the_url_as_dedup_key(raw: str) -> None:
    result = accepted(raw)
    assert result.dedup_key == hashlib.sha256(result.url.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", result.dedup_key)
    assert result.url.isascii() and len(result.url) <= MAX_URL_LENGTH


@settings(max_examples=60)
@given(parts)
def test_it_leaves_clean_urls_unchanged(p: Parts) -> None:
    result = canonicalize(p.expected)
    assert (result.url, result.scheme, result.host, result.port, result.path, result.query) == (
        p.expected,
        p.scheme,
        p.host,
        p.port,
        p.path,
        p.query,
    )


@settings(max_examples=60)
@given(parts, st.text(max_size=20))
def test_it_ignores_a_fragment(p: Parts, fragment: str) -> None:
    assert canonicalize(f"{p.expected}#{fragment}").url == p.expected


@settings(max_examples=60)
@given(parts, st.lists(st.booleans(), max_size=40))
def test_it_ignores_host_and_scheme_case(p: Parts, flips: list[bool]) -> None:
    raw = p.render(host=random_case(p.host, flips), scheme=random_case(p.scheme, flips[::-1]))
    assert canonicalize(raw).url == p.expected


@settings(max_examples=50)
@given(parts)
def test_it_ignores_an_explicit_default_port(p: Parts) -> None:
    p = dataclasses.replace(p, port=None)
    default = ":80" if p.scheme == "http" else ":443"
    assert canonicalize(p.render(port=default)).url == p.expected


@settings(max_examples=50)
@given(parts, st.integers(1, 3))
def test_it_ignores_trailing_dots_on_the_host(p: Parts, dots: int) -> None:
    assert canonicalize(p.render(host=p.host + "." * dots)).url == p.expected


whitespace = st.text(" \t\n\r\x0b\x0c\u00a0\u3000", max_size=5)


@settings(max_examples=50)
@given(parts, whitespace, whitespace)
def test_it_ignores_surrounding_whitespace(p: Parts, before: str, after: str) -> None:
    assert canonicalize(before + p.expected + after).url == p.expected


@settings(max_examples=60)
@given(anything, st.lists(st.tuples(st.integers(0, 100), st.sampled_from("\t\r\n")), max_size=4))
def test_it_ignores_inserted_tabs_and_newlines(raw: str, inserts: list[tuple[int, str]]) -> None:
    result = accepted(raw)
    mangled = raw
    for position, char in inserts:
        index = position % (len(mangled) + 1)
        mangled = mangled[:index] + char + mangled[index:]
    assert canonicalize(mangled) == result


@settings(max_examples=60)
@given(parts, st.lists(st.booleans(), max_size=60), st.integers(1, 5), st.booleans())
def test_it_decodes_percent_encoded_unreserved_characters(
    p: Parts, chosen: list[bool], levels: int, upper: bool
) -> None:
    raw = p.render(
        path=encode_unreserved(p.path, chosen, levels, upper),
        query=encode_unreserved(p.query, chosen[::-1], levels, upper),
    )
    assert canonicalize(raw).url == p.expected


@settings(max_examples=50)
@given(parts, st.lists(st.booleans(), max_size=40), st.booleans())
def test_it_decodes_percent_encoded_host_characters(
    p: Parts, chosen: list[bool], upper: bool
) -> None:
    host = "".join(
        (f"%{ord(c):02X}" if upper else f"%{ord(c):02x}") if choose and c != "." else c
        for c, choose in zip(p.host, chosen + [False] * len(p.host), strict=False)
    )
    assert canonicalize(p.render(host=host)).url == p.expected


@settings(max_examples=60)
@given(parts, paths, paths)
def test_it_keeps_different_paths_apart(p: Parts, first: str, second: str) -> None:
    assume(first != second)
    assert canonicalize(p.render(path=first)) != canonicalize(p.render(path=second))


# Raw delimiters and encoded delimiters: a prefix-free alphabet, so different
# strings over it are different query values.
query_values = st.lists(
    st.sampled_from([*SAFE, *"&=+;/?", "%26", "%3D", "%2B", "%3B", "%23", "%20"]), max_size=6
).map("".join)


@settings(max_examples=60)
@given(parts, words, query_values, query_values)
def test_it_keeps_different_query_values_apart(p: Parts, key: str, first: str, second: str) -> None:
    assume(first != second)
    one = canonicalize(p.render(query=f"{key}={first}"))
    two = canonicalize(p.render(query=f"{key}={second}"))
    assert one.url != two.url
