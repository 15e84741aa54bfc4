"""Signal files: one ``<signal_type> <value>`` per line (the hash-exchange reference format).

No Django here (see ``hotline.lib.hashlists``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import IO, Final

from hotline.lib.hashlists.records import (
    _HEX,
    _NO_EXTRA,
    HEX_LENGTHS,
    MAX_VPDQ_CHARS,
    REFERENCE_SIGNAL_TYPES,
    SCHEME_SIGNAL_FILE,
    SIGNAL_TYPES,
    HashRecord,
    InvalidRecord,
    LineError,
    ParseItem,
    _refused,
    _show,
    _trusted,
    normalise_signal_type,
)

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
