"""Canonical form of reported URLs.

A hotline receives the same resource written in many ways (pasted with stray
whitespace, upper-case hosts, Unicode or punycode host names, obfuscated IPv4
addresses, needlessly percent-encoded paths, ...).  :func:`canonicalize` maps
all spellings of one resource onto one canonical string whose SHA-256 is used
as a unique database key, while keeping spellings that a web server may treat
as *different* resources apart.  Pure standard library; the parsing rules
follow the WHATWG URL standard (what browsers do) where it matters.

Decisions (each one is covered by a test in ``tests/test_urls.py``):

* **Whitespace and control characters.**  Leading and trailing whitespace, C0
  controls, DEL, ZERO WIDTH SPACE and BOM are stripped.  TAB, CR and LF are
  removed everywhere (as browsers do).  Any other control character inside the
  URL is *percent-encoded* in the path and query (deterministic, like WHATWG)
  and makes the host invalid.  Unpaired surrogates are rejected.
* **Scheme.**  Only ``http`` and ``https`` (case-insensitive).  A missing
  scheme (``example.org/x``, ``//example.org/x``, ``example.org:8080/x``)
  means ``http``.  Any other scheme is rejected with ``bad_scheme``.  As in
  browsers, any number of ``/`` or ``\\`` may follow ``http:``.  ``name:``
  counts as a host and port only if digits or a dotted name precede the
  colon; so ``mailto:x@example.org`` (and ``user:pw@example.org``) are
  rejected, never read as ``example.org``.  Text that has no scheme and whose
  host part is empty or contains spaces (``hello world``, ``:::``), or a
  relative path (``/x``), is ``not_a_url``.
* **Userinfo** (``user:pass@``) is dropped: the server never sees it as part
  of the request target, so it does not identify a different resource, and it
  may hold credentials we should not store.  The host is what follows the
  *last* ``@`` of the authority, so ``http://example.org@evil.test/`` is
  ``evil.test``.  The authority ends at the first ``/ \\ ? #``.
* **Host.**  Percent-encoding is decoded once (as browsers do; a host still
  containing ``%`` is invalid), the dots U+3002, U+FF0E and U+FF61 become
  ``.``, trailing dots are dropped, each label is lower-cased and non-ASCII
  labels are converted to A-labels with :func:`encodings.idna.ToASCII` (IDNA
  2003 nameprep: case folding and NFKC, so fullwidth letters work).  ``xn--``
  labels are kept (lower-cased) if they are valid punycode.  Labels must match
  ``[a-z0-9_-]{1,63}`` afterwards (underscores and edge hyphens occur in the
  wild and browsers accept them) and the host must be at most 253 characters,
  otherwise ``bad_host``.  Labels containing ``ß``, final ``ς``, ZWJ or ZWNJ
  are rejected: IDNA 2003 maps them away but current browsers do not, so we
  would merge different hosts; the reporter can submit the ``xn--`` form.
  Characters unassigned in Unicode 3.2 are likewise rejected (fail closed).
  A domain name must contain a dot: hotline reports are about public hosts.
* **IPv4.**  A host whose last label is a number is an IPv4 address and is
  parsed with the WHATWG IPv4 parser (decimal, ``0x`` hex, ``0`` octal, one
  to four parts), canonical form dotted decimal; failures are ``bad_ip``.
* **IPv6.**  Bracketed literals are parsed with :mod:`ipaddress` and written
  in the RFC 5952 / WHATWG compressed lower-case form (serialised here, so it
  does not depend on the Python version); IPv4-mapped addresses stay IPv6;
  zone ids are rejected.
* **Port.**  ASCII digits only, at most 65535; the scheme default is removed.
* **Path.**  Empty path becomes ``/``; ``\\`` is ``/``; ``.`` and ``..``
  segments (also percent-encoded ones) are resolved.  Repeated and trailing
  slashes are kept: servers may treat them as different resources.
* **Percent-encoding** (path and query).  The component is first split on its
  *raw* delimiters (path: ``/`` and ``;``, since servers such as Tomcat treat
  ``;`` as a path-parameter delimiter; query: ``& = + ;``).  Each piece is
  percent-decoded repeatedly until nothing changes (at most 10 rounds, more
  is rejected as ``not_a_url``), which defeats ``%252F``-style evasion, and
  then re-encoded with one rule: unreserved characters and the harmless
  sub-delimiters are literal, everything else (the delimiters above, ``? # %``,
  ``\\``, space, controls, ``"<>`{}|^[]``, every non-ASCII byte of the UTF-8
  text) becomes upper-case ``%XX``.  So ``%2F``, ``%2f`` and ``%2525252F``
  are all ``%2F``, while ``/a%2Fb`` stays distinct from ``/a/b`` and
  ``?a=1%262`` from ``?a=1&2``.  A ``%`` not followed by two hex digits is a
  literal percent sign (``%zz`` becomes ``%25zz``).  Other reserved
  characters are literal (``%3D`` in a path, ``%2F`` or ``%3F`` in a query
  decode), as servers decode them anyway.  The price of repeated decoding: a
  literal ``%41`` in a file name (sent as ``%2541``) merges with ``A``.
* **Query.**  Kept in order (never sorted); an empty query is dropped; ``+``
  stays ``+`` and is distinct from ``%2B`` and ``%20``.
* **Fragment** is dropped: it is never sent to the server.
* Input longer than :data:`MAX_URL_LENGTH` (after stripping) or whose
  canonical form would be longer is rejected with ``too_long``.

Error codes of :class:`InvalidURL`: ``empty``, ``too_long``, ``not_a_url``,
``bad_scheme``, ``no_host``, ``bad_host``, ``bad_port``, ``bad_ip``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from encodings import idna
from typing import Final

__all__ = ["MAX_URL_LENGTH", "CanonicalURL", "InvalidURL", "canonicalize", "registrable_host"]

MAX_URL_LENGTH: Final = 4096

_MAX_DECODE_ROUNDS: Final = 10
_MAX_HOST_LENGTH: Final = 253
_MAX_LABEL_LENGTH: Final = 63
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

# Everything str.isspace() accepts (all below U+3001), C0 controls, DEL, ZWSP and BOM.
_STRIP_CHARS: Final = (
    "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
    + "".join(chr(c) for c in range(0x20))
    + "\x7f\u200b\ufeff"
)
_REMOVE_TAB_NEWLINE: Final = str.maketrans("", "", "\t\r\n")
_IDEOGRAPHIC_DOTS: Final = str.maketrans("\u3002\uff0e\uff61", "...")
# IDNA 2003 and current browsers (UTS #46 non-transitional) disagree on these.
_DEVIATION_CHARS: Final = frozenset("\u00df\u03c2\u200c\u200d")

_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_PORT_THEN_PATH_RE: Final = re.compile(r"[0-9]+(?:[/\\?#]|\Z)")
_TWO_SLASHES_RE: Final = re.compile(r"[/\\]{2}")
_AUTHORITY_END_RE: Final = re.compile(r"[/\\?#]")
_DIGITS_RE: Final = re.compile(r"[0-9]+")
_LABEL_RE: Final = re.compile(r"[a-z0-9_-]+")
_PCT_RE: Final = re.compile(rb"%([0-9A-Fa-f]{2})")
_QUERY_SPLIT_RE: Final = re.compile(r"([&=+;])")

_UNRESERVED: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_PATH_LITERALS: Final = _UNRESERVED + "!$&'()*+,=:@"
_QUERY_LITERALS: Final = _UNRESERVED + "!$'()*,:@/?"


def _encode_table(literals: str) -> tuple[str, ...]:
    return tuple(chr(b) if chr(b) in literals else f"%{b:02X}" for b in range(256))


_PATH_TABLE: Final = _encode_table(_PATH_LITERALS)
_QUERY_TABLE: Final = _encode_table(_QUERY_LITERALS)
# Fast paths: text made only of characters that stay literal is already canonical.
_PLAIN: Final = {
    id(_PATH_TABLE): re.compile(f"[{re.escape(_PATH_LITERALS)}]*"),
    id(_QUERY_TABLE): re.compile(f"[{re.escape(_QUERY_LITERALS)}]*"),
}
_PLAIN_PATH_RE: Final = re.compile(f"/[{re.escape(_PATH_LITERALS)}/]*")

_OCTAL_DIGITS: Final = frozenset("01234567")
_DECIMAL_DIGITS: Final = frozenset("0123456789")
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


class InvalidURL(ValueError):
    """A reported URL that cannot be canonicalised.

    ``code`` is a short machine-readable reason, ``message`` an English
    explanation suitable for showing to the person who submitted the URL.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidURL], tuple[str, str]]:
        return (type(self), (self.code, self.message))


@dataclass(frozen=True, slots=True)
class CanonicalURL:
    """The canonical form of a URL and its parts."""

    url: str
    dedup_key: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str


def canonicalize(raw: str) -> CanonicalURL:
    """Return the canonical form of ``raw``; raise :class:`InvalidURL` if it is not usable."""
    if not isinstance(raw, str):
        raise InvalidURL("not_a_url", f"expected text, got {type(raw).__name__}")
    text = raw.strip(_STRIP_CHARS)
    if "\t" in text or "\n" in text or "\r" in text:  # str.translate costs more than these scans
        text = text.translate(_REMOVE_TAB_NEWLINE)
    if not text:
        raise InvalidURL("empty", "the URL is empty")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL("too_long", f"the URL is longer than {MAX_URL_LENGTH} characters")
    if not text.isascii() and _SURROGATE_RE.search(text):
        raise InvalidURL("not_a_url", "the text contains unpaired surrogate characters")

    scheme, rest, explicit_scheme = _split_scheme(text)
    after_slashes = rest.lstrip("/\\")
    if not explicit_scheme and len(rest) - len(after_slashes) == 1:
        raise InvalidURL("not_a_url", "this is a relative path, not a URL with a host")
    end = _AUTHORITY_END_RE.search(after_slashes)
    split_at = end.start() if end else len(after_slashes)
    authority, tail = after_slashes[:split_at], after_slashes[split_at:]

    host_port = authority.rpartition("@")[2]
    if not explicit_scheme and (
        not host_port or host_port.startswith(":") or any(c.isspace() for c in host_port)
    ):
        raise InvalidURL("not_a_url", "this does not look like a URL or a host name")
    host, is_ipv6, port_text = _split_host_port(host_port)
    port = _parse_port(port_text, scheme)

    tail = tail.partition("#")[0]
    raw_path, has_query, raw_query = tail.partition("?")
    path = _canonical_path(raw_path)
    query = _canonical_query(raw_query) if has_query else ""

    url = "".join(
        (
            scheme,
            "://",
            f"[{host}]" if is_ipv6 else host,
            "" if port is None else f":{port}",
            path,
            f"?{query}" if query else "",
        )
    )
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(
            "too_long", f"the canonical URL would be longer than {MAX_URL_LENGTH} characters"
        )
    return CanonicalURL(
        url=url,
        dedup_key=hashlib.sha256(url.encode("utf-8")).hexdigest(),
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        query=query,
    )


def registrable_host(url: CanonicalURL) -> str:
    """Return the site key used to group URLs of one site.

    For now this is exactly the canonical host (no public-suffix logic yet), so
    ``a.example.org`` and ``b.example.org`` are different sites.
    """
    return url.host


# --- scheme and authority ---------------------------------------------------


def _split_scheme(text: str) -> tuple[str, str, bool]:
    """Return (scheme, text after the scheme's colon, whether a scheme was written)."""
    match = _SCHEME_RE.match(text)
    if match is None:
        return "http", text, False
    candidate = match.group()[:-1].lower()
    rest = text[match.end() :]
    if candidate in _DEFAULT_PORTS:
        return candidate, rest, True
    # "example.org:8080/x" and "localhost:8080" are a host and port, not a scheme.
    if _PORT_THEN_PATH_RE.match(rest) or ("." in candidate and not _TWO_SLASHES_RE.match(rest)):
        return "http", text, False
    raise InvalidURL("bad_scheme", f"scheme {candidate!r} is not allowed; use http or https")


def _split_host_port(host_port: str) -> tuple[str, bool, str]:
    """Return (canonical host, whether it is IPv6, port text)."""
    if host_port.startswith("["):
        close = host_port.find("]")
        if close < 0:
            raise InvalidURL("bad_ip", "IPv6 address has no closing bracket")
        after = host_port[close + 1 :]
        if after and not after.startswith(":"):
            raise InvalidURL("bad_host", "unexpected characters after the IPv6 address")
        return _canonical_ipv6(host_port[1:close]), True, after[1:]
    host_text, _, port_text = host_port.partition(":")
    if not host_text:
        raise InvalidURL("no_host", "the URL has no host")
    return _canonical_host(host_text), False, port_text


def _parse_port(port_text: str, scheme: str) -> int | None:
    if not port_text:
        return None
    if not _DIGITS_RE.fullmatch(port_text):
        raise InvalidURL("bad_port", f"port {port_text!a} is not a number")
    digits = port_text.lstrip("0") or "0"
    if len(digits) > 5 or int(digits) > 65535:
        raise InvalidURL("bad_port", f"port {port_text} is larger than 65535")
    port = int(digits)
    return None if port == _DEFAULT_PORTS[scheme] else port


# --- host -------------------------------------------------------------------


@functools.lru_cache(maxsize=16_384)
def _canonical_host(host_text: str) -> str:
    # Cached: a batch names the same hosts many times (an invalid host raises and is not cached).
    try:
        decoded = _PCT_RE.sub(_unhex, host_text.encode("utf-8")).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidURL("bad_host", "the host is not valid UTF-8 after percent-decoding") from None
    decoded = decoded.translate(_IDEOGRAPHIC_DOTS).rstrip(".")
    if not decoded:
        raise InvalidURL("bad_host", "the host consists only of dots")
    if len(decoded) > 4 * _MAX_HOST_LENGTH:
        raise InvalidURL("bad_host", f"the host is longer than {_MAX_HOST_LENGTH} characters")
    labels = [_label_to_ascii(label) for label in decoded.split(".")]
    if _ends_in_number(labels[-1]):
        return _parse_ipv4(labels)
    host = ".".join(labels)
    if len(host) > _MAX_HOST_LENGTH:
        raise InvalidURL("bad_host", f"the host is longer than {_MAX_HOST_LENGTH} characters")
    if len(labels) < 2:
        raise InvalidURL("bad_host", f"host {host!r} has no dot; not a public host name")
    return host


def _label_to_ascii(label: str) -> str:
    if not label:
        raise InvalidURL("bad_host", "the host has an empty label ('..')")
    if label.isascii():
        result = label.lower()
    else:
        deviations = sorted(_DEVIATION_CHARS.intersection(label))
        if deviations:
            raise InvalidURL(
                "bad_host",
                f"host label {label!a} contains {''.join(deviations)!a}, which "
                "browsers and IDNA 2003 treat differently; submit the xn-- form of the host",
            )
        if len(label) > _MAX_HOST_LENGTH:
            raise InvalidURL("bad_host", "a host label is longer than 63 characters")
        try:
            result = idna.ToASCII(label).decode("ascii").lower()
        except UnicodeError as exc:
            raise InvalidURL(
                "bad_host", f"host label {label!a} is not a valid international name: {exc}"
            ) from None
    if not _LABEL_RE.fullmatch(result):
        raise InvalidURL("bad_host", f"host label {result!a} contains invalid characters")
    if len(result) > _MAX_LABEL_LENGTH:
        raise InvalidURL("bad_host", "a host label is longer than 63 characters")
    if result.startswith("xn--"):
        try:
            unicode_label = result[4:].encode("ascii").decode("punycode")
        except (ValueError, OverflowError):
            unicode_label = ""
        if not unicode_label or unicode_label.isascii():
            raise InvalidURL("bad_host", f"host label {result!r} is not valid punycode")
    return result


def _ipv4_number(part: str) -> int | None:
    """WHATWG "IPv4 number parser"; None means failure."""
    if not part:
        return None
    digits: frozenset[str] = _DECIMAL_DIGITS
    radix = 10
    if len(part) >= 2 and part[:2].lower() == "0x":
        part, digits, radix = part[2:], _HEX_DIGITS, 16
    elif len(part) >= 2 and part[0] == "0":
        part, digits, radix = part[1:], _OCTAL_DIGITS, 8
    if not part:
        return 0
    if not digits.issuperset(part):
        return None
    return int(part, radix)


def _ends_in_number(last_label: str) -> bool:
    return bool(_DIGITS_RE.fullmatch(last_label)) or _ipv4_number(last_label) is not None


def _parse_ipv4(labels: list[str]) -> str:
    """WHATWG "IPv4 parser" (trailing dots were already removed)."""
    text = ".".join(labels)
    if len(labels) > 4:
        raise InvalidURL("bad_ip", f"{text!r} has more than four parts; not an IPv4 address")
    numbers: list[int] = []
    for label in labels:
        number = _ipv4_number(label)
        if number is None:
            raise InvalidURL("bad_ip", f"{text!r} ends in a number but is not an IPv4 address")
        numbers.append(number)
    if any(number > 255 for number in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidURL("bad_ip", f"IPv4 address {text!r} is out of range")
    value = numbers[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(numbers[:-1]))
    return str(ipaddress.IPv4Address(value))


def _canonical_ipv6(literal: str) -> str:
    if "%" in literal:
        raise InvalidURL("bad_ip", "IPv6 zone ids are not allowed")
    try:
        address = ipaddress.IPv6Address(literal)
    except ValueError:
        raise InvalidURL("bad_ip", f"{literal!a} is not an IPv6 address") from None
    packed = address.packed
    pieces = [packed[i] << 8 | packed[i + 1] for i in range(0, 16, 2)]
    # Compress the first longest run of at least two zero pieces (RFC 5952, WHATWG).
    best_start, best_length, start = -1, 1, 0
    while start < 8:
        stop = start
        while stop < 8 and pieces[stop] == 0:
            stop += 1
        if stop - start > best_length:
            best_start, best_length = start, stop - start
        start = stop + 1
    hexes = [f"{piece:x}" for piece in pieces]
    if best_start < 0:
        return ":".join(hexes)
    head = ":".join(hexes[:best_start])
    tail = ":".join(hexes[best_start + best_length :])
    return f"{head}::{tail}"


# --- path and query ---------------------------------------------------------


def _unhex(match: re.Match[bytes]) -> bytes:
    return bytes((int(match.group(1), 16),))


def _canonical_piece(piece: str, table: tuple[str, ...]) -> str:
    """Percent-decode ``piece`` until stable, then re-encode it with ``table``."""
    if _PLAIN[id(table)].fullmatch(piece):
        return piece
    data = piece.encode("utf-8")
    rounds = 0
    while _PCT_RE.search(data):
        if rounds == _MAX_DECODE_ROUNDS:
            raise InvalidURL(
                "not_a_url", f"percent-encoding is nested more than {_MAX_DECODE_ROUNDS} deep"
            )
        data = _PCT_RE.sub(_unhex, data)
        rounds += 1
    return "".join([table[byte] for byte in data])


def _canonical_path(raw_path: str) -> str:
    raw_path = raw_path.replace("\\", "/")
    if not raw_path:
        return "/"
    if "/." not in raw_path and _PLAIN_PATH_RE.fullmatch(raw_path):
        return raw_path  # no dot segments, nothing to decode or encode
    segments = raw_path[1:].split("/")  # raw_path starts with "/"
    last = len(segments) - 1
    output: list[str] = []
    for index, segment in enumerate(segments):
        canonical = ";".join([_canonical_piece(p, _PATH_TABLE) for p in segment.split(";")])
        if canonical == "..":
            if output:
                output.pop()
            if index == last:
                output.append("")
        elif canonical == ".":
            if index == last:
                output.append("")
        else:
            output.append(canonical)
    return "/" + "/".join(output)


def _canonical_query(raw_query: str) -> str:
    parts = _QUERY_SPLIT_RE.split(raw_query)
    # re.split with a group: even indices are pieces, odd indices are the raw delimiters.
    return "".join(
        [
            part if index % 2 else _canonical_piece(part, _QUERY_TABLE)
            for index, part in enumerate(parts)
        ]
    )
