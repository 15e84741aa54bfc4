from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hotline.audit.services import SYSTEM
from hotline.reports.csv_import import CsvHeaderError, import_csv
from hotline.reports.models import Item, Report

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = (
    "url,received_at,text,external_ref\n"
    "http://a.sim.test/1,2026-01-05T10:00:00Z,first,E1\n"
    "ftp://a.sim.test/2,,bad scheme,E2\n"
    ",,no url,E3\n"
    "http://a.sim.test/3,yesterday,bad time,E4\n"
    "HTTP://A.sim.test/1#again,2026-01-06 09:00,dup,E5\n"
)


def test_it_keeps_good_lines_and_names_bad_ones() -> None:
    summary = import_csv(io.BytesIO(GOOD_AND_BAD.encode()), actor=SYSTEM)
    assert (summary.lines, summary.created, summary.merged, summary.error_count) == (5, 1, 1, 3)
    assert [str(e) for e in summary.errors] == [
        "line 3: field 'url': scheme 'ftp' is not allowed; use http or https",
        "line 4: field 'url': empty",
        "line 5: field 'received_at': 'yesterday' is not an ISO 8601 time",
    ]
    assert Item.objects.get().report_count == 2
    assert sorted(Report.objects.values_list("external_ref", flat=True)) == ["E1", "E5"]
    assert Report.objects.get(external_ref="E1").received_at.isoformat() == "2026-01-05T10:00:00+00:00"


def test_it_refuses_a_file_without_a_url_header() -> None:
    with pytest.raises(CsvHeaderError, match="'url'"):
        import_csv(io.BytesIO(b"link\nhttp://a.sim.test/\n"), actor=SYSTEM)


class _Lines(io.RawIOBase):
    """A large CSV produced on the fly, so the test never holds the file in memory."""

    def __init__(self, count: int) -> None:
        self._rows: Iterator[bytes] = (f"http://big-{i % 997}.sim.test/p/{i}\n".encode() for i in range(count))
        self._buffer = b"url\n"
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self._buffer) < len(target):
            try:
                self._buffer += next(self._rows)
            except StopIteration:
                break
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        self.position += n
        return n

    def tell(self) -> int:
        return self.position


def test_it_streams_instead_of_reading_the_whole_file() -> None:
    source = _Lines(5_000)
    read_at_progress: list[int] = []
    summary = import_csv(io.BufferedReader(source), actor=SYSTEM, progress=read_at_progress.append)
    assert summary.created == 5_000
    # The first batch (1,000 lines, ~37 kB) is stored before much more than it has been read.
    assert read_at_progress[0] < 64 * 1024 < source.position
    assert read_at_progress == sorted(read_at_progress) and len(read_at_progress) == 5


def test_the_command_reports_errors_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "reports.csv"
    path.write_text(GOOD_AND_BAD, encoding="utf-8")
    errors = tmp_path / "errors.txt"
    with pytest.raises(CommandError, match="3 of 5 lines refused") as refused:
        call_command("import_csv", str(path), "--quiet", "--errors", str(errors))
    assert refused.value.returncode == 1
    out = capsys.readouterr()
    assert "5 lines: 1 new items, 1 merged, 3 errors" in out.out
    assert "line 4: field 'url': empty" in out.err
    assert errors.read_text().count("\n") == 3
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_csv", str(tmp_path / "missing.csv"))


def test_a_nul_refuses_its_line_and_keeps_the_batch() -> None:
    """Found by an outside probe: one NUL failed the whole batch on PostgreSQL (text cannot hold U+0000)."""
    raw = b"url,text\nhttp://a.sim.test/1,fine\nhttp://a.sim.test/2,bad\x00text\nhttp://a.sim.test/3,fine\n"
    summary = import_csv(io.BytesIO(raw), actor=SYSTEM)
    assert [str(e) for e in summary.errors] == [
        "line 3: field 'text': contains a NUL character (U+0000), which cannot be stored"]
    assert summary.created == 2 and Report.objects.count() == 2


def test_the_command_keeps_the_good_lines_around_a_nul(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"url\nhttp://a.sim.test/1\nhttp://a.sim.test/\x00\nhttp://a.sim.test/3\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 3 lines refused"):
        call_command("import_csv", str(path), "--quiet", stdout=io.StringIO(), stderr=err)
    assert "line 3: field 'url': contains a NUL character" in err.getvalue()
    assert Item.objects.count() == 2


def test_random_bytes_are_not_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(__import__("random").Random(19).randbytes(8192))
    with pytest.raises(CommandError, match=r"not a CSV file \(line 1: "):
        call_command("import_csv", str(path), "--quiet", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CsvHeaderError, match=r"not a CSV file \(line 1: control character U\+0000"):
        import_csv(io.BytesIO(b"url\x00\nhttp://a.sim.test/\n"), actor=SYSTEM)
    assert not Report.objects.exists()


def test_a_line_the_csv_reader_refuses_is_named_by_its_own_number() -> None:
    raw = f"url,text\nhttp://a.sim.test/1,x\nhttp://a.sim.test/2,{'y' * 30_000}\nhttp://a.sim.test/3,z\n".encode()
    summary = import_csv(io.BytesIO(raw), actor=SYSTEM)
    assert [(e.line, e.field) for e in summary.errors] == [(3, "*")]
    assert summary.created == 2


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_it_reads_comma_semicolon_and_tab_separated_files(sep: str) -> None:
    raw = sep.join(["url", "text", "external_ref"]) + "\n"
    raw += sep.join(["http://sep.sim.test/1", '"a, b; c"', "E1"]) + "\n"
    raw += sep.join(["http://sep.sim.test/2", "plain", "E2"]) + "\n"
    summary = import_csv(io.BytesIO(raw.encode()), actor=SYSTEM)
    assert (summary.created, summary.error_count) == (2, 0)
    assert Report.objects.get(external_ref="E1").text == "a, b; c"


def test_a_one_column_file_is_read_with_commas() -> None:
    summary = import_csv(io.BytesIO(b"url\nhttp://one.sim.test/\n"), actor=SYSTEM)
    assert (summary.created, summary.error_count) == (1, 0)


def test_a_clean_file_exits_zero_through_call_command(tmp_path: Path) -> None:
    path = tmp_path / "clean.csv"
    path.write_text("url;text\nhttp://clean.sim.test/1;ok\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import_csv", str(path), "--quiet", stdout=out)
    assert "1 lines: 1 new items, 0 merged, 0 errors" in out.getvalue()
