from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hotline.audit.models import AuditEvent
from hotline.evidence.bag import new_recipient_key, verify_bag
from hotline.evidence.models import Media
from hotline.evidence.services import CaptureConfig, capture_item
from hotline.evidence.store import get_blob_bytes
from hotline.reports.models import Item
from hotline.sim.web import SimWeb

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured(sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]) -> Item:
    item = make_item(sim.url("gallery.sim.test", "/"), captured=False)
    capture_item(item, config=capture_config)
    return item


def test_an_exported_bag_holds_warc_media_metadata_and_audit_and_verifies(
    captured: Item, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bag = tmp_path / "bag"
    call_command("evidence", "export", str(captured.pk), "--out", str(bag))
    data = bag / "data"
    warcs = list((data / "warc").iterdir())
    assert len(warcs) == 1 and warcs[0].name.startswith(f"item-{captured.pk}-capture-")
    for media in Media.objects.filter(item=captured):
        assert media.blob is not None
        [stored] = list((data / "media").glob(f"{media.sha256}.*"))
        assert stored.read_bytes() == get_blob_bytes(media.blob)
    meta = json.loads((data / "metadata" / f"item-{captured.pk}.json").read_text())
    assert meta["captures"][0]["resolved_ip"] == "127.0.0.1"
    rows = list(csv.DictReader((data / "metadata" / "media.csv").open()))
    assert len(rows) == Media.objects.filter(item=captured).count() and all(len(r["sha256"]) == 64 for r in rows)
    trail = json.loads((data / "audit" / f"item-{captured.pk}.json").read_text())
    assert [e["action"] for e in trail][:2] == ["item.created", "item.captured"]
    assert verify_bag(bag).ok
    capsys.readouterr()
    call_command("evidence", "verify", str(bag))
    assert "signature is valid" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="evidence.exported", object_id=str(captured.pk)).count() == 1


def test_a_tampered_bag_is_named_by_verify(captured: Item, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = tmp_path / "bag"
    call_command("evidence", "export", str(captured.pk), "--out", str(bag))
    victim = next((bag / "data" / "media").iterdir())
    victim.write_bytes(victim.read_bytes()[:-1] + b"X")
    with pytest.raises(CommandError, match="NOT intact"):
        call_command("evidence", "verify", str(bag))
    assert f"data/media/{victim.name}" in capsys.readouterr().err


def test_an_encrypted_export_decrypts_to_a_valid_bag(
    captured: Item, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = new_recipient_key()
    sealed = tmp_path / "evidence.hlbag"
    call_command("evidence", "export", str(captured.pk), "--out", str(sealed), "--encrypt-to", public)
    assert sealed.is_file() and not (tmp_path / "evidence.hlbag.bag").exists()
    monkeypatch.setenv("HOTLINE_RECIPIENT_KEY", private)
    call_command("evidence", "decrypt", str(sealed), "--out", str(tmp_path / "opened"))
    opened = next(p for p in (tmp_path / "opened").rglob("bagit.txt")).parent
    assert verify_bag(opened).ok


def test_export_refuses_unknown_items_and_existing_targets(captured: Item, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no item with id 999999"):
        call_command("evidence", "export", "999999", "--out", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="exists already"):
        call_command("evidence", "export", str(captured.pk), "--out", str(tmp_path))


def test_collect_gives_the_files_the_orm_reads_give(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package's reads are compiled once (``prepared.instances``, padded id lists): the same files, byte for
    byte, as the ORM's querysets give, for one item and for groups whose id lists are padded."""
    from hotline.audit.services import SYSTEM
    from hotline.evidence.services import collect
    from hotline.lib import prepared
    from hotline.reports.services import IncomingReport, receive_reports

    items = [make_item(sim.url(host, "/"), captured=False) for host in ("gallery.sim.test", "shop.sim.test",
                                                                        "blog.sim.test")]
    for item in items:
        capture_item(item, config=capture_config)
    capture_item(items[0], config=capture_config)  # a second capture of the first item
    receive_reports([IncomingReport(source="public", urls=[items[1].canonical_url, items[2].canonical_url])],
                    actor=SYSTEM)  # a second report of two of them
    groups = [items[:1], items[1:], items]
    compiled = [collect(group) for group in groups]

    monkeypatch.setattr(prepared, "instances", lambda _name, build, **values: list(build(**values)))
    assert compiled == [collect(group) for group in groups]
    assert sum(f.path.startswith("warc/") for f in compiled[2]) == 4
    assert any(f.path.startswith("media/") for f in compiled[0])
    assert [f.path for f in collect([])] == ["metadata/media.csv"]  # no items: no query, the CSV's header alone
