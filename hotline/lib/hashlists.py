"""Streaming readers and writers for hash lists: signal files, CSV and Project VIC VICS JSON.

Every parser is a generator of ``HashRecord | LineError``: a bad line or element becomes one
``LineError`` and the valid rest is still yielded, so an import can keep what is good and report
every problem. Nothing is loaded whole: the text formats are read a line at a time (lines are capped,
so even a file without newlines stays in bounded memory), VICS is decoded one element of its
``value`` array at a time (and one Media at a time inside a Case). Writers take any iterable and
write as they go. ``docs/hash-formats.md`` describes the formats, the field mapping and the
category mapping table.

No Django here: the hash banks (``hotline.hashes``) import records through this module.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Collection, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import IO, Final

__all__ = [
    "CSV_COLUMNS",
    "HEX_LENGTHS",
    "MAX_CSV_FIELD",
    "MAX_LINE",
    "MAX_VPDQ_CHARS",
    "REFERENCE_SIGNAL_TYPES",
    "SCHEME_CSV",
    "SCHEME_HOTLINE",
    "SCHEME_SIGNAL_FILE",
    "SCHEME_VICS_UK",
    "SCHEME_VICS_US",
    "SIGNAL_TYPES",
    "VERDICTS",
    "VICS_CONTEXT_2",
    "VICS_METADATA_1",
    "VICS_NUMBERINGS",
    "VICS_US_CATEGORIES",
    "HashRecord",
    "InvalidRecord",
    "LineError",
    "ParseItem",
    "VicsInfo",
    "map_verdict",
    "normalise_signal_type",
    "normalise_value",
    "parse_csv",
    "parse_signal_file",
    "parse_vics",
    "write_csv",
    "write_signal_file",
    "write_vics",
]

# ---------------------------------------------------------------------------------------------
# Records, codes and the category mapping
# ---------------------------------------------------------------------------------------------

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

# ---------------------------------------------------------------------------------------------
# Signal files: "<signal_type> <value>" per line
# ---------------------------------------------------------------------------------------------

#: Longest line read whole: "vpdq " + MAX_VPDQ_CHARS and some slack. Longer lines are reported and
#: skipped without being held in memory.
MAX_LINE: Final = MAX_VPDQ_CHARS + 100


def _read_capped(stream: IO[str]) -> tuple[str, bool]:
    """One line of at most ``MAX_LINE`` characters; ``(line, too_long)``. A longer line is read to
    its end in pieces and discarded."""
    line = stream.readline(MAX_LINE)
    if len(line) < MAX_LINE or line.endswith(("\n", "\r")):
        return line, False
    while True:
        rest = stream.readline(MAX_LINE)
        if not rest or rest.endswith(("\n", "\r")):
            return "", True


def parse_signal_file(lines: IO[str], *, every_line_as: str = "",
                      accept: Collection[str] = SIGNAL_TYPES) -> Iterator[ParseItem]:
    """Records from a hash-exchange signal file: one ``<signal_type> <value>`` per line.

    Reads everything the reference file reader (python-threatexchange's local file exchange) reads,
    by its type names (``pdq``, ``video_md5``, ``video_sha256``, ``vpdq``), and our own ``md5``,
    ``sha1``, ``sha256`` lines. Blank lines and lines starting with ``#`` are skipped. The type is
    matched case-insensitively. For the hex types the value is exactly one token (anything after it
    is an error); for ``vpdq`` the value is the rest of the line, as the reference reader takes it,
    because a vPDQ serialisation may contain spaces. Records get ``scheme="signal-file"`` and no
    classification. ``every_line_as`` reads a file without types, as the reference does with its
    ``signal_type`` setting: each line is then a value of that type. A known type outside ``accept``
    (what the caller can store) is an error on its line.
    """
    if every_line_as:
        every_line_as = normalise_signal_type(every_line_as)
    number = 0
    while True:
        try:
            line, too_long = _read_capped(lines)
        except UnicodeDecodeError as exc:
            yield LineError(number + 1, "*", f"not valid text ({exc.reason}); reading stopped")
            return
        if not line and not too_long:
            return
        number += 1
        if too_long:
            yield LineError(number, "value", f"line longer than {MAX_LINE} characters")
            continue
        text = line.strip()
        if not text or text[0] == "#":
            continue
        parts = [every_line_as, text] if every_line_as else text.split(None, 1)
        if len(parts) < 2:
            yield LineError(number, "value", "missing: a line is '<signal_type> <value>'")
            continue
        signal_type, rest = parts[0].lower(), parts[1]
        if signal_type not in accept:
            yield LineError(number, "signal_type", _refused(signal_type, accept))
            continue
        length = HEX_LENGTHS.get(signal_type)
        if length is not None:
            value = rest.lower()
            if len(value) == length and _HEX.fullmatch(value):
                yield _trusted(signal_type, value, "", SCHEME_SIGNAL_FILE, "", "", _NO_EXTRA)
                continue
            if len(rest.split()) > 1:
                yield LineError(number, "value", f"extra text after the value: {_show(rest)}")
                continue
        try:
            yield HashRecord(signal_type, rest, scheme=SCHEME_SIGNAL_FILE)
        except InvalidRecord as exc:
            yield LineError(number, exc.field, exc.message)


def _refused(signal_type: str, accept: Collection[str]) -> str:
    if signal_type in SIGNAL_TYPES:
        return f"{signal_type} is a signal type, but not one this list can hold ({', '.join(accept)})"
    if signal_type in _REFERENCE_OTHER_TYPES:
        return f"{signal_type} is a signal type of the hash-exchange tooling, but not a media hash: not held"
    return f"unknown signal type {_show(signal_type)}; expected one of {', '.join(SIGNAL_TYPES)}"


def write_signal_file(records: Iterable[HashRecord], out: IO[str], *,
                      left_out: dict[str, int] | None = None) -> int:
    """Write ``<signal_type> <value>`` lines that the reference file reader keeps; returns the count.

    Only ``REFERENCE_SIGNAL_TYPES`` are written, by the reference's names, one space between type and
    value, nothing else on the line (only those two fields survive). Records of our other types
    (``md5``, ``sha1``, ``sha256``) have no name there, and the reader would drop such a line
    without a word: they are left out and counted per type in ``left_out`` when given. Use CSV or
    VICS for them.
    """
    count = 0
    for record in records:
        if record.signal_type not in REFERENCE_SIGNAL_TYPES:
            if left_out is not None:
                left_out[record.signal_type] = left_out.get(record.signal_type, 0) + 1
            continue
        out.write(f"{record.signal_type} {record.value}\n")
        count += 1
    return count


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------

CSV_COLUMNS: Final = ("signal_type", "value", "classification", "scheme", "quality", "source_id")
_CSV_META = ("classification", "scheme", "quality", "source_id")
#: Per-cell limit for the csv module (global setting, raised to at least this): a vPDQ fits.
MAX_CSV_FIELD: Final = MAX_VPDQ_CHARS + 1000
_QUALITY = re.compile(r"[0-9]{1,3}")


class _CappedLines:
    """Feeds ``csv.reader`` one physical line at a time, never more than ``MAX_CSV_FIELD`` * 4
    characters; an overlong line is replaced by an empty one and its number remembered."""

    limit: Final = MAX_CSV_FIELD * 4

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.number = 0
        self.overlong: list[int] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(self.limit)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) < self.limit or line.endswith(("\n", "\r")):
            return line
        while True:
            rest = self.stream.readline(self.limit)
            if not rest or rest.endswith(("\n", "\r")):
                break
        self.overlong.append(self.number)
        return "\n"


def _parse_quality(raw: str) -> int | None:
    if not raw:
        return None
    if not _QUALITY.fullmatch(raw):
        raise InvalidRecord("quality", f"a quality is a whole number 0-100, got {_show(raw)}")
    return int(raw)


def parse_csv(text: IO[str], *, accept: Collection[str] = SIGNAL_TYPES) -> Iterator[ParseItem]:
    """Records from a CSV with a header line.

    Either ``signal_type,value`` columns (one record per row) or per-type columns named after the
    signal types (``md5,sha1,sha256,pdq``, also ``video_md5,vpdq``: one record per non-empty cell).
    Optional in both: ``classification, scheme, quality, source_id`` (``quality`` belongs to the
    pdq value of the row). Column names are matched case-insensitively; other columns go to
    ``extra`` under their header name, empty cells omitted. A row without ``scheme`` gets
    ``scheme="csv"``. Open files with ``newline=""`` so quoted line breaks survive. A known type
    outside ``accept`` (what the caller can store) is an error on its line.
    """
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    source = _CappedLines(text)
    reader = csv.reader(source)
    header: list[str] | None = None
    names: list[str] = []
    per_type = False
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            yield LineError(start, "*", f"not valid text ({exc.reason}); reading stopped")
            return
        except csv.Error as exc:
            if reader.line_num <= last_line:
                yield LineError(start, "*", f"not valid CSV ({exc}); reading stopped")
                return
            last_line = reader.line_num
            source.overlong.clear()
            yield LineError(start, "*", f"not valid CSV: {exc}")
            continue
        last_line = reader.line_num
        if source.overlong:
            yield LineError(source.overlong[0], "*", f"line longer than {_CappedLines.limit} characters")
            source.overlong.clear()
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lstrip("\ufeff").strip() for cell in row]
            names = [name.lower() for name in header]
            problem = _check_header(names)
            if problem:
                yield LineError(start, "header", problem)
                return
            per_type = "signal_type" not in names
            continue
        if len(row) > len(header):
            yield LineError(start, "*", f"{len(row)} cells but the header has {len(header)} columns")
            continue
        cells = {names[i]: row[i] for i in range(len(row)) if names[i]}
        extra = {header[i]: row[i] for i in range(len(row))
                 if names[i] and names[i] not in CSV_COLUMNS and names[i] not in SIGNAL_TYPES and row[i] != ""}
        yield from _csv_row(cells, extra, start, per_type, names, accept)


def _check_header(names: list[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            return f"column {_show(name)} appears twice"
        seen.add(name)
    has_pair = "signal_type" in seen and "value" in seen
    type_columns = seen.intersection(SIGNAL_TYPES)
    if has_pair and type_columns:
        return "use either 'signal_type,value' or per-type columns (md5, sha1, sha256, pdq, ...), not both"
    if not has_pair and not type_columns:
        if "signal_type" in seen or "value" in seen:
            return "the columns 'signal_type' and 'value' go together"
        return "the first line must be a header with 'signal_type,value' or per-type columns (md5, sha1, sha256, pdq)"
    return ""


def _csv_row(cells: dict[str, str], extra: dict[str, str], line: int, per_type: bool,
             names: list[str], accept: Collection[str]) -> Iterator[ParseItem]:
    classification = cells.get("classification", "").strip()
    scheme = cells.get("scheme", "").strip() or SCHEME_CSV
    source_id = cells.get("source_id", "").strip()
    mapped = map_verdict(scheme, classification)
    try:
        quality = _parse_quality(cells.get("quality", "").strip())
    except InvalidRecord as exc:
        yield LineError(line, "quality", exc.message)
        return
    if per_type:
        pairs = [(name, cells[name]) for name in names if name in SIGNAL_TYPES and cells.get(name, "").strip()]
        if not pairs:
            yield LineError(line, "*", "no hash in this row")
            return
        if quality is not None and not any(name == "pdq" for name, _ in pairs):
            yield LineError(line, "quality", "a quality but no pdq value in this row")
            return
    else:
        signal_type = cells.get("signal_type", "").strip()
        if not signal_type:
            yield LineError(line, "signal_type", "empty")
            return
        pairs = [(signal_type, cells.get("value", ""))]
    for signal_type, value in pairs:
        column = signal_type if per_type else "value"
        name = signal_type.strip().lower()
        if name in SIGNAL_TYPES and name not in accept:
            yield LineError(line, signal_type if per_type else "signal_type", _refused(name, accept))
            continue
        try:
            yield HashRecord(
                signal_type, value, classification=classification, scheme=scheme, mapped_verdict=mapped,
                quality=quality if (not per_type or signal_type == "pdq") else None,
                source_id=source_id, extra=extra,
            )
        except InvalidRecord as exc:
            yield LineError(line, column if exc.field == "value" else exc.field, exc.message)


def write_csv(records: Iterable[HashRecord], out: IO[str], *, extra_columns: Sequence[str] = ()) -> int:
    """Write ``signal_type,value,classification,scheme,quality,source_id`` plus ``extra_columns``.

    A streaming writer cannot know every ``extra`` key in advance, so only the keys named in
    ``extra_columns`` are written (a missing key is an empty cell); other ``extra`` keys are left
    out. ``mapped_verdict`` is not written: the reader derives it from scheme and classification.
    Cells are written as they are (no spreadsheet-formula escaping, which would change the data).
    Returns the number of records written.
    """
    columns = list(extra_columns)
    lowered = [name.strip().lower() for name in columns]
    if len(set(lowered)) != len(lowered):
        raise ValueError("extra_columns repeats a name")
    clash = [name for name in lowered if not name or name in CSV_COLUMNS or name in SIGNAL_TYPES]
    if clash:
        raise ValueError(f"extra_columns cannot be empty or reuse a standard name: {clash}")
    if any(name != name.strip() for name in columns):
        raise ValueError("extra_columns names cannot have surrounding spaces")
    writer = csv.writer(out)  # CRLF, and fields holding a CR or LF quoted: open files with newline=""
    writer.writerow([*CSV_COLUMNS, *columns])
    count = 0
    for record in records:
        writer.writerow([
            record.signal_type, record.value, record.classification, record.scheme,
            "" if record.quality is None else str(record.quality), record.source_id,
            *(record.extra.get(name, "") for name in columns),
        ])
        count += 1
    return count


# ---------------------------------------------------------------------------------------------
# VICS JSON: an incremental reader
# ---------------------------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_STRUCTURE = re.compile(r'[{}\[\]",]')
_IN_STRING = re.compile(r'["\\\n]')
#: Characters from the error position to the end of the buffer within which a JSON error may just
#: mean "the buffer ends here" (a cut literal like ``tru``, number, or ``\u`` escape).
_TRUNCATION_SLACK = 16


class _Malformed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _TooLarge(Exception):
    pass


class _JsonStream:
    """A sliding text window over a binary JSON stream, with the line number of its position."""

    def __init__(self, binary: IO[bytes], chunk_size: int) -> None:
        self._binary = binary
        self._chunk = max(1, chunk_size)
        self._decoder: codecs.IncrementalDecoder | None = None
        self._head = b""
        self._json = json.JSONDecoder(strict=False)  # lenient: raw tabs/newlines in strings
        self.buf = ""
        self.pos = 0
        self._dropped = 0  # characters before buf[0], already consumed
        self.line = 1
        self.eof = False

    @property
    def offset(self) -> int:
        """Characters consumed since the start of the input."""
        return self._dropped + self.pos

    # -- reading -------------------------------------------------------------------------------

    def _decode(self, data: bytes, final: bool) -> str:
        if self._decoder is None:
            self._head += data
            if len(self._head) < 4 and not final:
                return ""
            head, self._head = self._head, b""
            encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
            self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
            data = head
        return self._decoder.decode(data, final)

    def fill(self, want: int) -> bool:
        """Buffer at least ``want`` more characters if the input has them; False if none came."""
        if self.eof:
            return False
        if self.pos:
            self._dropped += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        parts: list[str] = []
        got = 0
        while got < want and not self.eof:
            data = self._binary.read(max(self._chunk, want - got))
            if not data:
                self.eof = True
                text = self._decode(b"", True)
            else:
                text = self._decode(data, False)
            if text:
                parts.append(text)
                got += len(text)
        if parts:
            self.buf += "".join(parts)
        return got > 0

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """Skip whitespace; the next character, or ``""`` at the end of the input."""
        while True:
            match = _WS.match(self.buf, self.pos)
            end = match.end() if match else self.pos
            self.advance(end)
            if end < len(self.buf):
                return self.buf[end]
            if not self.fill(1):
                return ""

    def take(self) -> None:
        """Consume the character ``peek`` returned."""
        self.pos += 1  # never a newline: peek skipped whitespace

    # -- values ----------------------------------------------------------------------------------

    def _truncated(self, exc: json.JSONDecodeError) -> bool:
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc) - _TRUNCATION_SLACK

    def decode_at(self, limit: int) -> tuple[object, int]:
        """Decode the JSON value at the position (after ``peek``) without consuming it.

        Reads more input while the value is incomplete; ``_TooLarge`` once ``limit`` characters are
        buffered without completing it, ``_Malformed`` when it is not valid JSON.
        """
        while True:
            try:
                value, end = self._json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self.eof and self._truncated(exc):
                    if len(self.buf) - self.pos >= limit:
                        raise _TooLarge from None
                    self.fill(max(self._chunk, len(self.buf) - self.pos))
                    continue
                where = self.line + self.buf.count("\n", self.pos, exc.pos)
                raise _Malformed(f"malformed JSON at line {where}: {exc.msg}") from None
            except RecursionError:
                raise _Malformed("malformed JSON: nested too deeply") from None
            except ValueError as exc:  # e.g. an integer with more digits than Python converts
                raise _Malformed(f"malformed JSON: {exc}") from None
            if end == len(self.buf) and not self.eof and not isinstance(value, dict | list | str):
                self.fill(self._chunk)  # a number at the end of the buffer may go on
                continue
            return value, end

    def decode(self, limit: int) -> object:
        value, end = self.decode_at(limit)
        self.advance(end)
        return value

    def skip(self, depth: int = 0) -> bool:
        """Skip forward to the next ``,`` ``]`` or ``}`` outside strings at nesting 0, without
        consuming it, holding only a window in memory; ``depth`` 1 skips the rest of the object the
        position is in. False if the input ends first.

        Recovery from damage: a raw line break ends a string (a missing quote), and a closing
        bracket that does not match the innermost open one closes the innermost one it matches
        (``[1, 2}`` inside an object ends the object); one that matches none open here belongs to an
        enclosing container and stops the skip.
        """
        i = self.pos
        open_brackets: list[str] = ["{"] * depth
        in_string = False
        while True:
            if i >= len(self.buf):
                self.advance(len(self.buf))
                if not self.fill(self._chunk):
                    return False
                i = self.pos
                continue
            if in_string:
                match = _IN_STRING.search(self.buf, i)
                if match is None:
                    i = len(self.buf)
                    continue
                if match.group() == "\\":
                    if match.end() >= len(self.buf) and not self.eof:
                        self.advance(match.start())
                        self.fill(self._chunk)
                        i = self.pos
                        continue
                    i = match.end() + 1
                else:
                    in_string = False
                    i = match.end()
                continue
            match = _STRUCTURE.search(self.buf, i)
            if match is None:
                i = len(self.buf)
                continue
            char = match.group()
            j = match.start()
            if char == '"':
                in_string = True
            elif char in "{[":
                open_brackets.append(char)
            elif not open_brackets:  # , ] or } at our level
                self.advance(j)
                return True
            elif char != ",":
                opener = "{" if char == "}" else "["
                if opener not in open_brackets:
                    self.advance(j)
                    return True
                while open_brackets.pop() != opener:
                    pass
            i = j + 1


# ---------------------------------------------------------------------------------------------
# VICS JSON: documents, Cases and Media
# ---------------------------------------------------------------------------------------------

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


class _VicsReader:
    def __init__(self, binary: IO[bytes], scheme: str, info: VicsInfo, chunk_size: int, max_element: int,
                 fast_limit: int) -> None:
        self.s = _JsonStream(binary, chunk_size)
        self.given_scheme = scheme
        self.accept: Collection[str] = SIGNAL_TYPES
        self.scheme = ""  # decided by the context URL (which OData puts first), or when Media come first
        self.info = info
        self.max_element = max_element
        self.fast_limit = min(fast_limit, max_element)

    # -- the document ------------------------------------------------------------------------

    def document(self) -> Iterator[ParseItem]:
        s = self.s
        char = s.peek()
        if char != "{":
            yield LineError(s.line, "$", "not a VICS document: it must be a JSON object" if char else "empty document")
            return
        s.take()
        root_line = s.line
        seen_value = False
        first = True
        while True:
            char = s.peek()
            if char == "}":
                s.take()
                break
            if not first:
                if char != ",":
                    yield LineError(s.line, "$", f"expected ',' or '}}' between root keys, found {_show(char)}")
                    return
                s.take()
                char = s.peek()
            first = False
            key_line = s.line
            key = self._key(char)
            if key is None:
                yield LineError(key_line, "$", "expected a key (a string) in the root object")
                return
            if s.peek() != ":":
                yield LineError(s.line, "$", f"expected ':' after the key {_show(key)}")
                return
            s.take()
            char = s.peek()
            if key == "value":
                if char != "[":
                    yield LineError(s.line, "value", "the root 'value' must be an array")
                    return
                seen_value = True
                if not self.scheme:
                    self._decide_scheme("")
                if not (yield from self._value_array()):
                    return
                continue
            try:
                value = s.decode(self.max_element)
            except _TooLarge:
                if not s.skip():
                    yield LineError(key_line, "$", f"document ends inside the root key {_show(key)}")
                    return
                continue
            except _Malformed as exc:
                yield LineError(key_line, key, exc.message)
                return
            self._note_root(key, value)
        if s.peek():
            yield LineError(s.line, "$", "data after the end of the document")
        if not seen_value:
            yield LineError(root_line, "value", "no 'value' array at the root: not a VICS document")
        elif not self.info.version:
            yield LineError(root_line, "@odata.context",
                            "neither '@odata.context' (VICS 2.0) nor 'odata.metadata' (VICS 1.x) at the root")

    def _key(self, char: str) -> str | None:
        if char != '"':
            return None
        try:
            key = self.s.decode(self.max_element)
        except (_Malformed, _TooLarge):
            return None
        return key if isinstance(key, str) else None

    def _note_root(self, key: str, value: object) -> None:
        if key not in ("@odata.context", "odata.metadata") or self.info.version:
            return
        text = value if isinstance(value, str) else ""
        self.info.context = text[:500]
        match = _VERSION_IN_URL.search(text)
        self.info.version = match.group(1) if match else ("2.0" if key == "@odata.context" else "1.x")
        if not self.scheme:
            self._decide_scheme(text)

    def _decide_scheme(self, context: str) -> None:
        self.info.numbering, self.scheme, warning = _numbering_scheme(context, self.given_scheme)
        self.info.scheme = self.scheme
        if warning:
            self.info.warnings.append(warning)

    def _value_array(self) -> Generator[ParseItem, None, bool]:
        s = self.s
        s.take()  # [
        index = 0
        char = s.peek()
        if char == "]":
            s.take()
            return True
        while True:
            where = f"value[{index}]"
            if not char:
                yield LineError(s.line, where, "document ends inside the 'value' array")
                return False
            if not (yield from self._element(where)):
                return False
            index += 1
            self.info.elements = index
            char = s.peek()
            if char == "]":
                s.take()
                return True
            if char != ",":
                yield LineError(s.line, where, f"expected ',' or ']' after this element, found {_show(char)}"
                                if char else "document ends inside the 'value' array")
                return False
            s.take()
            char = s.peek()

    def _element(self, where: str) -> Generator[ParseItem, None, bool]:
        """One element of ``value``: a Media, or a Case whose Media are streamed one by one."""
        s = self.s
        start = s.line
        if s.peek() != "{":
            try:
                s.decode(self.max_element)
            except (_Malformed, _TooLarge):
                yield LineError(start, where, "not a JSON object")
                return s.skip()
            yield LineError(start, where, "not an object (a Case or a Media)")
            return True
        try:
            value, end = s.decode_at(self.fast_limit)
        except (_Malformed, _TooLarge):
            value, end = None, 0
        if isinstance(value, dict) and not isinstance(value.get("Media"), list):
            s.advance(end)
            yield from self._object(value, start, where)
            return True
        # A Case (walked so that every Media gets its own line), too large, or broken.
        return (yield from self._walk(where, start))

    def _walk(self, where: str, start: int) -> Generator[ParseItem, None, bool]:
        """An element too large or too broken to decode at once, one key at a time. Its size is capped
        at ``max_element`` characters as a whole, not per value (a streamed ``Media`` array is not
        counted: each of its Media has the cap of its own)."""
        s = self.s
        begin = s.offset
        s.take()  # {
        fields: dict[str, object] = {}
        streamed = False
        media_chars = 0  # characters of streamed Media arrays
        first = True
        while True:
            used = s.offset - begin - media_chars
            char = s.peek()
            if char == "}":
                s.take()
                break
            problem = ""
            if not first:
                if char != ",":
                    problem = (f"expected ',' or '}}' at line {s.line}, found {_show(char)}" if char
                               else "document ends inside it")
                else:
                    s.take()
                    char = s.peek()
            first = False
            key = None if problem else self._key(char)
            if not problem and key is None:
                problem = f"expected a key (a string) at line {s.line}"
            if key is not None and not problem:
                if s.peek() != ":":
                    problem = f"expected ':' after the key {_show(key)} at line {s.line}"
                else:
                    s.take()
                    char = s.peek()
                    if key == "Media" and char == "[":
                        streamed = True
                        array_begin = s.offset
                        if not (yield from self._media_array(where)):
                            return False
                        media_chars += s.offset - array_begin
                        continue
                    try:
                        fields[key] = s.decode(max(1, self.max_element - used))
                        if s.offset - begin - media_chars <= self.max_element:
                            continue
                        problem = f"larger than {self.max_element} characters (at the value of {_show(key)})"
                    except _TooLarge:
                        problem = f"larger than {self.max_element} characters (at the value of {_show(key)})"
                    except _Malformed as exc:
                        problem = exc.message
            yield LineError(start, where, f"{problem}; element skipped")
            if not s.skip(1):
                yield LineError(s.line, where, "document ends inside this element")
                return False
            return True
        if not streamed:
            yield from self._object(fields, start, where)
        return True

    def _media_array(self, where: str) -> Generator[ParseItem, None, bool]:
        s = self.s
        s.take()  # [
        index = 0
        char = s.peek()
        if char == "]":
            s.take()
            return True
        while True:
            line = s.line
            here = f"{where}.Media[{index}]"
            if not char:
                yield LineError(line, here, "document ends inside the Media array")
                return False
            try:
                media = s.decode(self.max_element)
            except (_Malformed, _TooLarge) as exc:
                message = exc.message if isinstance(exc, _Malformed) else f"larger than {self.max_element} characters"
                yield LineError(line, here, f"{message}; Media skipped")
                if not s.skip():
                    yield LineError(s.line, here, "document ends inside this Media")
                    return False
            else:
                if isinstance(media, dict):
                    yield from self._media(media, line)
                else:
                    yield LineError(line, here, "a Media is a JSON object")
            index += 1
            char = s.peek()
            if char == "]":
                s.take()
                return True
            if char != ",":
                yield LineError(s.line, here, f"expected ',' or ']' after this Media, found {_show(char)}"
                                if char else "document ends inside the Media array")
                return False
            s.take()
            char = s.peek()

    def _object(self, value: dict[str, object], line: int, where: str) -> Iterator[ParseItem]:
        """A decoded element: a Media, or a Case without a streamable Media array."""
        if "Media" in value:  # a Case; a streamable Media array never gets here (see _walk)
            if value["Media"] is not None and not isinstance(value["Media"], list):
                yield LineError(line, f"{where}.Media", "a Case's Media is an array")
            return
        if value.keys() & _MEDIA_MARKERS:
            yield from self._media(value, line)
        elif not value.keys() & {"CaseID", "CaseNumber", "SourceApplicationName"}:
            yield LineError(line, where, "neither a Case (with Media) nor a Media (with hashes)")

    # -- one Media ---------------------------------------------------------------------------

    def _media(self, media: dict[str, object], line: int) -> Iterator[ParseItem]:
        self.info.media += 1
        source_id = ""
        if media.get("MediaID") is not None:
            text = _scalar_text(media["MediaID"])
            if text is None:
                yield LineError(line, "MediaID", f"not a number or string: {_show(media['MediaID'])}; Media skipped")
                return
            source_id = text
        classification = ""
        if media.get("Category") is not None:
            text = _scalar_text(media["Category"])
            if text is None:
                yield LineError(line, "Category", f"not a number or string: {_show(media['Category'])}; Media skipped")
                return
            classification = text
        extra: dict[str, str] = {}
        for key, raw in media.items():
            if key in _MEDIA_HASH_KEYS or raw is None:
                continue
            extra[key] = _boolean(raw) if key in _VICS_BOOLEANS else _stringify(raw)
        found: list[tuple[str, str, str]] = []  # (signal type, raw value, field path)
        problems: list[LineError] = []
        self._hashes(media, "", found, extra, problems, line)
        files = media.get("MediaFiles")
        if isinstance(files, list):
            for index, item in enumerate(files):
                if isinstance(item, dict):
                    self._hashes(item, f"MediaFiles[{index}].", found, extra, problems, line)
                elif item is not None:
                    problems.append(LineError(line, f"MediaFiles[{index}]", "a MediaFile is a JSON object"))
        elif files is not None:
            problems.append(LineError(line, "MediaFiles", "MediaFiles is an array"))
        yield from problems
        try:
            classification = _check_text("classification", classification, MAX_CLASSIFICATION)
            source_id = _check_text("source_id", source_id, MAX_SOURCE_ID)
        except InvalidRecord as exc:
            field_name = "Category" if exc.field == "classification" else "MediaID"
            yield LineError(line, field_name, f"{exc.message}; Media skipped")
            return
        mapped = map_verdict(self.scheme, classification)
        frozen_extra = MappingProxyType(extra) if extra else _NO_EXTRA
        seen: set[tuple[str, str]] = set()
        for signal_type, raw, path in found:
            if signal_type not in self.accept:
                yield LineError(line, path, _refused(signal_type, self.accept))
                continue
            try:
                value = normalise_value(signal_type, raw)
            except InvalidRecord as exc:
                yield LineError(line, path, exc.message)
                continue
            if (signal_type, value) in seen:
                continue
            seen.add((signal_type, value))
            yield _trusted(signal_type, value, classification, self.scheme, mapped, source_id, frozen_extra)

    def _hashes(self, obj: dict[str, object], prefix: str, found: list[tuple[str, str, str]],
                extra: dict[str, str], problems: list[LineError], line: int) -> None:
        for key, signal_type in (("MD5", "md5"), ("SHA1", "sha1")):
            raw = obj.get(key)
            if raw is None or raw == "":
                continue
            if isinstance(raw, str):
                found.append((signal_type, raw, prefix + key))
            else:
                problems.append(LineError(line, prefix + key, f"not a string: {_show(raw)}"))
        alternatives = obj.get("AlternativeHashes")
        if alternatives is None:
            return
        if not isinstance(alternatives, list):
            problems.append(LineError(line, prefix + "AlternativeHashes", "AlternativeHashes is an array"))
            return
        for index, item in enumerate(alternatives):
            path = f"{prefix}AlternativeHashes[{index}]"
            if not isinstance(item, dict):
                problems.append(LineError(line, path, "an alternative hash is an object {HashName, HashValue}"))
                continue
            name, value = item.get("HashName"), item.get("HashValue")
            if not isinstance(name, str) or not name.strip():
                problems.append(LineError(line, path + ".HashName", f"missing or not a string: {_show(name)}"))
                continue
            if value is None or value == "":
                continue
            signal_type = _hash_name(name)
            if not signal_type:  # PhotoDNA and anything else we do not match on: kept, not an error
                extra.setdefault(_ALT_PREFIX + name.strip(), _stringify(value))
            elif isinstance(value, str):
                found.append((signal_type, value, path + ".HashValue"))
            else:
                problems.append(LineError(line, path + ".HashValue", f"not a string: {_show(value)}"))


def parse_vics(
    binary: IO[bytes],
    *,
    scheme: str = "",
    info: VicsInfo | None = None,
    chunk_size: int = 1 << 16,
    max_element: int = 16 << 20,
    accept: Collection[str] = SIGNAL_TYPES,
) -> Iterator[ParseItem]:
    """Records from a Project VIC VICS JSON document (1.x ``odata.metadata`` or 2.0
    ``@odata.context``; ``value`` holding Cases with ``Media`` arrays, or Media directly).

    One record per distinct hash of a Media: ``MD5``, ``SHA1``, the ``AlternativeHashes`` we know
    (SHA256, PDQ, ...) and the ``MD5``/``SHA1``/``AlternativeHashes`` of each ``MediaFiles`` entry.
    ``classification`` is ``str(Category)`` in the numbering the context URL names
    (``.../2.0.xml/US/$metadata``: ``vics-us``; ``UK``: ``vics-uk``; ``CUSTOM``: ``vics-custom``; see
    ``VICS_NUMBERINGS``); only US codes are mapped to verdicts. ``scheme`` names the numbering of a
    document whose URL names none or an unknown one; without it such categories are kept under
    ``vics`` or ``vics-<name>``, unmapped, with a warning in ``info.warnings``. ``source_id`` is
    ``str(MediaID)``; the other Media fields go to ``extra`` as
    text (booleans normalised to ``true``/``false``, lists and objects as compact JSON, unknown
    alternative hashes such as PhotoDNA as ``AlternativeHashes.<HashName>``: kept, never matched).
    Case fields (IDs, contacts) are not copied.

    Streaming: the input is read in ``chunk_size`` pieces and decoded one element at a time, so
    memory depends on the largest element, not the document; one Media or root value larger than
    ``max_element`` characters is reported and skipped. A malformed element is one ``LineError`` at
    the line it starts on, then the reader skips to the next element; when it cannot, it stops
    with one more error. ``info`` (optional) receives the version, numbering, counts and warnings.
    A known hash type outside ``accept`` (what the caller can store) is an error at its path.
    """
    scheme = _check_text("scheme", scheme, MAX_SCHEME).lower() if scheme else ""
    reader = _VicsReader(binary, scheme, info if info is not None else VicsInfo(),
                         chunk_size, max_element, fast_limit=1 << 16)
    reader.accept = accept
    yield from reader.document()


# ---------------------------------------------------------------------------------------------
# VICS JSON: writer
# ---------------------------------------------------------------------------------------------


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
