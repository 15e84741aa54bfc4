"""Streaming readers and writers for hash lists: signal files, CSV and Project VIC VICS JSON.

Every parser is a generator of ``HashRecord | LineError``: a bad line or element becomes one
``LineError`` and the valid rest is still yielded, so an import can keep what is good and report
every problem. Nothing is loaded whole: the text formats are read a line at a time (lines are capped,
so even a file without newlines stays in bounded memory), VICS is decoded one element of its
``value`` array at a time (and one Media at a time inside a Case). Writers take any iterable and
write as they go. ``docs/hash-formats.md`` describes the formats, the field mapping and the
category mapping table.

One module per format: ``records`` (the record, signal types, value checks, category mapping),
``signalfile``, ``csvfile``, and VICS JSON in ``jsonstream`` (incremental JSON), ``vics`` (shared
constants), ``vicsread`` and ``vicswrite``. Import the public names from this package.

No Django here: the hash banks (``hotline.hashes``) import records through this package.
"""

from __future__ import annotations

from hotline.lib.hashlists.csvfile import CSV_COLUMNS, MAX_CSV_FIELD, parse_csv, write_csv
from hotline.lib.hashlists.records import (
    HEX_LENGTHS,
    MAX_VPDQ_CHARS,
    REFERENCE_SIGNAL_TYPES,
    SCHEME_CSV,
    SCHEME_HOTLINE,
    SCHEME_SIGNAL_FILE,
    SCHEME_VICS_UK,
    SCHEME_VICS_US,
    SIGNAL_TYPES,
    VERDICTS,
    VICS_NUMBERINGS,
    VICS_US_CATEGORIES,
    HashRecord,
    InvalidRecord,
    LineError,
    ParseItem,
    map_verdict,
    normalise_signal_type,
    normalise_value,
)
from hotline.lib.hashlists.signalfile import MAX_LINE, parse_signal_file, write_signal_file
from hotline.lib.hashlists.vics import VICS_CONTEXT_2, VICS_METADATA_1, VicsInfo
from hotline.lib.hashlists.vicsread import parse_vics
from hotline.lib.hashlists.vicswrite import write_vics

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
