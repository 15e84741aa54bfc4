"""Seal hashes outside the database: what the seal chain alone cannot see (docs/audit.md, Limits) the anchors show."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import override_settings

from hotline.audit import anchor, guard
from hotline.audit.models import AuditSeal
from hotline.audit.services import SYSTEM, record, seal, verify

pytestmark = pytest.mark.django_db(transaction=True)


def _seals(count: int, path: Path | None) -> list[AuditSeal]:
    made = []
    with override_settings(HOTLINE_AUDIT_ANCHOR_FILE=str(path or "")):
        for n in range(count):
            with transaction.atomic():
                record(SYSTEM, "thing.changed", ("demo.thing", n), after={"n": n})
            made.append(seal())
    assert all(made)
    return [s for s in made if s is not None]


def _messages(path: Path) -> list[str]:
    return [p.message for p in verify(anchors=str(path)).problems]


def test_each_committed_seal_is_appended_to_the_anchor_file_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "anchors.jsonl"
    with caplog.at_level(logging.INFO, logger="hotline.audit.anchor"):
        seals = _seals(3, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(a["seal"], a["hash"]) for a in lines] == [(s.pk, s.hash) for s in seals]
    assert [r.getMessage() for r in caplog.records if r.name == "hotline.audit.anchor"] == [
        anchor.anchor_line(s) for s in seals]
    result = verify(anchors=str(path))
    assert result.ok and result.anchors == 3


def test_a_seal_rolled_back_is_not_anchored(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    _seals(1, path)
    with override_settings(HOTLINE_AUDIT_ANCHOR_FILE=str(path)), pytest.raises(RuntimeError), transaction.atomic():
        record(SYSTEM, "thing.changed", ("demo.thing", 9))
        assert seal() is not None
        raise RuntimeError("the transaction around the seal fails")
    assert len(path.read_text().splitlines()) == 1
    assert verify(anchors=str(path)).ok


def test_the_newest_seal_deleted_shows_only_through_its_anchor(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    seals = _seals(3, path)
    guard.remove(connection)
    AuditSeal.objects.filter(pk=seals[-1].pk).delete()
    assert verify().ok  # the limit the anchors are for: nothing in the database links to the newest seal
    assert _messages(path) == [f"{path} line 3: anchored seal {seals[-1].pk} is missing (deleted, or the database "
                               "was restored from a backup older than it)"]


def test_seals_rewritten_consistently_show_through_their_anchors(tmp_path: Path) -> None:
    """Someone who can drop the triggers rewrites the seal chain so that it verifies: the anchors disagree."""
    path = tmp_path / "anchors.jsonl"
    seals = _seals(2, path)
    guard.remove(connection)
    prev = seals[0].prev_hash
    for s in AuditSeal.objects.order_by("id"):
        s.sealed_at = s.sealed_at.replace(year=2020)
        s.prev_hash = prev
        s.hash = s.compute_hash()
        AuditSeal.objects.filter(pk=s.pk).update(sealed_at=s.sealed_at, prev_hash=s.prev_hash, hash=s.hash)
        prev = s.hash
    assert verify().ok
    assert _messages(path) == [
        f"{path} line {n}: seal {s.pk} has another hash than anchored (seals rewritten)" for n, s in
        enumerate(seals, start=1)]


def test_a_line_that_is_not_an_anchor_is_named_and_the_others_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    seals = _seals(2, path)
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0], "not json", json.dumps({"seal": "x", "hash": "0" * 64}), text[1]]) + "\n")
    result = verify(anchors=str(path))
    assert result.anchors == 2
    assert [p.message.split(" (")[0] for p in result.problems] == [f"{path} line 2: not an anchor",
                                                                  f"{path} line 3: not an anchor"]
    path.write_text(text[0] + "\n" + json.dumps({"seal": seals[1].pk, "hash": "f" * 64}) + "\n")
    assert _messages(path) == [f"{path} line 2: seal {seals[1].pk} has another hash than anchored (seals rewritten)"]


def test_an_anchor_file_that_cannot_be_written_keeps_the_seal_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unwritable = tmp_path / "a-directory"
    unwritable.mkdir()
    with caplog.at_level(logging.INFO, logger="hotline.audit.anchor"):
        seals = _seals(1, unwritable)
    assert AuditSeal.objects.filter(pk=seals[0].pk).exists()
    assert any(r.levelno == logging.ERROR and f"seal {seals[0].pk}" in r.getMessage() for r in caplog.records)
    assert "cannot read the anchors" in _messages(unwritable)[0]


def test_no_anchor_file_yet_is_fine_until_something_was_sealed(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    assert verify(anchors=str(path)).ok
    _seals(1, None)  # anchoring off: nothing written
    assert _messages(path) == [f"cannot read the anchors: {path} does not exist (no seal anchored there yet?)"]


def test_the_command_checks_the_configured_anchors_or_the_file_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "anchors.jsonl"
    seals = _seals(2, path)
    with override_settings(HOTLINE_AUDIT_ANCHOR_FILE=str(path)):
        call_command("audit", "verify")
    assert f"2 seal(s), 2 anchor(s) in {path}" in capsys.readouterr().out
    copy = tmp_path / "from-the-log-host.jsonl"
    copy.write_text(path.read_text())
    guard.remove(connection)
    AuditSeal.objects.filter(pk=seals[-1].pk).delete()
    with pytest.raises(CommandError, match="audit chain broken: 1 problem"):
        call_command("audit", "verify", "--anchors", str(copy))
    assert f"{copy} line 2: anchored seal {seals[-1].pk} is missing" in capsys.readouterr().err
    call_command("audit", "verify")
    assert "seals not anchored outside the database" in capsys.readouterr().out
