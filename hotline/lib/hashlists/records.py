"""Hash records, signal types, value checks and the category mapping (shared by every format).

No Django here (see ``hotline.lib.hashlists``)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

SIGNAL_TYPES: Final = ("md5", "sha1", "sha256", "pdq", "video_md5", "video_sha256", "vpdq")
HEX_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64, "video_md5": 32, "video_sha256": 64}
)
#: The hash types the open-source hash-exchange tooling (python-threatexchange) names, by its names
#: (``SignalType.get_name()``): its file reader keeps a line only when the name is one of its types,
#: so these are the only ones a signal file is written with. ``vpdq`` needs its vPDQ extension.
#: Our ``md5``, ``sha1`` and ``sha256`` (photo hashes) have no name there.
REFERENCE_SIGNAL_TYPES: Final = ("pdq", "video_md5", "video_sha256", "vpdq")
#: Its other signal types: not hashes of media, never held by a hash bank.
_REFERENCE_OTHER_TYPES: Final = frozenset({"raw_text", "url", "url_md5", "trend_query"})
MAX_VPDQ_CHARS: Final = 100_000
VERDICTS: Final = ("baseline", "national", "not_illegal")
# Same limits as the hash bank's columns (hotline.hashes.models.Entry).
MAX_CLASSIFICATION: Final = 40
MAX_SCHEME: Final = 40
MAX_SOURCE_ID: Final = 200

SCHEME_VICS_US: Final = "vics-us"
SCHEME_VICS_UK: Final = "vics-uk"
SCHEME_VICS_CUSTOM: Final = "vics-custom"
SCHEME_VICS_UNNAMED: Final = "vics"  # a VICS document whose context URL names no numbering
#: The category numberings a VICS context URL names (``.../2.0.xml/US/$metadata#Media``) and the
#: scheme their codes are kept under. Only US has a table (``VICS_US_CATEGORIES``): UK codes are
#: kept and never mapped through the US table, CUSTOM codes mean what their sender defined.
VICS_NUMBERINGS: Final[Mapping[str, str]] = MappingProxyType({
    "US": SCHEME_VICS_US, "UK": SCHEME_VICS_UK, "CUSTOM": SCHEME_VICS_CUSTOM,
})
SCHEME_HOTLINE: Final = "hotline"  # classification is one of our own verdict codes
SCHEME_SIGNAL_FILE: Final = "signal-file"  # no classification: the records came from a signal file
SCHEME_CSV: Final = "csv"  # a CSV row that named no scheme

#: Project VIC, US numbering: code -> (meaning, our verdict code or "" for "an analyst decides").
#: 1 is "national", not "baseline": baseline asserts a real child apparently under 13 with a
#: sexual focus, and category 1 asserts no age. 2 (age difficult) and 3 (CGI/animation, legal or not
#: depending on the national law and on realism) need review. 0 and 4 are not child abuse material.
VICS_US_CATEGORIES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "0": ("non-pertinent", "not_illegal"),
    "1": ("child abuse material (CAM)", "national"),
    "2": ("exploitive / age difficult", ""),
    "3": ("CGI / animation", ""),
    "4": ("comparison images", "not_illegal"),
})

_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9a-f]+")


def map_verdict(scheme: str, classification: str) -> str:
    """Our verdict code for ``classification`` in ``scheme``; ``""`` when unknown or not decidable.

    Only ``vics-us`` (``VICS_US_CATEGORIES``) and ``hotline`` (our own codes, mapped to themselves)
    are known; every other scheme maps to ``""``.
    """
    scheme = scheme.strip().lower()
    code = classification.strip()
    if scheme == SCHEME_VICS_US:
        if not _DIGITS.fullmatch(code) or len(code) > 6:
            return ""
        return VICS_US_CATEGORIES.get(str(int(code)), ("", ""))[1]
    if scheme == SCHEME_HOTLINE:
        return code if code in VERDICTS else ""
    return ""


class InvalidRecord(ValueError):
    """A value a ``HashRecord`` does not accept; ``field`` names the ``HashRecord`` field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def normalise_signal_type(raw: str) -> str:
    """``raw`` lower-cased and stripped, if it is one of ``SIGNAL_TYPES``; else ``InvalidRecord``."""
    if not isinstance(raw, str):
        raise InvalidRecord("signal_type", f"not a string: {_show(raw)}")
    name = raw.strip().lower()
    if name not in SIGNAL_TYPES:
        expected = ", ".join(SIGNAL_TYPES)
        raise InvalidRecord("signal_type", f"unknown signal type {_show(raw)}; expected one of {expected}")
    return name


def normalise_value(signal_type: str, raw: str) -> str:
    """The canonical form of a hash value, or ``InvalidRecord("value", ...)``.

    Hex types: stripped, lower-case, exactly ``HEX_LENGTHS[type]`` hex digits. ``vpdq``: kept as
    given; it must be non-empty, at most ``MAX_VPDQ_CHARS`` characters, printable (a space is; tabs,
    line breaks and other control characters are not) and without surrounding spaces, so that every
    format can carry it unchanged.
    """
    if not isinstance(raw, str):
        raise InvalidRecord("value", f"not a string: {_show(raw)}")
    if signal_type == "vpdq":
        if not raw:
            raise InvalidRecord("value", "empty")
        if len(raw) > MAX_VPDQ_CHARS:
            raise InvalidRecord("value", f"longer than {MAX_VPDQ_CHARS} characters")
        if raw != raw.strip() or not raw.isprintable():
            raise InvalidRecord("value", "surrounding spaces or unprintable characters in a vPDQ value")
        return raw
    length = HEX_LENGTHS[signal_type]
    value = raw.strip().lower()
    if len(value) != length or not _HEX.fullmatch(value):
        raise InvalidRecord("value", f"a {signal_type} hash is {length} hex digits, got {_show(raw)}")
    return value


def _check_text(name: str, raw: str, limit: int) -> str:
    if raw == "":
        return raw
    if not isinstance(raw, str):
        raise InvalidRecord(name, f"not a string: {_show(raw)}")
    text = raw.strip()
    if len(text) > limit:
        raise InvalidRecord(name, f"longer than {limit} characters")
    if not text.isprintable():
        raise InvalidRecord(name, "unprintable characters")
    return text


@dataclass(frozen=True)
class HashRecord:
    """One hash from a list, validated and normalised on construction (else ``InvalidRecord``).

    ``signal_type`` and ``scheme`` are lower-cased; ``classification``, ``scheme`` and ``source_id``
    are stripped, printable and within the hash bank's column sizes (40, 40, 200); ``quality`` is
    0-100 and only for ``pdq``; ``extra`` becomes a read-only copy (string keys and values).
    ``mapped_verdict`` is not derived here: the parsers set it with ``map_verdict``.
    """

    signal_type: str
    value: str
    classification: str = ""
    scheme: str = ""
    mapped_verdict: str = ""
    quality: int | None = None
    source_id: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)  # compared, not hashed

    def __post_init__(self) -> None:
        signal_type = normalise_signal_type(self.signal_type)
        object.__setattr__(self, "signal_type", signal_type)
        object.__setattr__(self, "value", normalise_value(signal_type, self.value))
        object.__setattr__(self, "classification", _check_text("classification", self.classification,
                                                                 MAX_CLASSIFICATION))
        object.__setattr__(self, "scheme", _check_text("scheme", self.scheme, MAX_SCHEME).lower())
        if self.mapped_verdict not in ("", *VERDICTS):
            raise InvalidRecord("mapped_verdict", f"{_show(self.mapped_verdict)} is not one of {', '.join(VERDICTS)}")
        quality = self.quality
        if quality is not None:
            if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
                raise InvalidRecord("quality", f"a quality is a whole number 0-100, got {_show(quality)}")
            if signal_type != "pdq":
                raise InvalidRecord("quality", "only pdq hashes carry a quality")
        object.__setattr__(self, "source_id", _check_text("source_id", self.source_id, MAX_SOURCE_ID))
        extra = self.extra
        for key, value in extra.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidRecord("extra", f"keys and values are strings, got {_show(key)}: {_show(value)}")
        object.__setattr__(self, "extra", MappingProxyType(dict(extra)) if extra else _NO_EXTRA)


_NO_EXTRA: Final[Mapping[str, str]] = MappingProxyType({})


def _trusted(signal_type: str, value: str, classification: str, scheme: str, mapped_verdict: str,
             source_id: str, extra: Mapping[str, str]) -> HashRecord:
    """A ``HashRecord`` from fields the caller has already validated and normalised (the parsers'
    hot path: ``__post_init__`` costs more than the parsing). ``extra`` must be read-only."""
    record = object.__new__(HashRecord)
    record.__dict__.update(
        signal_type=signal_type, value=value, classification=classification, scheme=scheme,
        mapped_verdict=mapped_verdict, quality=None, source_id=source_id, extra=extra,
    )
    return record


@dataclass(frozen=True)
class LineError:
    """A problem at ``line`` (1-based).

    Text formats: the physical line (for a CSV row spanning lines, the line it starts on).
    VICS: the line where the offending Media object starts (the element of ``value``, or the Media
    inside a Case); ``field`` is then a path relative to that Media (``MD5``,
    ``AlternativeHashes[1].HashValue``, ``MediaFiles[0].SHA1``) or, for structural errors, a path
    from the root (``value[3]``, ``value[0].Media[7]``, ``$`` for the document itself).
    """

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: field '{self.field}': {self.message}"


ParseItem = HashRecord | LineError


def _refused(signal_type: str, accept: Collection[str]) -> str:
    if signal_type in SIGNAL_TYPES:
        return f"{signal_type} is a signal type, but not one this list can hold ({', '.join(accept)})"
    if signal_type in _REFERENCE_OTHER_TYPES:
        return f"{signal_type} is a signal type of the hash-exchange tooling, but not a media hash: not held"
    return f"unknown signal type {_show(signal_type)}; expected one of {', '.join(SIGNAL_TYPES)}"
