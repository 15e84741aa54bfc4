"""VICS category numbering: taken from the document's context URL (US, UK, CUSTOM, ...), never guessed.
Random hashes only."""

from __future__ import annotations

import io
import json
import random

import pytest

from hotline.lib.hashlists import VICS_US_CATEGORIES, HashRecord, LineError, VicsInfo, parse_vics, write_vics

BASE_2 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#Media"
BASE_1 = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml/{}/$metadata#Cases"


def _md5(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _read(document: str, scheme: str = "") -> tuple[list[HashRecord], VicsInfo, list[LineError]]:
    info = VicsInfo()
    items = list(parse_vics(io.BytesIO(document.encode()), info=info, scheme=scheme))
    return ([i for i in items if isinstance(i, HashRecord)], info, [i for i in items if isinstance(i, LineError)])


def _media_document(context: str, categories: list[int], rng: random.Random) -> str:
    media = [{"MediaID": n, "Category": c, "MD5": _md5(rng)} for n, c in enumerate(categories)]
    return json.dumps({"@odata.context": context, "value": media})


CODES = [0, 1, 2, 3, 4, 5]


def test_a_us_document_maps_through_the_us_table() -> None:
    records, info, problems = _read(_media_document(BASE_2.format("US"), CODES, random.Random(1)))
    assert problems == [] and (info.numbering, info.scheme, info.warnings) == ("US", "vics-us", [])
    assert [r.mapped_verdict for r in records] == [VICS_US_CATEGORIES.get(str(c), ("", ""))[1] for c in CODES]
    assert {r.scheme for r in records} == {"vics-us"}


@pytest.mark.parametrize(("numbering", "scheme"), [("UK", "vics-uk"), ("CUSTOM", "vics-custom"), ("uk", "vics-uk")])
def test_uk_and_custom_categories_are_kept_and_never_mapped_through_the_us_table(numbering: str, scheme: str) -> None:
    records, info, problems = _read(_media_document(BASE_2.format(numbering), CODES, random.Random(2)))
    assert problems == [] and info.warnings == [] and info.scheme == scheme
    assert [(r.classification, r.scheme, r.mapped_verdict) for r in records] == [(str(c), scheme, "") for c in CODES]


def test_a_1x_document_names_its_numbering_too() -> None:
    document = json.dumps({"odata.metadata": BASE_1.format("UK"),
                           "value": [{"CaseID": 1, "Media": [{"MediaID": 1, "Category": 1,
                                                              "MD5": _md5(random.Random(3))}]}]})
    records, info, _ = _read(document)
    assert (info.version, info.numbering, [r.scheme for r in records], [r.mapped_verdict for r in records]) == (
        "1.3", "UK", ["vics-uk"], [""])


@pytest.mark.parametrize(("context", "scheme", "warning"), [
    (BASE_2.format("XX"), "vics-xx", "unknown category numbering 'XX'"),
    ("http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/$metadata#Media", "vics", "names no category"),
    ("urn:something-else", "vics", "names no category"),
])
def test_an_unknown_or_missing_numbering_warns_and_maps_nothing(context: str, scheme: str, warning: str) -> None:
    records, info, problems = _read(_media_document(context, CODES, random.Random(4)))
    assert problems == []
    assert [(r.scheme, r.mapped_verdict) for r in records] == [(scheme, "")] * len(CODES)
    assert len(info.warnings) == 1 and warning in info.warnings[0]


def test_a_document_without_a_context_warns_too() -> None:
    records, info, problems = _read(json.dumps({"value": [{"MediaID": 1, "Category": 1, "MD5": "a" * 32}]}))
    assert [(r.scheme, r.mapped_verdict) for r in records] == [("vics", "")]
    assert [p.field for p in problems] == ["@odata.context"] and "names no category" in info.warnings[0]


def test_the_scheme_given_never_overrides_a_numbering_the_document_names() -> None:
    records, info, _ = _read(_media_document(BASE_2.format("UK"), [1], random.Random(5)), scheme="vics-us")
    assert [(r.scheme, r.mapped_verdict) for r in records] == [("vics-uk", "")]
    assert "the scheme given (vics-us) was not used" in info.warnings[0]
    records, info, _ = _read(_media_document(BASE_2.format("XX"), [1], random.Random(5)), scheme="vics-us")
    assert [(r.scheme, r.mapped_verdict) for r in records] == [("vics-us", "national")]
    assert "read as 'vics-us', as told" in info.warnings[0]


@pytest.mark.parametrize("version", ["2.0", "1.3"])
@pytest.mark.parametrize(("scheme", "numbering"), [("vics-us", "US"), ("vics-uk", "UK"), ("vics-custom", "CUSTOM")])
def test_the_writer_names_the_numbering_and_the_reader_takes_it_back(version: str, scheme: str, numbering: str) -> None:
    rng = random.Random(6)
    originals = [HashRecord("md5", _md5(rng), str(n % 5), scheme, "", source_id=str(n)) for n in range(50)]
    out = io.StringIO()
    assert write_vics(originals, out, version=version, scheme=scheme) == 50
    assert f"/{numbering}/$metadata" in out.getvalue()
    records, info, problems = _read(out.getvalue())
    assert problems == [] and info.numbering == numbering
    assert [(r.value, r.classification, r.scheme) for r in records] == [
        (r.value, r.classification, scheme) for r in originals]


def test_the_writer_refuses_a_scheme_without_a_vics_numbering() -> None:
    with pytest.raises(ValueError, match="no VICS category numbering"):
        write_vics([], io.StringIO(), scheme="hotline")
