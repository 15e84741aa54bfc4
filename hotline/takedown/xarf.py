"""XARF v4 documents for notices (category ``content``, type ``csam``): URL, trace facts and hashes only.

Never media, never a description of it: the ``evidence`` payload field of XARF is not used at all.
One document per captured media file of an item (its hashes), or one without hashes when the capture
holds none. ``report_id`` derives from the notice key, so a resend carries the same ids. Every document
must pass the official XARF v4 schemas: where their ``domain`` pattern cannot express the host (an IP
literal, a punycode ``xn--`` label, a single label) the recommended ``domain`` field is left out.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import uuid
from datetime import datetime
from json.encoder import encode_basestring as _string  # the C one (ensure_ascii=False)
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource

from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.evidence.models import Media
from hotline.lib import prepared
from hotline.takedown.models import Notice, NoticeItem

XARF_VERSION = "4.0.0"
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "xarf"
CSAM_SCHEMA_ID = "https://xarf.org/schemas/v4/types/content-csam.json"
MAX_DOCUMENTS_PER_ITEM = 20
_MEDIA_TYPES = {"image": "image", "video": "video"}
_BASE_SCHEMA = SCHEMA_DIR / "types" / "content-base.json"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
                       re.IGNORECASE)


class Facts:
    """What the XARF documents of notices say about their items' files, read once for several notices (the
    notices a step claims together): the good files with hashes, which items inherited a known verdict, each
    file's final verdict. Three queries whatever the number of items; a subset's facts are the same as if read
    for that subset alone."""

    def __init__(self, item_ids: list[int]) -> None:
        # each query compiled once per process (per power of two of the items: ``prepared.rows``, ``padded``); text
        # and integer columns
        self.media: dict[int, list[dict[str, Any]]] = {}
        if not item_ids:
            self.inherited: set[int] = set()
            self.verdicts: dict[int, str] = {}
            return
        items = prepared.padded(item_ids)
        for row in prepared.rows("takedown.xarf_media", _media, items=items):
            self.media.setdefault(row[1], []).append(dict(zip(_MEDIA_COLUMNS, row, strict=True)))
        self.inherited = {item for (item,) in prepared.rows("takedown.xarf_inherited", _inherited, items=items)}
        self.verdicts = dict(prepared.rows("takedown.xarf_verdicts", _verdicts, items=items))


_MEDIA_COLUMNS = ("pk", "item_id", "md5", "sha1", "sha256", "kind")


def _media(items: list[int]) -> QuerySet[Media, tuple[Any, ...]]:
    """The items' good files with hashes (``Facts``)."""
    return (Media.objects.filter(item_id__in=items, is_bad=False).exclude(sha256="").order_by("pk")
            .values_list(*_MEDIA_COLUMNS))


def _inherited(items: list[int]) -> QuerySet[Assessment, tuple[int]]:
    """The items whose final assessment inherited a known verdict (``Facts``)."""
    return Assessment.objects.filter(item_id__in=items, is_final=True, inherited=True).values_list("item_id")


def _verdicts(items: list[int]) -> QuerySet[MediaAssessment, tuple[int, str]]:
    """Each file's final verdict (``Facts``)."""
    # Each file was classified on its own: a legal image beside an illegal one is not named in a notice.
    return MediaAssessment.objects.final().filter(media__item_id__in=items).values_list("media_id", "verdict")


def documents_for(notice: Notice, lines: list[NoticeItem], facts: Facts | None = None) -> list[dict[str, Any]]:
    """Every XARF document of a notice, in a stable order (items by id, media by id). ``facts``: read for
    these lines' items (or more) beforehand, else here."""
    facts = Facts([line.item_id for line in lines]) if facts is None else facts
    found: list[dict[str, Any]] = []
    for line in sorted(lines, key=lambda entry: entry.item_id):
        method = "hash_match" if line.item_id in facts.inherited else "manual_review"
        illegal = [dict(m, verdict=facts.verdicts.get(m["pk"], "")) for m in facts.media.get(line.item_id, [])
                   if facts.verdicts.get(m["pk"], "baseline") in ILLEGAL_VERDICTS]
        found.extend(_item_documents(notice, line, illegal, method))
    return found


def _item_documents(notice: Notice, line: NoticeItem, media: list[dict[str, Any]],
                    method: str) -> list[dict[str, Any]]:
    seen: set[str] = set()
    docs: list[dict[str, Any]] = []
    base = {**_base(notice, line), "detection_method": method}
    for entry in media:
        if entry["sha256"] in seen or len(docs) >= MAX_DOCUMENTS_PER_ITEM:
            continue
        seen.add(entry["sha256"])
        hashes = {name: str(value).lower() for name in ("md5", "sha1", "sha256") if (value := entry.get(name))}
        docs.append({**base, "report_id": _report_id(notice, line.item_id, entry["pk"]), "hash_values": hashes,
                     "media_type": _MEDIA_TYPES.get(entry["kind"], "mixed"), **_classified(base, entry["verdict"])})
    return docs or [{**base, "report_id": _report_id(notice, line.item_id, 0)}]


def _classified(base: dict[str, Any], verdict: str) -> dict[str, Any]:
    """The file's own verdict where it has one (the item's is the most severe of its files)."""
    if not verdict:
        return {}
    return {"classification": "baseline" if verdict == "baseline" else "B2",
            "tags": [f"verdict:{verdict}", *(t for t in base["tags"] if not t.startswith("verdict:"))]}


def _report_id(notice: Notice, item_id: int, media_id: int) -> str:
    return str(uuid.uuid5(notice.key, f"{item_id}:{media_id}"))


def _base(notice: Notice, line: NoticeItem) -> dict[str, Any]:
    item = line.item
    party = {"org": settings.HOTLINE_ORGANISATION[:200], "contact": settings.DEFAULT_FROM_EMAIL,
             "domain": settings.HOTLINE_TAKEDOWN_REPORTER_DOMAIN}
    verdict = item.verdict or "baseline"
    doc: dict[str, Any] = {
        "xarf_version": XARF_VERSION, "timestamp": _iso(item.captured_at or item.first_reported_at),
        "reporter": party, "sender": party, "source_identifier": line.ip or item.host,
        "category": "content", "type": "csam", "url": line.url,
        # XARF knows baseline/A1..B2 only; "national" (illegal here only) is sent as the mildest class and
        # named in a tag, so the provider sees exactly what was decided.
        "classification": "baseline" if verdict == "baseline" else "B2",
        "evidence_source": "user_report",
        "verification_method": "automated_crawler" if line.takedown.last_check_at else "manual",
        "verified_at": _iso(line.takedown.last_check_at or item.captured_at or item.first_reported_at),
        "description": f"{settings.HOTLINE_ORGANISATION} notice {notice.reference}, item {item.pk}: "
                       "please remove or disable access to the content at this URL.",
        "tags": [f"verdict:{verdict}", f"notice:{notice.key!s}"],
    }
    host = urlsplit(line.url).hostname or ""
    if sendable_domain(host):
        doc["domain"] = host
    trace = line.trace
    if trace is not None and trace.country:
        doc["country_code"] = trace.country.upper()
    if notice.provider is not None:
        doc["hosting_provider"] = notice.provider.name
    return doc


def sendable_domain(host: str) -> bool:
    """Whether ``host`` may go in the ``domain`` field: the schema's own pattern decides.

    The official pattern has no room for ``--`` inside a label (every punycode ``xn--`` label), a
    punycode or numeric TLD, a single label or an IP literal; such hosts are named by ``url`` and
    ``source_identifier`` only, since ``domain`` is recommended, not required.
    """
    return bool(host) and not _is_ip(host) and _domain_pattern().search(host) is not None


@functools.lru_cache(maxsize=1)
def _domain_pattern() -> re.Pattern[str]:
    schema = json.loads(_BASE_SCHEMA.read_text(encoding="utf-8"))
    return re.compile(_find_property(schema, "domain")["pattern"])


def _find_property(schema: Any, name: str) -> dict[str, Any]:
    """The first ``properties[name]`` anywhere in a schema (content-base nests it in ``allOf``)."""
    if isinstance(schema, dict):
        found = schema.get("properties", {}).get(name)
        if isinstance(found, dict):
            return found
        children: list[Any] = list(schema.values())
    elif isinstance(schema, list):
        children = schema
    else:
        children = []
    for child in children:
        if isinstance(child, dict | list) and (result := _find_property(child, name)):
            return result
    return {}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def dumps(documents: list[dict[str, Any]]) -> str:
    """The wire form: a JSON array of XARF reports (stable key order, so a resend is byte-identical): the text of
    ``json.dumps(documents, sort_keys=True, indent=1, ensure_ascii=False)``, written by ``_indented`` (the
    standard library's C encoder has no ``indent``: its pure-Python one cost some 0.3 ms a notice); anything
    ``_indented`` does not write (a float, a key that is not a string, another type) goes to ``json.dumps``."""
    try:
        return _indented(documents, "\n")
    except _Unusual:
        return json.dumps(documents, sort_keys=True, indent=1, ensure_ascii=False)


class _Unusual(Exception):
    """A value ``_indented`` leaves to ``json.dumps``."""


_LITERALS = {True: "true", False: "false"}


def _indented(value: Any, newline: str) -> str:
    """``value`` as ``json.dumps(…, sort_keys=True, indent=1, ensure_ascii=False)`` writes it, ``newline`` being
    the line break and indentation of the line it starts on."""
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return _LITERALS[value]
    if isinstance(value, int):
        return int.__repr__(value)
    inner = newline + " "
    if isinstance(value, list | tuple):
        return "[" + inner + ("," + inner).join([_indented(v, inner) for v in value]) + newline + "]" if value \
            else "[]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise _Unusual
        return "{" + inner + ("," + inner).join([_string(key) + ": " + _indented(value[key], inner)
                                                 for key in sorted(value)]) + newline + "}" if value else "{}"
    raise _Unusual


# ------------------------------------------------------------------ validation against the schema


@functools.lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    """A validator for content/csam with the vendored schemas, fetching nothing."""
    resources = []
    for path in sorted(SCHEMA_DIR.rglob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = registry.contents(CSAM_SCHEMA_ID)
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


def errors(document: dict[str, Any]) -> list[str]:
    """Schema violations of one document, each naming its field path ([] = valid)."""
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '(document)'}: {error.message}"
            for error in validator().iter_errors(document)]


def _format_checker() -> FormatChecker:
    # jsonschema checks date-time, uri and hostname only with optional packages we do not install; these
    # three checks stand in for them (stricter than nothing, as strict as the spec needs here).
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_date_time)
    checker.checks("uri", raises=ValueError)(_uri)
    checker.checks("hostname", raises=ValueError)(_hostname)
    return checker


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return "T" in value and parsed.tzinfo is not None


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.path)) and " " not in value


def _hostname(value: object) -> bool:
    return not isinstance(value, str) or bool(_HOSTNAME.match(value))
