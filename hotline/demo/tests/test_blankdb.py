"""The kept blank SQLite database: a copy gives the schema and rows a migration from scratch gives, and only
an empty SQLite file is ever replaced."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hotline.demo import blankdb

ROOT = Path(__file__).resolve().parents[3]


def _env(database: Path, cache: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")} | {
        "DJANGO_SETTINGS_MODULE": "hotline.settings", "HOTLINE_DEBUG": "true", "PYTHONPATH": str(ROOT),
        "HOTLINE_VAR_DIR": str(database.parent), "DATABASE_URL": f"sqlite:///{database}",
        blankdb.CACHE_ENV: str(cache)}


def _start(database: Path, cache: Path) -> subprocess.Popen[str]:
    database.parent.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "hotline.demo.blankdb"], env=_env(database, cache), cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _outcome(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate()
    assert process.returncode == 0, err[-4000:]
    return out.strip().splitlines()[-1]


def _contents(database: Path) -> dict[str, list[Any]]:
    with sqlite3.connect(database) as db:
        return {
            "schema": sorted(db.execute("select type, name, tbl_name, sql from sqlite_master")),
            "migrations": sorted(db.execute("select app, name from django_migrations")),
            "content_types": sorted(db.execute("select app_label, model from django_content_type")),
            "banks": sorted(db.execute("select name, kind, trusted from hashes_bank")),
            "audit_heads": list(db.execute("select count(*) from audit_audithead")),
        }


@pytest.mark.slow
def test_a_copy_equals_a_migration_and_a_database_with_tables_is_left_alone(tmp_path: Path) -> None:
    cache, first, second = tmp_path / "cache", tmp_path / "a" / "db.sqlite3", tmp_path / "b" / "db.sqlite3"
    # Two at once, as two tests' partner installations start: one migrates, the other waits and copies.
    started = [_start(first, cache), _start(second, cache)]
    assert sorted(_outcome(process) for process in started) == ["copied", "migrated"]
    kept = list(cache.glob("*.sqlite3"))
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o777 == 0o600

    migrated, copied = _contents(first), _contents(second)
    assert copied == migrated
    assert "trigger" in {row[0] for row in copied["schema"]}  # the audit guard's

    # Not empty any more: migrate only checks, the data stays.
    with sqlite3.connect(second) as db:
        db.execute("insert into django_content_type (app_label, model) values ('kept', 'row')")
    assert _outcome(_start(second, cache)) == "checked"
    with sqlite3.connect(second) as db:
        assert db.execute("select count(*) from django_content_type where app_label = 'kept'").fetchone() == (1,)


def test_the_key_covers_the_modules_a_migration_imports() -> None:
    import importlib

    module = importlib.import_module("hotline.audit.migrations.0002_append_only")
    files = {path.name for path in blankdb._source_files(module)}
    assert files == {"0002_append_only.py", "guard.py"}  # the triggers' SQL lives in guard.py


def test_the_key_changes_with_a_migration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = blankdb.migrations_key()
    original = Path.read_bytes

    def edited(path: Path) -> bytes:
        data = original(path)
        return data + b"\n# edited" if path.name == "guard.py" else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert blankdb.migrations_key() != before
