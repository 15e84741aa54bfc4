"""Hash-list formats: signal files, CSV and VICS JSON, parsed and written as streams.

Every hash here is random or synthetic (``random.Random`` with a fixed seed, or repeated digits);
none comes from a real list and no classification refers to real material.
"""

from __future__ import annotations

import io
import json
import random
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.lib.hashlists import (
    HEX_LENGTHS,
    MAX_LINE,
    REFERENCE_SIGNAL_TYPES,
    SIGNAL_TYPES,
    HashRecord,
    InvalidRecord,
    LineError,
    ParseItem,
    VicsInfo,
    map_verdict,
    parse_csv,
    parse_signal_file,
    parse_vics,
    write_csv,
    write_signal_file,
    write_vics,
)

RNG = random.Random(20240611)


def hexdigits(n: int, rng: random.Random = RNG) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


MD5_A, MD5_B, MD5_C, MD5_D = (hexdigits(32) for _ in range(4))
SHA1_A, SHA1_B = hexdigits(40), hexdigits(40)
SHA256_A = hexdigits(64)
PDQ_A, PDQ_B = hexdigits(64), hexdigits(64)


def records(items: Iterable[ParseItem]) -> list[HashRecord]:
    return [item for item in items if isinstance(item, HashRecord)]


def errors(items: Iterable[ParseItem]) -> list[LineError]:
    return [item for item in items if isinstance(item, LineError)]


def text(data: str) -> io.StringIO:
    return io.StringIO(data, newline="")


# ---------------------------------------------------------------------------------------------
# Records and the category mapping
# ---------------------------------------------------------------------------------------------


def test_it_normalises_a_record_and_keeps_it_read_only() -> None:
    record = HashRecord(" PDQ ", PDQ_A.upper(), classification=" 1 ", scheme="VICS-US", quality=90,
                        source_id=" 17 ", extra={"Series": "s"})
    assert (record.signal_type, record.value, record.classification, record.scheme, record.source_id) == (
        "pdq", PDQ_A, "1", "vics-us", "17")
    with pytest.raises(TypeError):
        record.extra["Series"] = "other"  # type: ignore[index]
    assert HashRecord("vpdq", "frame 1, 2").value == "frame 1, 2"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"signal_type": "photodna", "value": "00"}, "signal_type"),
    ({"signal_type": "md5", "value": MD5_A[:-1]}, "value"),
    ({"signal_type": "sha1", "value": "g" * 40}, "value"),
    ({"signal_type": "sha256", "value": SHA1_A}, "value"),
    ({"signal_type": "vpdq", "value": ""}, "value"),
    ({"signal_type": "vpdq", "value": " padded"}, "value"),
    ({"signal_type": "vpdq", "value": "two\nlines"}, "value"),
    ({"signal_type": "vpdq", "value": "x" * 100_001}, "value"),
    ({"signal_type": "md5", "value": MD5_A, "quality": 80}, "quality"),
    ({"signal_type": "pdq", "value": PDQ_A, "quality": 101}, "quality"),
    ({"signal_type": "md5", "value": MD5_A, "mapped_verdict": "illegal"}, "mapped_verdict"),
    ({"signal_type": "md5", "value": MD5_A, "classification": "x" * 41}, "classification"),
    ({"signal_type": "md5", "value": MD5_A, "source_id": "a\tb"}, "source_id"),
])
def test_it_refuses_invalid_records_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        HashRecord(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(("scheme", "code", "verdict"), [
    ("vics-us", "0", "not_illegal"),
    ("vics-us", "1", "national"),  # CAM asserts no age: never "baseline"
    ("vics-us", "01", "national"),
    ("vics-us", "2", ""),  # age difficult: an analyst decides
    ("vics-us", "3", ""),  # CGI / animation: depends on national law
    ("vics-us", "4", "not_illegal"),
    ("vics-us", "5", ""),
    ("vics-us", "", ""),
    ("vics-us", "A1", ""),
    ("VICS-US", " 1 ", "national"),
    ("uk-abc", "1", ""),  # another numbering: unknown, not guessed
    ("hotline", "baseline", "baseline"),
    ("hotline", "national", "national"),
    ("hotline", "unreachable", ""),
    ("csv", "1", ""),
])
def test_it_maps_categories_conservatively(scheme: str, code: str, verdict: str) -> None:
    assert map_verdict(scheme, code) == verdict


# ---------------------------------------------------------------------------------------------
# Signal files
# ---------------------------------------------------------------------------------------------


def test_it_parses_a_signal_file() -> None:
    data = (
        "# exported from a synthetic test bank\n"
        "\n"
        f"pdq {PDQ_A}\n"
        f"MD5   {MD5_A.upper()}\r\n"
        f"video_md5\t{MD5_B}\n"
        f"sha256 {SHA256_A}\n"
        f"sha1 {SHA1_A}\n"
        '   vpdq {"0": {"quality": 100, "hash": "00ff"}}  \n'
        f"pdq {PDQ_B}"  # no final newline
    )
    items = list(parse_signal_file(text(data)))
    assert errors(items) == []
    assert [(r.signal_type, r.value) for r in records(items)] == [
        ("pdq", PDQ_A), ("md5", MD5_A), ("video_md5", MD5_B), ("sha256", SHA256_A), ("sha1", SHA1_A),
        ("vpdq", '{"0": {"quality": 100, "hash": "00ff"}}'), ("pdq", PDQ_B),
    ]
    assert {(r.scheme, r.classification, r.mapped_verdict) for r in records(items)} == {("signal-file", "", "")}


def test_it_reports_bad_signal_lines_by_number_and_keeps_the_rest() -> None:
    data = "\n".join([
        f"pdq {PDQ_A}",  # 1
        f"photodna {PDQ_A}",  # 2 unknown type
        f"md5 {MD5_A[:-2]}",  # 3 too short
        f"md5 {MD5_B} trailing",  # 4 an extra token
        "sha1",  # 5 no value
        "# a comment",  # 6
        f"sha1 {SHA1_A}",  # 7
        f"md5 {MD5_C}",  # 8
    ]) + "\n"
    items = list(parse_signal_file(text(data)))
    assert [(e.line, e.field) for e in errors(items)] == [(2, "signal_type"), (3, "value"), (4, "value"), (5, "value")]
    assert [r.value for r in records(items)] == [PDQ_A, SHA1_A, MD5_C]
    assert "extra text" in errors(items)[2].message


def test_it_reports_an_overlong_line_without_holding_it() -> None:
    data = f"md5 {MD5_A}\n" + "vpdq " + "x" * (MAX_LINE * 3) + "\n" + f"md5 {MD5_B}\n"
    items = list(parse_signal_file(text(data)))
    assert [(e.line, e.field) for e in errors(items)] == [(2, "value")]
    assert [r.value for r in records(items)] == [MD5_A, MD5_B]


def test_it_stops_with_one_error_on_undecodable_text() -> None:
    binary = io.BytesIO(f"md5 {MD5_A}\n".encode() + b"md5 \xff\xfe\n" * 5000)
    items = list(parse_signal_file(io.TextIOWrapper(binary, encoding="utf-8")))
    assert len(errors(items)) == 1
    assert "not valid text" in errors(items)[0].message


def test_it_writes_a_signal_file_the_parser_reads_back() -> None:
    originals = [HashRecord("pdq", PDQ_A, quality=70), HashRecord("video_sha256", SHA256_A),
                 HashRecord("vpdq", "a b  c")]
    out = io.StringIO()
    assert write_signal_file(iter(originals), out) == 3
    assert out.getvalue() == f"pdq {PDQ_A}\nvideo_sha256 {SHA256_A}\nvpdq a b  c\n"
    back = list(parse_signal_file(text(out.getvalue())))
    assert [(r.signal_type, r.value) for r in records(back)] == [(r.signal_type, r.value) for r in originals]


def test_it_leaves_out_and_counts_the_types_the_reference_reader_would_drop() -> None:
    left_out: dict[str, int] = {}
    out = io.StringIO()
    written = write_signal_file([HashRecord("md5", MD5_A), HashRecord("pdq", PDQ_A), HashRecord("sha256", SHA256_A),
                                 HashRecord("sha1", SHA1_A), HashRecord("md5", MD5_B)], out, left_out=left_out)
    assert (written, out.getvalue(), left_out) == (1, f"pdq {PDQ_A}\n", {"md5": 2, "sha256": 1, "sha1": 1})


def test_it_reads_our_own_md5_lines_and_refuses_a_type_the_caller_cannot_hold() -> None:
    data = f"md5 {MD5_A}\nvideo_sha256 {SHA256_A}\nurl http://a.example/\nsha512 {SHA256_A}\n"
    items = list(parse_signal_file(text(data), accept=("md5", "pdq")))
    assert [(r.signal_type, r.value) for r in records(items)] == [("md5", MD5_A)]
    assert [(e.line, e.field) for e in errors(items)] == [(2, "signal_type"), (3, "signal_type"), (4, "signal_type")]
    assert "not one this list can hold" in errors(items)[0].message
    assert "not a media hash" in errors(items)[1].message and "unknown" in errors(items)[2].message


def test_it_reads_a_file_without_types_as_one_type_when_told() -> None:
    items = list(parse_signal_file(text(f"{PDQ_A}\n\n{PDQ_B.upper()}\nnot-hex\n"), every_line_as="pdq"))
    assert [r.value for r in records(items)] == [PDQ_A, PDQ_B]
    assert [(e.line, e.field) for e in errors(items)] == [(4, "value")]


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def test_it_parses_a_csv_with_signal_type_and_value_columns() -> None:
    data = (
        "\ufeffSignal_Type,Value,Classification,Scheme,Quality,Source_ID,Series\r\n"
        f"pdq,{PDQ_A.upper()},1,vics-us,88,m-1,synthetic series\r\n"
        f"md5,{MD5_A},baseline,hotline,,m-2,\r\n"
        f"sha1,{SHA1_A},,,,,\r\n"
        ",,,,,,\r\n"  # an empty row is skipped
    )
    got = records(parse_csv(text(data)))
    assert got == [
        HashRecord("pdq", PDQ_A, "1", "vics-us", "national", 88, "m-1", {"Series": "synthetic series"}),
        HashRecord("md5", MD5_A, "baseline", "hotline", "baseline", None, "m-2"),
        HashRecord("sha1", SHA1_A, "", "csv"),
    ]


def test_it_parses_per_type_columns_one_record_per_cell() -> None:
    data = (
        "md5,sha1,sha256,pdq,quality,classification,scheme,note\n"
        f"{MD5_A},{SHA1_A},,{PDQ_A},77,4,vics-us,n1\n"
        f",,{SHA256_A},,,,,\n"
    )
    got = records(parse_csv(text(data)))
    assert [(r.signal_type, r.value, r.quality, r.mapped_verdict, dict(r.extra)) for r in got] == [
        ("md5", MD5_A, None, "not_illegal", {"note": "n1"}),
        ("sha1", SHA1_A, None, "not_illegal", {"note": "n1"}),
        ("pdq", PDQ_A, 77, "not_illegal", {"note": "n1"}),
        ("sha256", SHA256_A, None, "", {}),
    ]


def test_it_reports_csv_errors_by_line_and_column_and_keeps_the_rest() -> None:
    data = (
        "md5,pdq,quality,comment\n"  # 1
        f"{MD5_A},{PDQ_A},high,\n"  # 2 bad quality
        f"{MD5_B[:-1]},,,\n"  # 3 bad md5
        f'{MD5_C},,,"a comment\nover two lines"\n'  # 4-5 good, spans two lines
        f"{MD5_D},{PDQ_B[:10]},,\n"  # 6 good md5, bad pdq
        ",,,only a comment\n"  # 7 no hash
        f"{MD5_A},,,,surplus\n"  # 8 too many cells
        f"{MD5_B},,50,\n"  # 9 a quality without pdq
        f"{MD5_A},{PDQ_B},50,\n"  # 10 good
    )
    items = list(parse_csv(text(data)))
    assert [(e.line, e.field) for e in errors(items)] == [
        (2, "quality"), (3, "md5"), (6, "pdq"), (7, "*"), (8, "*"), (9, "quality")]
    assert [(r.signal_type, r.value) for r in records(items)] == [
        ("md5", MD5_C), ("md5", MD5_D), ("md5", MD5_A), ("pdq", PDQ_B)]
    assert records(items)[0].extra == {"comment": "a comment\nover two lines"}


@pytest.mark.parametrize("header", [
    "hash,kind", "signal_type,classification", "signal_type,value,md5", "md5,MD5", "",
])
def test_it_rejects_a_csv_without_a_usable_header(header: str) -> None:
    items = list(parse_csv(text(header + "\n" + f"{MD5_A},x\n")))
    if not header:  # the first non-empty line is the header
        assert [e.field for e in errors(items)] == ["header"]
    else:
        assert [(e.line, e.field) for e in errors(items)] == [(1, "header")]
    assert records(items) == []


def test_it_writes_a_csv_the_parser_reads_back() -> None:
    originals = [
        HashRecord("pdq", PDQ_A, "1", "vics-us", "national", 64, "m,1", {"Series": 'a "quoted", one'}),
        HashRecord("md5", MD5_A, "national", "hotline", "national", extra={"Series": "line\r\nbreak", "x": "y"}),
    ]
    out = io.StringIO(newline="")
    assert write_csv(iter(originals), out, extra_columns=["Series"]) == 2
    back = records(parse_csv(text(out.getvalue())))
    assert back[0] == originals[0]
    assert back[1] == HashRecord("md5", MD5_A, "national", "hotline", "national", extra={"Series": "line\r\nbreak"})
    with pytest.raises(ValueError, match="standard name"):
        write_csv([], io.StringIO(), extra_columns=["Quality"])


# ---------------------------------------------------------------------------------------------
# VICS
# ---------------------------------------------------------------------------------------------

VICS_1_CASES = f"""{{
  "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml/US/$metadata#Cases",
  "value": [
    {{
      "CaseID": 4711,
      "CaseNumber": "TEST-1",
      "ContactName": "Synthetic Contact",
      "ContactEmail": "nobody@example.invalid",
      "SourceApplicationName": "test generator",
      "Media": [
        {{
          "MediaID": 1,
          "Category": 1,
          "MD5": "{MD5_A.upper()}",
          "SHA1": "{SHA1_A}",
          "PhotoDNA": "c3ludGhldGlj",
          "MediaSize": 2048,
          "MimeType": "image/png",
          "IsDistributed": "True",
          "VictimIdentified": "false",
          "SelfGenerated": "1",
          "IsPrecategorized": true,
          "Series": "gradient set",
          "Tags": ["synthetic", "test"],
          "AlternativeHashes": [
            {{"HashName": "SHA256", "HashValue": "{SHA256_A}"}},
            {{"HashName": "pdq", "HashValue": "{PDQ_A}"}},
            {{"HashName": "PhotoDNA", "HashValue": "c3ludGhldGlj"}}
          ],
          "MediaFiles": [
            {{"MD5": "{MD5_B}", "RelativeFilePath": "a/b.png"}},
            {{"MD5": "{MD5_A}", "SHA1": "{SHA1_B}"}}
          ]
        }},
        {{
          "MediaID": "2",
          "Category": "3",
          "MD5": "{MD5_C}"
        }}
      ]
    }}
  ]
}}
"""


def test_it_parses_a_vics_1x_cases_document() -> None:
    info = VicsInfo()
    items = list(parse_vics(io.BytesIO(VICS_1_CASES.encode()), info=info))
    assert errors(items) == []
    got = records(items)
    assert [(r.signal_type, r.value, r.source_id, r.classification, r.mapped_verdict) for r in got] == [
        ("md5", MD5_A, "1", "1", "national"),
        ("sha1", SHA1_A, "1", "1", "national"),
        ("sha256", SHA256_A, "1", "1", "national"),
        ("pdq", PDQ_A, "1", "1", "national"),
        ("md5", MD5_B, "1", "1", "national"),  # from MediaFiles; MD5_A again is not repeated
        ("sha1", SHA1_B, "1", "1", "national"),
        ("md5", MD5_C, "2", "3", ""),
    ]
    assert all(r.scheme == "vics-us" for r in got)
    assert dict(got[0].extra) == {
        "PhotoDNA": "c3ludGhldGlj", "MediaSize": "2048", "MimeType": "image/png", "IsDistributed": "true",
        "VictimIdentified": "false", "SelfGenerated": "true", "IsPrecategorized": "true",
        "Series": "gradient set", "Tags": '["synthetic","test"]', "AlternativeHashes.PhotoDNA": "c3ludGhldGlj",
    }
    assert not any("Contact" in key or "Case" in key for r in got for key in r.extra)  # no case or contact data
    assert (info.version, info.elements, info.media) == ("1.2", 1, 2)


def vics_2(media: Iterable[dict[str, object] | str], context_key: str = "@odata.context") -> str:
    """A 2.0 Media-form document, one Media per line from line 3 (strings are put in verbatim)."""
    parts = [m if isinstance(m, str) else json.dumps(m) for m in media]
    return (f'{{"{context_key}": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",\n'
            '"value": [\n' + ",\n".join(parts) + "\n]}\n")


def test_it_parses_a_vics_2_media_document_with_string_booleans() -> None:
    document = vics_2([
        {"MediaID": 10, "Category": "0", "MD5": MD5_A, "IsSuspected": "TRUE", "OffenderIdentified": 0,
         "DateUpdated": "2024-01-02T03:04:05Z", "Comments": None},
        {"MediaID": 11, "Category": 4, "SHA1": SHA1_A, "MD5": "",
         "AlternativeHashes": [{"HashName": "SHA-256", "HashValue": SHA256_A.upper()},
                               {"HashName": "MyHash", "HashValue": 42}],
         "MediaFiles": [{"AlternativeHashes": [{"HashName": "PDQ", "HashValue": PDQ_B}]}]},
        {"MediaID": 12, "Category": 2, "MD5": MD5_B},
    ])
    info = VicsInfo()
    items = list(parse_vics(io.BytesIO(document.encode()), info=info))
    assert errors(items) == []
    got = records(items)
    assert [(r.signal_type, r.value, r.classification, r.mapped_verdict) for r in got] == [
        ("md5", MD5_A, "0", "not_illegal"), ("sha1", SHA1_A, "4", "not_illegal"),
        ("sha256", SHA256_A, "4", "not_illegal"), ("pdq", PDQ_B, "4", "not_illegal"), ("md5", MD5_B, "2", ""),
    ]
    assert dict(got[0].extra) == {"IsSuspected": "true", "OffenderIdentified": "false",
                                  "DateUpdated": "2024-01-02T03:04:05Z"}
    assert dict(got[1].extra) == {"AlternativeHashes.MyHash": "42"}
    assert (info.version, info.elements, info.media) == ("2.0", 3, 3)


def test_it_takes_another_category_scheme_when_told_and_the_document_names_none() -> None:
    document = vics_2([{"MediaID": 1, "Category": 1, "MD5": MD5_A}]).replace("/US/$metadata", "/$metadata")
    info = VicsInfo()
    (record,) = records(parse_vics(io.BytesIO(document.encode()), scheme="vics-xx", info=info))
    assert (record.classification, record.scheme, record.mapped_verdict) == ("1", "vics-xx", "")
    assert (info.numbering, info.scheme, info.warnings) == ("", "vics-xx", [])


def test_it_keeps_the_media_after_a_broken_one_in_a_media_document() -> None:
    document = vics_2([
        {"MediaID": 1, "Category": 1, "MD5": MD5_A},  # line 3
        '{"MediaID": 2, "Category": 1, "MD5": "' + MD5_B + '" "SHA1": "broken"}',  # line 4: a missing comma
        '{"MediaID": 3, "Category": 1, "MD5": [1, 2}',  # line 5: a bracket that does not close
        {"MediaID": 4, "Category": 1, "MD5": MD5_C},  # line 6
        '17',  # line 7: not an object
        {"MediaID": 5, "Category": 1, "MD5": MD5_D, "SHA1": "not hex"},  # line 8: a bad value, the rest kept
    ])
    items = list(parse_vics(io.BytesIO(document.encode())))
    assert [(e.line, e.field) for e in errors(items)] == [(4, "value[1]"), (5, "value[2]"), (7, "value[4]"),
                                                         (8, "SHA1")]
    assert [(r.source_id, r.value) for r in records(items)] == [("1", MD5_A), ("4", MD5_C), ("5", MD5_D)]


def test_it_keeps_the_media_after_a_broken_one_inside_a_case() -> None:
    lines = [
        '{"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml/US/$metadata#Cases",',  # 1
        ' "value": [{"CaseID": 1, "Media": [',  # 2
        json.dumps({"MediaID": 1, "Category": 1, "MD5": MD5_A}) + ",",  # 3
        '{"MediaID": 2, "Category": 1, "MD5": tru},',  # 4 malformed
        json.dumps({"MediaID": 3, "Category": 1, "MD5": MD5_B}) + ",",  # 5
        '{"MediaID": 4, "Category": ["1"], "MD5": "' + MD5_C + '"},',  # 6 a category of the wrong type
        json.dumps({"MediaID": 5, "Category": 2, "MD5": MD5_D}),  # 7
        "]}]}",  # 8
    ]
    items = list(parse_vics(io.BytesIO("\n".join(lines).encode())))
    assert [(e.line, e.field) for e in errors(items)] == [(4, "value[0].Media[1]"), (6, "Category")]
    assert [(r.source_id, r.value) for r in records(items)] == [("1", MD5_A), ("3", MD5_B), ("5", MD5_D)]


@pytest.mark.parametrize(("document", "expected"), [
    (b"", [(1, "$")]),
    (b"  \n [1, 2]", [(2, "$")]),
    (b'{"@odata.context": "x", "values": []}', [(1, "value")]),
    (b'{"@odata.context": "x",\n "value": {"MediaID": 1}}', [(2, "value")]),
    (b'{"value": []}', [(1, "@odata.context")]),
    (b'{"@odata.context": "x", "value": [] } trailing', [(1, "$")]),
    (b'{"@odata.context": "x", "value": [\n' + json.dumps({"MD5": MD5_A}).encode(), [(2, "value[0]")]),
    (b'{"@odata.context": "x", "value": [{}]}', [(1, "value[0]")]),
])
def test_it_reports_a_document_level_problem_once(document: bytes, expected: list[tuple[int, str]]) -> None:
    items = list(parse_vics(io.BytesIO(document)))
    assert [(e.line, e.field) for e in errors(items)] == expected


def test_it_reads_utf8_with_a_bom_and_utf16() -> None:
    document = vics_2([{"MediaID": 1, "Category": 1, "MD5": MD5_A, "Comments": "café ✓"}])
    for encoded in (b"\xef\xbb\xbf" + document.encode(), document.encode("utf-16")):
        (record,) = records(parse_vics(io.BytesIO(encoded)))
        assert record.extra["Comments"] == "café ✓"


def test_it_skips_an_oversized_media_and_reads_on() -> None:
    document = vics_2([
        {"MediaID": 1, "MD5": MD5_A, "Comments": "x" * 5000},
        {"MediaID": 2, "MD5": MD5_B},
        {"MediaID": 3, "MD5": MD5_C, "Exifs": [{"Tag": "y" * 5000}]},
        {"MediaID": 4, "MD5": MD5_D},
    ])
    items = list(parse_vics(io.BytesIO(document.encode()), max_element=2000, chunk_size=256))
    assert [(e.line, e.field) for e in errors(items)] == [(3, "value[0]"), (5, "value[2]")]
    assert [r.value for r in records(items)] == [MD5_B, MD5_D]


def test_it_gives_every_prefix_of_a_document_a_prefix_of_its_records() -> None:
    document = VICS_1_CASES.encode()
    full = records(parse_vics(io.BytesIO(document)))
    for cut in range(0, len(document), 7):
        items = list(parse_vics(io.BytesIO(document[:cut]), chunk_size=64))
        got = records(items)
        assert got == full[: len(got)]
        assert errors(items), cut  # a cut document always says so


def test_it_writes_vics_2_that_groups_by_media_and_reads_back() -> None:
    originals = [
        HashRecord("md5", MD5_A, "1", "vics-us", "national", source_id="100",
                   extra={"IsDistributed": "true", "MediaSize": "2048", "AlternativeHashes.PhotoDNA": "c3lu"}),
        HashRecord("sha1", SHA1_A, "1", "vics-us", "national", source_id="100",
                   extra={"IsDistributed": "true", "MediaSize": "2048", "AlternativeHashes.PhotoDNA": "c3lu"}),
        HashRecord("md5", MD5_B, "1", "vics-us", "national", source_id="100",
                   extra={"IsDistributed": "true", "MediaSize": "2048", "AlternativeHashes.PhotoDNA": "c3lu"}),
        HashRecord("pdq", PDQ_A, "1", "vics-us", "national", quality=90, source_id="100",
                   extra={"IsDistributed": "true", "MediaSize": "2048", "AlternativeHashes.PhotoDNA": "c3lu"}),
        HashRecord("sha256", SHA256_A, "baseline", "hotline", "baseline", source_id="m-7"),
    ]
    out = io.StringIO()
    assert write_vics(iter(originals), out) == 2
    document = json.loads(out.getvalue())
    assert document["value"][0] == {
        "MediaID": 100, "Category": 1, "MD5": MD5_A, "SHA1": SHA1_A, "IsDistributed": True, "MediaSize": 2048,
        "AlternativeHashes": [{"HashName": "PDQ", "HashValue": PDQ_A}, {"HashName": "PhotoDNA", "HashValue": "c3lu"}],
        "MediaFiles": [{"MD5": MD5_B}],
    }
    assert document["value"][1] == {"MediaID": "m-7", "AlternativeHashes": [{"HashName": "SHA256",
                                                                               "HashValue": SHA256_A}]}
    assert "@odata.context" in document
    back = records(parse_vics(io.BytesIO(out.getvalue().encode())))
    expected = [*(HashRecord(r.signal_type, r.value, r.classification, r.scheme, r.mapped_verdict, None,
                             r.source_id, r.extra) for r in originals[:4]),
                HashRecord("sha256", SHA256_A, "", "vics-us", "", source_id="m-7")]  # a hotline code is not VICS
    assert sorted(back, key=repr) == sorted(expected, key=repr)


def test_it_writes_the_vics_1x_cases_form() -> None:
    out = io.StringIO()
    write_vics([HashRecord("md5", MD5_A, "2", "vics-us", source_id="5")], out, version="1.3")
    document = json.loads(out.getvalue())
    assert document["odata.metadata"].endswith("1.3.xml/US/$metadata#Cases")
    assert document["value"] == [{"Media": [{"MediaID": 5, "Category": 2, "MD5": MD5_A}]}]
    info = VicsInfo()
    assert records(parse_vics(io.BytesIO(out.getvalue().encode()), info=info)) == [
        HashRecord("md5", MD5_A, "2", "vics-us", "", source_id="5")]
    assert info.version == "1.3"
    with pytest.raises(ValueError, match="version"):
        write_vics([], io.StringIO(), version="3")


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn"))


def stripped_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(printable, max_size=max_size).map(str.strip).filter(lambda s: s.isprintable())


def hash_value(signal_type: str) -> st.SearchStrategy[str]:
    if signal_type == "vpdq":
        return st.text(printable, min_size=1, max_size=120).filter(lambda s: s == s.strip() and s.isprintable())
    return st.text("0123456789abcdef", min_size=HEX_LENGTHS[signal_type], max_size=HEX_LENGTHS[signal_type])


@st.composite
def hash_records(draw: st.DrawFn, schemes: st.SearchStrategy[str], extras: st.SearchStrategy[dict[str, str]],
                 quality: bool = True, types: Sequence[str] = SIGNAL_TYPES) -> HashRecord:
    signal_type = draw(st.sampled_from(types))
    scheme = draw(schemes)
    classification = draw(st.one_of(st.sampled_from(["0", "1", "2", "3", "4", "baseline", "not_illegal"]),
                                    stripped_text(40)))
    return HashRecord(
        signal_type, draw(hash_value(signal_type)), classification, scheme, map_verdict(scheme, classification),
        draw(st.none() | st.integers(0, 100)) if quality and signal_type == "pdq" else None,
        draw(st.one_of(st.integers(0, 10**12).map(str), stripped_text(200))), draw(extras),
    )


CSV_EXTRA_KEYS = ["Series", "Tags", "note"]
any_text = st.text(st.characters(exclude_categories=["Cs", "Co"]), min_size=1, max_size=30)  # no lone surrogates
csv_extras = st.dictionaries(st.sampled_from(CSV_EXTRA_KEYS), any_text)
VICS_BOOL_KEYS = ["IsDistributed", "SelfGenerated", "VictimIdentified"]
vics_extras = st.dictionaries(
    st.sampled_from(["Comments", "Series", "Tags", "MimeType", "PhotoDNA", "AlternativeHashes.PhotoDNA"]),
    any_text,
) | st.fixed_dictionaries({}, optional={
    "MediaSize": st.one_of(st.integers(0, 10**15).map(str), st.just("012")),
    **{key: st.sampled_from(["true", "false"]) for key in VICS_BOOL_KEYS},
})


def unique(items: list[HashRecord]) -> bool:
    return len({(r.signal_type, r.value) for r in items}) == len(items)


@settings(max_examples=60)
@given(st.lists(hash_records(st.just("signal-file"), st.just({}), types=REFERENCE_SIGNAL_TYPES), max_size=20))
def test_it_round_trips_random_records_through_a_signal_file(originals: list[HashRecord]) -> None:
    out = io.StringIO()
    write_signal_file(originals, out)
    items = list(parse_signal_file(text(out.getvalue())))
    assert errors(items) == []
    assert [(r.signal_type, r.value) for r in records(items)] == [(r.signal_type, r.value) for r in originals]


@settings(max_examples=60)
@given(st.lists(hash_records(st.sampled_from(["vics-us", "hotline", "uk-abc"]), csv_extras), max_size=20))
def test_it_round_trips_random_records_through_csv(originals: list[HashRecord]) -> None:
    out = io.StringIO(newline="")
    write_csv(originals, out, extra_columns=CSV_EXTRA_KEYS)
    items = list(parse_csv(text(out.getvalue())))
    assert errors(items) == []
    assert records(items) == originals


@settings(max_examples=60)
@given(st.lists(hash_records(st.just("vics-us"), vics_extras, quality=False), max_size=20).filter(unique),
       st.sampled_from(["2.0", "1.3"]), st.integers(1, 300))
def test_it_round_trips_random_records_through_vics(originals: list[HashRecord], version: str,
                                                    chunk_size: int) -> None:
    out = io.StringIO()
    write_vics(originals, out, version=version)
    items = list(parse_vics(io.BytesIO(out.getvalue().encode()), chunk_size=chunk_size))
    assert errors(items) == []
    assert sorted(records(items), key=repr) == sorted(originals, key=repr)


def only_items(items: Iterator[ParseItem]) -> list[ParseItem]:
    result = list(items)
    assert all(isinstance(item, HashRecord | LineError) for item in result)
    assert all(item.line >= 1 for item in result if isinstance(item, LineError))
    return result


signal_alphabet = st.sampled_from(["pdq ", "md5 ", "vpdq ", "#", " ", "\n", "\r", "\t", "a", "F", "0", "9", "é",
                                   "\x00"])


@settings(max_examples=150)
@given(st.one_of(st.text(), st.lists(signal_alphabet, max_size=80).map("".join)))
def test_it_never_raises_on_arbitrary_signal_file_text(data: str) -> None:
    only_items(parse_signal_file(io.StringIO(data)))


csv_alphabet = st.sampled_from(["signal_type,value\n", "md5,pdq,quality\n", ",", '"', "\n", "\r", "\x00",
                                "md5", MD5_A, "pdq", PDQ_A, "99", "x"])


@settings(max_examples=150)
@given(st.one_of(st.text(), st.lists(csv_alphabet, max_size=40).map("".join)))
def test_it_never_raises_on_arbitrary_csv_text(data: str) -> None:
    only_items(parse_csv(io.StringIO(data, newline="")))


json_alphabet = st.sampled_from(['{', '}', '[', ']', '"', ',', ':', ' ', '\n', '\\', 'true', '1', '"value"',
                                 '"Media"', '"MD5"', f'"{MD5_A}"', '"@odata.context"', '"x"', '\xff', '\ud800'])


@settings(max_examples=200)
@given(st.one_of(st.binary(), st.lists(json_alphabet, max_size=60).map(
    lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))), st.integers(1, 64))
def test_it_never_raises_on_arbitrary_bytes_as_vics(data: bytes, chunk_size: int) -> None:
    only_items(parse_vics(io.BytesIO(data), chunk_size=chunk_size))


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, len(VICS_1_CASES) - 1), st.integers(0, 4), st.sampled_from(
    ["", "{", "}", "[", "]", '"', ",", ":", "\\", "\n", "x"])), min_size=1, max_size=4), st.integers(1, 128))
def test_it_never_raises_on_a_damaged_vics_document(edits: list[tuple[int, int, str]], chunk_size: int) -> None:
    document = VICS_1_CASES
    for position, deleted, inserted in edits:
        document = document[:position] + inserted + document[position + deleted:]
    items = only_items(parse_vics(io.BytesIO(document.encode()), chunk_size=chunk_size))
    full = {(r.signal_type, r.value) for r in records(parse_vics(io.BytesIO(VICS_1_CASES.encode())))}
    # A damaged document yields fewer hashes, never new ones, except where an edit fell in a hash.
    assert len({(r.signal_type, r.value) for r in records(items)} - full) <= len(edits)


# ---------------------------------------------------------------------------------------------
# Streaming: large inputs produced on the fly, never held
# ---------------------------------------------------------------------------------------------


class GeneratedFile(io.RawIOBase):
    """A read-only binary file whose bytes come from a generator, a block at a time."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._left = memoryview(b"")
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._left:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._left = memoryview(block)
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        self.size += n
        return n


def peak_while(consume: Callable[[], int]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = consume()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return count, peak


SIGNAL_LINES = 200_000  # 13.8 MB; 1,000,000 lines work the same but take 10 s under tracemalloc


def test_it_streams_a_large_signal_file_in_small_memory() -> None:
    rng = random.Random(7)
    block = "".join(f"pdq {hexdigits(64, rng)}\n" for _ in range(1000)).encode()

    def blocks() -> Iterator[bytes]:
        for _ in range(SIGNAL_LINES // 1000 - 1):
            yield block
        yield block[:-69] + b"md5 " + b"z" * 64 + b"\n"  # the very last line is not a hash

    raw = GeneratedFile(blocks())
    stream = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8")
    bad: list[LineError] = []

    def consume() -> int:
        count = 0
        for item in parse_signal_file(stream):
            if isinstance(item, LineError):
                bad.append(item)
            else:
                count += 1
        return count

    count, peak = peak_while(consume)
    assert raw.size == 69 * SIGNAL_LINES
    assert count == SIGNAL_LINES - 1
    assert [(e.line, e.field) for e in bad] == [(SIGNAL_LINES, "value")]
    assert peak < 2_000_000 and peak < raw.size / 50, peak


VICS_MEDIA = 25_000  # 7.5 MB of JSON; 200,000 work the same (8x the time under tracemalloc)


def vics_blocks(count: int, *, cases: bool) -> Iterator[bytes]:
    rng = random.Random(11)
    template = ('{{"MediaID": {0}, "Category": {1}, "MD5": "{2}", "SHA1": "{3}", "MediaSize": 1024,\n'
                ' "IsDistributed": "true", "AlternativeHashes": [{{"HashName": "PDQ", "HashValue": "{4}"}}]}}')
    pool = [hexdigits(64, rng) for _ in range(1009)]
    yield b'{"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",\n'
    yield b'"value": [\n' + (b'{"CaseID": 1, "Media": [\n' if cases else b"")
    for start in range(0, count, 500):
        chunk = ",\n".join(
            template.format(i, i % 5, pool[i % 1009][:32], pool[(i + 1) % 1009][:40], pool[(i + 2) % 1009])
            for i in range(start, min(count, start + 500))
        )
        yield (",\n" if start else "").encode() + chunk.encode()
    yield (b"]}" if cases else b"") + b"\n]}\n"


@pytest.mark.parametrize("cases", [False, True], ids=["media-form", "one-case"])
def test_it_streams_a_large_vics_document_in_small_memory(cases: bool) -> None:
    raw = GeneratedFile(vics_blocks(VICS_MEDIA, cases=cases))
    info = VicsInfo()
    problems: list[LineError] = []

    def consume() -> int:
        count = 0
        for item in parse_vics(io.BufferedReader(raw), info=info):
            if isinstance(item, LineError):
                problems.append(item)
            else:
                count += 1
        return count

    count, peak = peak_while(consume)
    assert problems == []
    assert count == 3 * VICS_MEDIA
    assert info.media == VICS_MEDIA
    assert raw.size > 7_000_000
    # About 1 MB either way (64 KiB reads, one element decoded at a time; a Case is tried whole up
    # to 64 KiB of text, then walked Media by Media), whatever the size of the document.
    assert peak < 1_500_000 and peak < raw.size / 5, peak


def test_it_writes_as_it_reads() -> None:
    rng = random.Random(3)

    def generated(count: int) -> Iterator[HashRecord]:
        for i in range(count):
            yield HashRecord("video_md5", hexdigits(32, rng), "1", "vics-us", "", source_id=str(i // 2))

    class Sink(io.StringIO):
        size = 0

        def write(self, data: str) -> int:
            self.size += len(data)
            return len(data)

    writers: list[Callable[[Iterable[HashRecord], Sink], int]] = [write_signal_file, write_csv, write_vics]
    for writer in writers:
        peaks = []
        for count in (2_000, 8_000):
            sink = Sink()
            written, peak = peak_while(lambda: writer(generated(count), sink))  # noqa: B023 - called at once
            assert written in (count, count // 2)
            peaks.append(peak)
        # Four times the records, the same memory (the csv module keeps a fixed 128 KiB buffer).
        assert peaks[1] < peaks[0] * 1.2 + 10_000 and peaks[1] < sink.size / 2, (writer.__name__, peaks, sink.size)


def test_it_parses_what_the_vics_writer_streams_with_line_numbers() -> None:
    originals = [HashRecord("md5", hexdigits(32), source_id=str(i)) for i in range(5)]
    out = io.StringIO()
    write_vics(originals, out)
    lines = out.getvalue().splitlines()
    lines[4] = lines[4].replace('"MD5"', '"MD5" "oops"')  # line 1 opens the document: the fourth Media
    items = list(parse_vics(io.BytesIO("\n".join(lines).encode())))
    assert [(e.line, e.field) for e in errors(items)] == [(5, "value[3]")]
    assert [r.source_id for r in records(items)] == ["0", "1", "2", "4"]


def test_it_makes_records_hashable_and_comparable_with_their_extra() -> None:
    record = HashRecord("md5", MD5_A, extra={"a": "b"})
    assert isinstance(record.extra, MappingProxyType)
    assert record == HashRecord("md5", MD5_A, extra={"a": "b"}) != HashRecord("md5", MD5_A, extra={"a": "c"})
    assert len({record, HashRecord("md5", MD5_A, extra={"a": "b"}), HashRecord("md5", MD5_B)}) == 2


def test_the_element_cap_holds_for_the_whole_media_not_each_value() -> None:
    """Found by an outside probe: a 31 MB Media of many values, each under the cap, was stored."""
    fields = {f"Note{i}": "z" * 900 for i in range(5)}  # 5 x 900 characters, each under 2000
    document = vics_2([
        {"MediaID": 1, "MD5": MD5_A},
        {"MediaID": 2, "MD5": MD5_B, **fields},
        {"MediaID": 3, "MD5": MD5_C, "Note": "z" * 900},
        {"Media": [{"MediaID": 4, "MD5": MD5_D}], "CaseID": 7, **{f"Note{i}": "z" * 900 for i in range(2)}},
    ])
    items = list(parse_vics(io.BytesIO(document.encode()), max_element=2000, chunk_size=256))
    assert [(e.line, e.field) for e in errors(items)] == [(4, "value[1]")]
    assert "larger than 2000 characters" in errors(items)[0].message
    assert [r.value for r in records(items)] == [MD5_A, MD5_C, MD5_D]
