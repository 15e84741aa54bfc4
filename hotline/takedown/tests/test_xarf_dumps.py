"""``xarf.dumps`` writes what ``json.dumps(…, sort_keys=True, indent=1, ensure_ascii=False)`` writes, for any
JSON value (its own encoder for strings, integers, literals, lists and dicts; ``json.dumps`` for the rest)."""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.takedown import xarf

TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(['"', "\\", "\n", "\x00", "é", "\u2028"])
LEAVES = st.none() | st.booleans() | st.integers(-2**70, 2**70) | TEXT
VALUES = st.recursive(LEAVES | st.floats(allow_nan=True), lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(TEXT, inner, max_size=4), max_leaves=30)


def _standard(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False)


@settings(max_examples=1500, deadline=None)
@given(VALUES)
def test_it_writes_what_json_dumps_writes(value: Any) -> None:
    assert xarf.dumps(value) == _standard(value)


class Colour(StrEnum):
    RED = "red"


class Size(IntEnum):
    BIG = 3


@pytest.mark.parametrize("value", [
    [], {}, [[]], [{}], {"a": []}, [Colour.RED, Size.BIG, True, False, None, 1.5],
    (1, "two"), {"b": {"c": [1, {"d": "é"}]}, "a": "x"}, [{"ÿ": 1, "z": 2, "Z": 3, "": 4}],
])
def test_it_writes_the_edges_as_json_dumps_does(value: Any) -> None:
    assert xarf.dumps(value) == _standard(value)


@pytest.mark.parametrize("value", [{1: "a"}, {"a": object()}, [float("inf")]])
def test_what_it_does_not_write_is_json_dumps_own(value: Any) -> None:
    try:
        expected: Any = _standard(value)
    except TypeError as exc:
        expected = type(exc)
    try:
        written: Any = xarf.dumps(value)
    except TypeError as exc:
        written = type(exc)
    assert written == expected
