"""Guards for hostile text before it reaches a parser or a database column.

* PostgreSQL ``text`` and ``jsonb`` refuse U+0000 (the whole statement fails, and with it a batch),
  and UTF-8 cannot hold an unpaired surrogate: :func:`text_problem` names either, so an importer can
  refuse the one field and keep the rest.
* A JSON document nested a hundred thousand levels deep makes a recursive parser (and every walker of
  its result) blow the stack: :func:`loads` counts the nesting in one flat pass first and refuses the
  document at the line and column where it goes deeper than ``max_depth``.
* Random bytes handed in as CSV: :func:`csv_header_problem` says why the first line is no header.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JsonTooDeep", "csv_header_problem", "json_depth_problem", "loads", "text_problem"]

MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# Control characters no text file has (tab, line feed, carriage return and form feed are fine).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


class JsonTooDeep(ValueError):
    """The document nests deeper than allowed; the message names the line and column."""


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (NUL or an unpaired surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character (U+0000), which cannot be stored"
    if _SURROGATE.search(value):
        return "contains an unpaired surrogate, which is not UTF-8"
    return None


def _line_column(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def json_depth_problem(text: str, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Where ``text`` nests arrays/objects deeper than ``max_depth`` (one pass, no recursion), or None.

    Unbalanced or broken documents are left to the parser, which names its own error.
    """
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        piece = match[0]
        if piece in ("[", "{"):
            depth += 1
            if depth > max_depth:
                line, column = _line_column(text, match.start())
                return f"nested deeper than {max_depth} levels (line {line} column {column})"
        elif piece in ("]", "}"):
            depth -= 1
    return None


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses a too-deep document (:class:`JsonTooDeep`) before parsing it."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8-sig")
    problem = json_depth_problem(text, max_depth)
    if problem is not None:
        raise JsonTooDeep(problem)
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise JsonTooDeep(f"nested deeper than {max_depth} levels") from None


def csv_header_problem(header: str) -> str | None:
    """Why the first line of a file cannot be a CSV header (binary or undecodable), or None."""
    if "\ufffd" in header:
        return "line 1: not UTF-8 text"
    control = _CONTROL.search(header)
    if control is not None:
        return f"line 1: control character U+{ord(control[0]):04X} at column {control.start() + 1}"
    if _SURROGATE.search(header):
        return "line 1: not UTF-8 text"
    return None
