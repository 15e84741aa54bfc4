"""One plain DNS question over UDP, answered by reading only what ``dnsresolve`` keeps (addresses, CNAME chain).

``dnsresolve`` asks dnspython's resolver, which builds the query and parses the whole answer into its objects: most
of a resolution's CPU. :func:`ask` sends the query dnspython's resolver sends (no EDNS, RD set) to the first
configured server and reads the answer itself, but only when the answer is plain: a response to this very
question, not truncated, NOERROR or NXDOMAIN, its answer section nothing but A, AAAA and CNAME records of class IN
with names of letters, digits, ``-`` and ``_``, at most one CNAME per name, a chain shorter than dnspython's
limit, no authority or additional records, every byte accounted for. For anything else (a timeout, another
rcode, a malformed or unusual message, a socket error) it returns None and the caller asks dnspython, whose
answer is the reference: what :func:`ask` returns is what dnspython's resolver gives for the same bytes
(``lib/tests/test_dnslean.py`` compares them). Nothing is cached: every call asks the server.
"""

from __future__ import annotations

import os
import re
import socket
import struct
from dataclasses import dataclass

import dns.ipv4
import dns.ipv6

__all__ = ["Lean", "ask", "parse", "query_wire"]

A, CNAME, AAAA, IN = 1, 5, 28, 1
NOERROR, NXDOMAIN = 0, 3
#: Below dnspython's ``MAX_CHAIN`` (16): a longer chain (or a loop) is left to dnspython.
MAX_CHAIN = 8
_SAFE_LABEL = re.compile(rb"[A-Za-z0-9_-]{1,63}\Z")
_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")


class _Unusual(Exception):
    """The answer is not plain: dnspython reads it."""


@dataclass(frozen=True)
class Lean:
    """What dnspython's resolver gives for the question: NXDOMAIN or not, the addresses of the record type asked
    for at the end of the chain (answer order, duplicates once) and the CNAME targets followed (as received)."""

    nxdomain: bool
    addresses: tuple[str, ...]
    cnames: tuple[str, ...]


def query_wire(ident: int, labels: tuple[bytes, ...], rdtype: int) -> bytes | None:
    """The query dnspython's resolver sends (``make_query``, RD, no EDNS); None for a name it would write otherwise."""
    if not labels or labels[-1] != b"" or not all(_SAFE_LABEL.match(label) for label in labels[:-1]):
        return None
    name = b"".join(bytes((len(label),)) + label for label in labels)
    if len(name) > 255:
        return None
    return _HEADER.pack(ident, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", rdtype, IN)


def ask(server: tuple[str, int], labels: tuple[bytes, ...], rdtype: int, timeout: float) -> Lean | None:
    """Ask ``server`` about ``labels`` (an absolute name's labels, as ``dns.name.Name.labels``) once; None when
    the name, the exchange or the answer is not plain (dnspython then asks)."""
    ident = int.from_bytes(os.urandom(2), "big")
    query = query_wire(ident, labels, rdtype)
    if query is None or timeout <= 0:
        return None
    try:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:  # not connected, as dnspython's
            sock.settimeout(timeout)
            sock.sendto(query, server)
            wire, source = sock.recvfrom(65535)
    except OSError:  # a timeout too
        return None
    if source[:2] != server:  # a datagram from elsewhere (dnspython waits on for the server's)
        return None
    try:
        return parse(wire, query)
    except (_Unusual, struct.error, IndexError, ValueError):
        return None


def parse(wire: bytes, query: bytes) -> Lean:
    """Read the answer ``wire`` to ``query``; raises (``_Unusual`` and others) unless the answer is plain."""
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    # a response (QR) to a standard query, not truncated, to this question; NOERROR or NXDOMAIN
    if ident != int.from_bytes(query[:2], "big") or flags & 0xFA00 != 0x8000 or flags & 0xF not in (NOERROR, NXDOMAIN):
        raise _Unusual
    question = len(query) - 4  # the name, then its type and class
    if qdcount != 1 or nscount or arcount or wire[12:question].lower() != query[12:question].lower() \
            or wire[question:len(query)] != query[question:]:
        raise _Unusual
    offset, records = len(query), []
    for _ in range(ancount):
        owner, offset = _name(wire, offset)
        rdtype, rdclass, _ttl, length = _RR.unpack_from(wire, offset)
        offset += _RR.size
        end = offset + length
        if rdclass != IN or end > len(wire):
            raise _Unusual
        if rdtype == CNAME:
            target, after = _name(wire, offset)
            if after != end or not target:
                raise _Unusual
            records.append((owner.lower(), rdtype, target))
        elif (rdtype, length) in ((A, 4), (AAAA, 16)):
            records.append((owner.lower(), rdtype, (dns.ipv4 if rdtype == A else dns.ipv6).inet_ntoa(wire[offset:end])))
        else:
            raise _Unusual
        offset = end
    if offset != len(wire):
        raise _Unusual
    return _chain(records, _name(query, 12)[0].lower(), query[-4:-2], nxdomain=flags & 0xF == NXDOMAIN)


def _chain(records: list[tuple[str, int, str]], qname: str, qtype: bytes, *, nxdomain: bool) -> Lean:
    """``resolve_chaining``: from the question's name, the records of the type asked for, else its CNAME."""
    rdtype = int.from_bytes(qtype, "big")
    cnames: dict[str, str] = {}
    for owner, kind, value in records:
        if kind == CNAME and cnames.setdefault(owner, value) != value:
            raise _Unusual  # two CNAMEs for one name: dnspython keeps the last
    chain: list[str] = []
    name = qname
    while not (found := [value for owner, kind, value in records if owner == name and kind == rdtype]) \
            and name in cnames:
        if len(chain) >= MAX_CHAIN:
            raise _Unusual
        chain.append(cnames[name])
        name = cnames[name].lower()
    if nxdomain and found:
        raise _Unusual  # dnspython: AnswerForNXDOMAIN
    return Lean(nxdomain, tuple(dict.fromkeys(found)), tuple(chain))


def _name(wire: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` as text without the final dot (``""`` for the root) and the offset after it;
    compression pointers only backwards, as dnspython reads them; a label outside the safe alphabet raises."""
    labels: list[str] = []
    after, limit, size = -1, offset, 0
    while True:
        length = wire[offset]
        if length >= 0xC0:
            pointer = ((length & 0x3F) << 8) | wire[offset + 1]
            if pointer >= limit:
                raise _Unusual
            if after < 0:
                after = offset + 2
            offset = limit = pointer
            continue
        if length > 63:
            raise _Unusual
        if length == 0:
            if size + 1 > 255:
                raise _Unusual
            return ".".join(labels), (offset + 1 if after < 0 else after)
        label = wire[offset + 1:offset + 1 + length]
        if len(label) != length or not _SAFE_LABEL.match(label):
            raise _Unusual
        labels.append(label.decode("ascii"))
        size += length + 1
        offset += length + 1
