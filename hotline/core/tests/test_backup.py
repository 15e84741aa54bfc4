"""Backup and restore: the items, the audit chain and the evidence bytes come back identical, and a
damaged, altered or hostile backup is refused before anything is written."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.core.backup import BackupError, BackupResult, backup, require_tool, restore, using_sqlite_file
from hotline.evidence.models import Blob, Media
from hotline.evidence.store import get_blob_bytes
from hotline.reports.models import Item

pytestmark = pytest.mark.django_db(transaction=True)

SQLITE_ONLY = pytest.mark.skipif(connection.vendor != "sqlite", reason="restores into a separate SQLite file")
POSTGRES_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql" or shutil.which("pg_dump") is None,
    reason="needs PostgreSQL and its client tools",
)


def _store_at(root: Path) -> override_settings:
    return override_settings(HOTLINE_STORE={"BACKEND": "filesystem", "ROOT": str(root)})


@pytest.fixture
def live_store(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "live-store"
    with _store_at(root):
        yield root


def _state() -> dict[str, Any]:
    return {
        "items": list(Item.objects.order_by("pk").values()),
        "media": list(Media.objects.order_by("pk").values()),
        "audit": list(AuditEvent.objects.order_by("seq").values_list("seq", "hash")),
        "evidence": {blob.sha256: get_blob_bytes(blob) for blob in Blob.objects.order_by("pk")},
    }


def _database_path(tmp_path: Path) -> Path | None:
    """Where a restore goes in a test: a separate SQLite file, or (PostgreSQL) the test database."""
    return tmp_path / "restored.sqlite3" if connection.vendor == "sqlite" else None


def _target_args(tmp_path: Path) -> list[str]:
    path = _database_path(tmp_path)
    return ["--database-path", str(path)] if path else []


def _manifest(result: BackupResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((result.path / "manifest.json").read_text())
    return data


def _write_manifest(result: BackupResult, manifest: dict[str, Any]) -> None:
    (result.path / "manifest.json").write_text(json.dumps(manifest))


def _reseal(result: BackupResult, name: str) -> None:
    """Make the manifest agree with a file the test changed on purpose."""
    manifest = _manifest(result)
    data = (result.path / name).read_bytes()
    entry = next(entry for entry in manifest["files"] if entry["name"] == name)
    entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    _write_manifest(result, manifest)


def _secrets() -> list[bytes]:
    keys = [part.split(":", 1)[1] for spec in (django_settings.HOTLINE_STORE_KEYS, django_settings.HOTLINE_FIELD_KEYS)
            for part in spec.split(",")]
    return [value.encode() for value in [*keys, django_settings.SECRET_KEY]]


@SQLITE_ONLY
def test_it_restores_items_audit_chain_and_evidence_into_a_fresh_place(
    make_item: Callable[..., Item], make_media: Callable[..., Media], live_store: Path,
    tmp_path: Path,
) -> None:
    for seed in (1, 2):
        make_media(make_item(), seed=seed)
    before = _state()
    result = backup(tmp_path / "backups")

    make_item()
    shutil.rmtree(live_store)
    out = StringIO()
    with _store_at(tmp_path / "fresh-store"):
        call_command("restore", str(result.path), *_target_args(tmp_path), stdout=out)
        with using_sqlite_file(tmp_path / "restored.sqlite3"):
            assert verify().ok
            assert _state() == before
    assert len(before["evidence"]) == 2
    assert "restored 2 store files" in out.getvalue()
    assert _manifest(result)["store_key_ids"] == ["teststore1"]
    for path in result.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret in data for secret in _secrets()), f"{path.name} holds a key"
            assert not any(plain in data for plain in before["evidence"].values()), f"{path.name} holds plaintext"


@POSTGRES_ONLY
def test_it_restores_a_postgresql_dump_over_a_changed_database(
    make_item: Callable[..., Item], make_media: Callable[..., Media], live_store: Path,
    tmp_path: Path,
) -> None:
    make_media(make_item())
    before = _state()
    result = backup(tmp_path / "backups")
    assert (result.path / "database.pgdump").is_file()

    make_item()
    with _store_at(tmp_path / "fresh-store"):
        with pytest.raises(BackupError, match="is not empty"):
            restore(result.path)
        restore(result.path, force=True)

        assert verify().ok
        assert _state() == before


@SQLITE_ONLY
def test_it_refuses_to_replace_a_database_that_has_tables_unless_forced(
    make_item: Callable[..., Item], live_store: Path, tmp_path: Path,
) -> None:
    make_item()
    result = backup(tmp_path / "backups")
    target = tmp_path / "restored.sqlite3"
    restore(result.path, database_path=target)

    with pytest.raises(BackupError, match="is not empty"):
        restore(result.path, database_path=target)
    assert restore(result.path, database_path=target, force=True).counts["items"] == 1


@SQLITE_ONLY
def test_it_migrates_a_backup_taken_before_the_latest_migration(
    make_item: Callable[..., Item], live_store: Path, tmp_path: Path,
) -> None:
    make_item()
    result = backup(tmp_path / "backups")
    latest = ("django_tasks_database", _manifest(result)["migrations"]["django_tasks_database"])
    with closing(sqlite3.connect(result.path / "database.sqlite3")) as db, db:
        db.execute("DELETE FROM django_migrations WHERE app = ? AND name = ?", latest)
    _reseal(result, "database.sqlite3")

    summary = restore(result.path, database_path=tmp_path / "restored.sqlite3")

    assert summary.migrated == [".".join(latest)]
    assert summary.counts["items"] == 1


def test_it_refuses_a_tampered_file_and_names_it(
    make_item: Callable[..., Item], make_media: Callable[..., Media], live_store: Path, tmp_path: Path,
) -> None:
    make_media(make_item())
    result = backup(tmp_path / "backups")
    name = next(entry["name"] for entry in _manifest(result)["files"] if entry["name"].startswith("store/"))
    data = bytearray((result.path / name).read_bytes())
    data[-1] ^= 1
    (result.path / name).write_bytes(bytes(data))
    make_item()

    with pytest.raises(CommandError, match=f"{name}: content does not match the manifest"):
        call_command("restore", str(result.path), *_target_args(tmp_path), "--force")
    assert not (tmp_path / "restored.sqlite3").exists()
    assert Item.objects.count() == 2
    with pytest.raises(CommandError, match=name):
        call_command("restore", str(result.path), "--check")


def test_it_refuses_manifest_entries_that_reach_outside_the_backup(
    make_item: Callable[..., Item], make_media: Callable[..., Media], live_store: Path, tmp_path: Path,
) -> None:
    make_media(make_item())
    result = backup(tmp_path / "backups")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not part of any backup")
    manifest = _manifest(result)
    entry = {"name": "../outside.txt", "sha256": hashlib.sha256(outside.read_bytes()).hexdigest(), "size": 22}
    manifest["files"].append(entry)
    _write_manifest(result, manifest)
    linked = next(entry["name"] for entry in manifest["files"] if entry["name"].startswith("store/"))
    (result.path / linked).unlink()
    (result.path / linked).symlink_to(outside)

    with pytest.raises(BackupError) as refused:
        restore(result.path, database_path=_database_path(tmp_path))

    assert "'../outside.txt': not a name a backup holds" in str(refused.value)
    assert any(problem.startswith(f"'{linked}': resolves outside") for problem in refused.value.problems)


def test_it_refuses_a_backup_from_a_newer_schema(
    make_item: Callable[..., Item], live_store: Path, tmp_path: Path,
) -> None:
    make_item()
    result = backup(tmp_path / "backups")
    manifest = _manifest(result)
    manifest["migrations"]["reports"] = "0999_from_the_future"
    _write_manifest(result, manifest)

    with pytest.raises(CommandError, match=r"migration reports\.0999_from_the_future is unknown"):
        call_command("restore", str(result.path), *_target_args(tmp_path), "--force")


def test_it_says_plainly_when_pg_dump_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackupError, match="pg_dump is not installed or not on PATH"):
        require_tool("pg_dump")
