"""Parse ``Authentication-Results`` headers (RFC 8601) and decide whether one vouches for a From domain.

The parser is total: any text gives a result (possibly with no method results), never an exception.
Only headers whose authserv-id is our own MTA's count; everything else in a mail is the sender's word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import tldextract

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"=]+(?:=(?:"(?:[^"\\]|\\.)*"|[^\s;"]*))?))')
_METHOD = re.compile(r"([A-Za-z0-9_.-]+)(?:/\d+)?=([A-Za-z0-9_.-]*)")
MAX_HEADER_CHARS = 8192
MAX_RESULTS = 50


@dataclass(frozen=True)
class MethodResult:
    method: str  # lower case: dkim, spf, dmarc, arc, ...
    result: str  # lower case: pass, fail, none, ...
    props: dict[str, str] = field(default_factory=dict)  # "header.d" -> "example.org" (keys lower case)

    def prop(self, name: str) -> str:
        return self.props.get(name, "")


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str  # lower case
    results: tuple[MethodResult, ...] = ()


def strip_comments(text: str) -> str:
    """Remove RFC 5322 comments ``( … )`` (nested, with quoted pairs) outside quoted strings."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                out.append(char)
        elif quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)


def _split_semicolons(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _resinfo(text: str) -> MethodResult | None:
    words = [m.group(0).strip() for m in _TOKEN.finditer(text) if m.group(0).strip()]
    if not words:
        return None
    head = _METHOD.fullmatch(words[0])
    if head is None:
        return None
    props: dict[str, str] = {}
    for word in words[1:]:
        name, sep, value = word.partition("=")
        if sep and name and name.lower() not in props:
            props[name.lower()] = _unquote(value)
    return MethodResult(head.group(1).lower(), head.group(2).lower(), props)


def parse(header: str) -> AuthResults:
    """One header value. ``authserv-id [version]; method=result ptype.prop=value …; …``"""
    text = strip_comments(str(header)[:MAX_HEADER_CHARS].replace("\r", " ").replace("\n", " "))
    parts = _split_semicolons(text)
    first = parts[0].split()
    authserv_id = _unquote(first[0]).lower() if first else ""
    results = []
    for part in parts[1:]:
        found = _resinfo(part)
        if found is not None and found.method != "none":
            results.append(found)
        if len(results) >= MAX_RESULTS:
            break
    return AuthResults(authserv_id, tuple(results))


# ---------------------------------------------------------------- alignment and the verdict

@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # Offline: the public suffix list snapshot bundled with tldextract, never a download.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def organisational_domain(domain: str) -> str:
    """``mail.partner.example.org`` -> ``example.org``; a name under no known suffix stays itself."""
    domain = domain.strip().strip(".").lower()
    parts = _extractor()(domain)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}"
    return domain


def aligned(signing_domain: str, from_domain: str) -> bool:
    """DMARC relaxed alignment: the same organisational domain (RFC 7489 §3.1)."""
    signing, sender = signing_domain.strip().strip(".").lower(), from_domain.strip().strip(".").lower()
    if not signing or not sender or "." not in signing:
        return False
    if signing == sender:
        return True
    org = organisational_domain(sender)
    return "." in org and organisational_domain(signing) == org


def _domain_of(value: str) -> str:
    return value.rpartition("@")[2].strip().lower()


def vouches(result: MethodResult, from_domain: str) -> bool:
    """A passing DKIM, SPF or DMARC result that is aligned with the From domain."""
    if result.result != "pass":
        return False
    if result.method == "dkim":
        return aligned(result.prop("header.d") or _domain_of(result.prop("header.i")), from_domain)
    if result.method == "spf":
        return aligned(_domain_of(result.prop("smtp.mailfrom")), from_domain)
    if result.method == "dmarc":
        return aligned(result.prop("header.from"), from_domain)
    return False


def verdict(headers: list[str], *, authserv_id: str, from_domain: str) -> tuple[bool, list[str]]:
    """Whether our own MTA's results vouch for ``from_domain``, and what counted (for the record)."""
    own = authserv_id.strip().lower()
    if not own:
        return False, []
    passed: list[str] = []
    for header in headers:
        parsed = parse(header)
        if parsed.authserv_id != own:
            continue  # another host's claim, or the sender's own: not evidence
        for result in parsed.results:
            if vouches(result, from_domain):
                domain = result.prop("header.d") or result.prop("smtp.mailfrom") or result.prop("header.from")
                passed.append(f"{result.method}=pass ({domain})")
    return bool(passed), passed
