"""Signal files against the reference: python-threatexchange's local file exchange (its reader,
``LocalFileSignalExchangeAPI.fetch_iter`` + ``naive_convert_to_signal_type``, and its writer,
``report_opinion``, whose line format is reproduced from its source), from the ``threatexchange``
package (a test dependency only, never imported by the product). Random hashes only."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from threatexchange.exchanges import fetch_state
from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType

from hotline.lib.hashlists import (
    REFERENCE_SIGNAL_TYPES,
    HashRecord,
    LineError,
    parse_signal_file,
    write_signal_file,
)

# The reference's default signal types (its CLI's list) that are media hashes.
HASH_TYPES: list[type[SignalType]] = [PdqSignal, VideoMD5Signal, VideoSHA256Signal]
LENGTHS = {"pdq": 64, "video_md5": 32, "video_sha256": 64, "md5": 32, "sha1": 40, "sha256": 64}


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _reference_read(path: Path, signal_type: str | None = None) -> dict[str, set[str]]:
    """What the reference reader keeps from a file, by its signal type names."""
    api = LocalFileSignalExchangeAPI(FileCollaborationConfig(name="t", filename=str(path), signal_type=signal_type))
    kept: dict[str, set[str]] = {}
    for delta in api.fetch_iter(HASH_TYPES, None):
        converted = LocalFileSignalExchangeAPI.naive_convert_to_signal_type(HASH_TYPES, api.collab, delta.updates)
        for s_type, signals in converted.items():
            kept.setdefault(s_type.get_name(), set()).update(signals)
    return kept


def _reference_write(path: Path, s_type: type[SignalType], value: str) -> None:
    """Appends one line exactly as the reference's ``report_opinion`` does: a newline first when the
    file does not end in one, then ``f"{s_type.get_name()} {signal}\\n"``. Its own call cannot run in
    1.2.17 (it opens the file with mode ``"wta"``, which Python refuses: see the test below), so the
    line is written here from its source."""
    existing = path.read_bytes() if path.exists() else b""
    with path.open("a", encoding="utf-8") as out:
        out.write(("" if not existing or existing.endswith(b"\n") else "\n") + f"{s_type.get_name()} {value}\n")


def test_the_reference_writer_cannot_append_in_this_version(tmp_path: Path) -> None:
    """Pins why ``_reference_write`` stands in for it; when a release fixes it, call it instead."""
    path = tmp_path / "theirs.txt"
    path.write_text("\n", encoding="utf-8")
    api = LocalFileSignalExchangeAPI(FileCollaborationConfig(name="t", filename=str(path)))
    opinion = fetch_state.SignalOpinion(True, fetch_state.SignalOpinionCategory.POSITIVE_CLASS, set())
    with pytest.raises(ValueError, match="exactly one of create/read/write/append"):
        api.report_opinion(PdqSignal, "0" * 64, opinion)


def test_the_reference_names_the_types_we_write() -> None:
    assert {t.get_name() for t in HASH_TYPES} == set(REFERENCE_SIGNAL_TYPES) - {"vpdq"}  # vpdq: an extension


def test_every_line_we_write_is_kept_by_the_reference_reader(tmp_path: Path) -> None:
    rng = random.Random(16)
    records = [HashRecord(name, _hex(rng, LENGTHS[name])) for _ in range(200)
               for name in ("pdq", "video_md5", "video_sha256", "md5", "sha256", "sha1")]
    left_out: dict[str, int] = {}
    path = tmp_path / "ours.txt"
    with path.open("w", encoding="utf-8") as out:
        written = write_signal_file(records, out, left_out=left_out)
    kept = _reference_read(path)
    assert written == 600 and left_out == {"md5": 200, "sha256": 200, "sha1": 200}
    assert sum(len(values) for values in kept.values()) == written
    for name in ("pdq", "video_md5", "video_sha256"):
        assert kept[name] == {r.value for r in records if r.signal_type == name}


def test_the_reference_reader_drops_md5_and_sha256_lines_without_a_word(tmp_path: Path) -> None:
    """Why we no longer write them: the format as the reference defines it has no name for them."""
    rng = random.Random(1)
    path = tmp_path / "old.txt"
    path.write_text(f"md5 {_hex(rng, 32)}\nsha256 {_hex(rng, 64)}\npdq {_hex(rng, 64)}\n", encoding="utf-8")
    assert set(_reference_read(path)) == {"pdq"}


def test_every_line_the_reference_writes_is_read_by_us(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "theirs.txt"
    expected = []
    for _ in range(100):
        for s_type in HASH_TYPES:
            value = _hex(rng, LENGTHS[s_type.get_name()])
            _reference_write(path, s_type, value)
            expected.append((s_type.get_name(), value))
    with path.open(encoding="utf-8") as f:
        items = list(parse_signal_file(f))
    assert [i for i in items if isinstance(i, LineError)] == []
    assert [(r.signal_type, r.value) for r in items if isinstance(r, HashRecord)] == expected


def test_a_file_without_types_reads_the_same_as_the_references_signal_type_setting(tmp_path: Path) -> None:
    rng = random.Random(3)
    values = [_hex(rng, 64) for _ in range(50)]
    path = tmp_path / "untyped.txt"
    path.write_text("\n".join(values) + "\n", encoding="utf-8")
    with path.open(encoding="utf-8") as f:
        ours = {r.value for r in parse_signal_file(f, every_line_as="video_sha256") if isinstance(r, HashRecord)}
    assert ours == _reference_read(path, signal_type="video_sha256")["video_sha256"] == set(values)


@pytest.mark.parametrize("seed", range(5))
def test_random_files_round_trip_through_both_sides(tmp_path: Path, seed: int) -> None:
    """Ours -> reference -> ours: the same (type, value) set for every reference type."""
    rng = random.Random(seed)
    records = [HashRecord(name, _hex(rng, LENGTHS[name]))
               for name in rng.choices(["pdq", "video_md5", "video_sha256"], k=rng.randint(1, 300))]
    first = tmp_path / "first.txt"
    with first.open("w", encoding="utf-8") as out:
        write_signal_file(records, out)
    second = tmp_path / "second.txt"
    by_name = {t.get_name(): t for t in HASH_TYPES}
    for name, values in _reference_read(first).items():
        for value in sorted(values):
            _reference_write(second, by_name[name], value)
    back = list(parse_signal_file(io.StringIO(second.read_text(encoding="utf-8"))))
    assert {(r.signal_type, r.value) for r in back if isinstance(r, HashRecord)} == {
        (r.signal_type, r.value) for r in records}
