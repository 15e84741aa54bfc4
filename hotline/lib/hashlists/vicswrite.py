"""VICS JSON: the writer (``write_vics``).

No Django here (see ``hotline.lib.hashlists``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import IO

from hotline.lib.hashlists.records import _DIGITS, SCHEME_VICS_US, VICS_NUMBERINGS, HashRecord
from hotline.lib.hashlists.vics import (
    _ALT_PREFIX,
    _JSON_EXTRA,
    _MEDIA_HASH_KEYS,
    _VICS_BOOLEANS,
    _WRITE_HASH_NAMES,
    VICS_CONTEXT_2,
    VICS_METADATA_1,
    _hash_name,
)


def _json_id(text: str) -> int | str:
    """A canonical decimal stays a JSON number (VICS uses integers); anything else a string."""
    if _DIGITS.fullmatch(text) and len(text) < 19 and str(int(text)) == text:
        return int(text)
    return text


def _extra_value(key: str, text: str) -> object:
    if key in _VICS_BOOLEANS and text in ("true", "false"):
        return text == "true"
    if key == "MediaSize" and _DIGITS.fullmatch(text) and len(text) < 19 and str(int(text)) == text:
        return int(text)
    if key in _JSON_EXTRA and text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _media_object(group: list[HashRecord], scheme: str) -> dict[str, object]:
    first = group[0]
    media: dict[str, object] = {}
    if first.source_id:
        media["MediaID"] = _json_id(first.source_id)
    if first.classification and first.scheme == scheme:
        media["Category"] = _json_id(first.classification)
    top: dict[str, str] = {}
    files: list[dict[str, str]] = []
    alternatives: list[dict[str, str]] = []
    for record in group:
        if record.signal_type in ("md5", "sha1"):
            key = record.signal_type.upper()
            if key not in top:
                top[key] = record.value
            else:
                files.append({key: record.value})
        else:
            alternatives.append({"HashName": _WRITE_HASH_NAMES[record.signal_type], "HashValue": record.value})
    media.update(top)
    for key, text in first.extra.items():
        if key.startswith(_ALT_PREFIX) and len(key) > len(_ALT_PREFIX):
            name = key[len(_ALT_PREFIX):]
            if not _hash_name(name):
                alternatives.append({"HashName": name, "HashValue": text})
        elif key not in _MEDIA_HASH_KEYS:
            media[key] = _extra_value(key, text)
    if alternatives:
        media["AlternativeHashes"] = alternatives
    if files:
        media["MediaFiles"] = files
    return media


def _groups(records: Iterable[HashRecord]) -> Iterator[list[HashRecord]]:
    """Consecutive records with the same source_id, classification, scheme and extra; duplicates of
    a (signal type, value) within a group dropped."""
    group: list[HashRecord] = []
    key: tuple[object, ...] = ()
    seen: set[tuple[str, str]] = set()
    for record in records:
        record_key = (record.source_id, record.classification, record.scheme, sorted(record.extra.items()))
        if group and record_key != key:
            yield group
            group, seen = [], set()
        key = record_key
        if (record.signal_type, record.value) not in seen:
            seen.add((record.signal_type, record.value))
            group.append(record)
    if group:
        yield group


def write_vics(records: Iterable[HashRecord], out: IO[str], *, version: str = "2.0",
               scheme: str = SCHEME_VICS_US) -> int:
    """Write a VICS document, one Media object per line; returns the number of Media written.

    Consecutive records sharing ``source_id`` (and classification, scheme and extra) become one
    Media (sort by ``source_id`` first to group a scattered list): ``MediaID`` from ``source_id``
    (a number when it is one), ``Category`` from ``classification`` when the record's scheme is
    ``scheme`` (else omitted), the first MD5 and SHA1 as ``MD5``/``SHA1``, further ones as
    ``MediaFiles`` entries, other types as ``AlternativeHashes`` (SHA256, PDQ, VIDEO_MD5, VPDQ),
    ``extra`` back as Media fields (booleans, ``MediaSize`` and ``Exifs`` typed again). PDQ quality
    and ``mapped_verdict`` are not written. The context URL names the numbering of ``scheme``
    (``vics-us`` -> US, ``vics-uk`` -> UK, ``vics-custom`` -> CUSTOM). ``version`` "2.0" writes the Media form under
    ``@odata.context``; a "1.x" version writes the 1.x form (``odata.metadata``, one Case holding
    the Media).
    """
    scheme = scheme.strip().lower()
    numbering = next((name for name, known in VICS_NUMBERINGS.items() if known == scheme), "")
    if not numbering:
        raise ValueError(f"no VICS category numbering for the scheme {scheme!r}: use one of "
                         f"{', '.join(VICS_NUMBERINGS.values())}")
    if version == "2.0":
        context = VICS_CONTEXT_2.replace("/US/", f"/{numbering}/")
        out.write('{"@odata.context": ' + json.dumps(context) + ', "value": [')
        close = "\n]}\n"
    elif re.fullmatch(r"1\.[0-9]+", version):
        metadata = VICS_METADATA_1.replace("1.3.xml", f"{version}.xml").replace("/US/", f"/{numbering}/")
        out.write('{"odata.metadata": ' + json.dumps(metadata) + ', "value": [\n{"Media": [')
        close = "\n]}\n]}\n"
    else:
        raise ValueError(f"unsupported VICS version {version!r}: use '2.0' or '1.x'")
    count = 0
    for group in _groups(records):
        out.write(("," if count else "") + "\n" + json.dumps(_media_object(group, scheme)))
        count += 1
    out.write(close)
    return count
