"""VICS JSON: shared constants, ``VicsInfo`` and the category numbering of a context URL.

No Django here (see ``hotline.lib.hashlists``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from hotline.lib.hashlists.records import MAX_SCHEME, SCHEME_VICS_UNNAMED, VICS_NUMBERINGS, _show

VICS_CONTEXT_2: Final = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
VICS_METADATA_1: Final = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml/US/$metadata#Cases"
_VICS_BOOLEANS: Final = frozenset({
    "VictimIdentified", "OffenderIdentified", "IsDistributed", "IsSuspected", "SelfGenerated", "IsPrecategorized",
})
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_MEDIA_HASH_KEYS: Final = frozenset({"MediaID", "Category", "MD5", "SHA1", "AlternativeHashes", "MediaFiles"})
_MEDIA_MARKERS: Final = _MEDIA_HASH_KEYS | {"PhotoDNA", "MediaSize", "MimeType"}
_ALT_PREFIX: Final = "AlternativeHashes."
_JSON_EXTRA: Final = frozenset({"Exifs"})
#: AlternativeHashes names we match on (compared lower-case without "-", "_" and spaces).
_HASH_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    "md5": "md5", "sha1": "sha1", "sha256": "sha256", "pdq": "pdq", "videomd5": "video_md5",
    "videosha256": "video_sha256", "vpdq": "vpdq",
})
_WRITE_HASH_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    "md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "pdq": "PDQ", "video_md5": "VIDEO_MD5",
    "video_sha256": "VIDEO_SHA256", "vpdq": "VPDQ",
})
_VERSION_IN_URL = re.compile(r"/(\d+\.\d+)\.xml")
_NUMBERING_IN_URL = re.compile(r"\.xml/([^/$#?]+)/\$metadata", re.IGNORECASE)


@dataclass
class VicsInfo:
    """Filled in by ``parse_vics`` as it reads: what kind of document it was."""

    version: str = ""  # "2.0", "1.3", ... from the context URL; "2.0"/"1.x" by key when the URL has none
    context: str = ""  # the @odata.context / odata.metadata value (first 500 characters)
    elements: int = 0  # elements of the root ``value`` array (Cases or Media)
    media: int = 0  # Media objects read
    numbering: str = ""  # "US", "UK", "CUSTOM", another, or "" : the category numbering the context URL names
    scheme: str = ""  # the scheme the categories were kept under
    warnings: list[str] = field(default_factory=list)  # e.g. an unknown numbering: categories not mapped


def _hash_name(raw: str) -> str:
    return _HASH_NAMES.get(re.sub(r"[-_\s]", "", raw.lower()), "")


def _stringify(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _boolean(value: object) -> str:
    """VICS booleans, leniently: true/True/"1"/1 ... -> "true"; anything unrecognised as given."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value in (0, 1):
        return "true" if value else "false"
    text = _stringify(value)
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return "true"
    if lowered in _FALSE:
        return "false"
    return text


def _scalar_text(value: object) -> str | None:
    """MediaID / Category as text: ints, integral floats and strings; None for other types."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value.strip()
    return None


def _numbering_scheme(context: str, fallback: str) -> tuple[str, str, str]:
    """``(numbering, scheme, warning)`` for a context URL: the numbering it names (``US``, ``UK``,
    ``CUSTOM``, another, or ``""``), the scheme its categories are kept under, and a warning when the
    numbering is not one we know. ``fallback`` (the caller's scheme) serves only when the document
    names no known numbering: a document that says UK is never read as US."""
    match = _NUMBERING_IN_URL.search(context)
    numbering = match.group(1).upper() if match else ""
    if numbering in VICS_NUMBERINGS:
        scheme = VICS_NUMBERINGS[numbering]
        clash = f"; the scheme given ({fallback}) was not used" if fallback and fallback != scheme else ""
        return numbering, scheme, (f"the document names the {numbering} category numbering{clash}" if clash else "")
    if fallback:
        return numbering, fallback, (f"unknown category numbering {_show(numbering)} in the context URL: read "
                                     f"as '{fallback}', as told" if numbering else "")
    if not numbering:
        return "", SCHEME_VICS_UNNAMED, ("the context URL names no category numbering (US, UK, CUSTOM): "
                                         f"categories kept under '{SCHEME_VICS_UNNAMED}', none mapped to a verdict")
    scheme = ("vics-" + re.sub(r"[^a-z0-9-]", "-", numbering.lower()))[:MAX_SCHEME]
    return numbering, scheme, (f"unknown category numbering {_show(numbering)} in the context URL "
                               f"(known: {', '.join(VICS_NUMBERINGS)}): categories kept under "
                               f"'{scheme}', none mapped to a verdict")
