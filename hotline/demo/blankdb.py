"""A migrated, empty SQLite database, kept once per set of migrations: the demo's fresh database and the
simulation's partner installation (B) start from a copy of it instead of migrating from scratch.

Migrating an empty SQLite file costs about 11 s of CPU (Django renders the model states ~300 times and
rebuilds tables for constraints); a copy costs milliseconds, and the ``migrate`` run after it only checks. The
copy is keyed by every migration file and the modules they import, Django's and SQLite's versions: any
change migrates afresh and keeps a new copy. ``migrate`` still runs after a copy, so a stale key could cost
time, never a wrong schema. Processes that need the same copy while it is being made wait for it (a lock
file) instead of each migrating.

Kept in ``$XDG_CACHE_HOME/hotline/blank-sqlite`` (``~/.cache`` without it; ``HOTLINE_BLANK_DB_CACHE``
elsewhere), readable by this user only. Only the demo, the simulation and the tests use this (``python -m
hotline.demo.blankdb`` migrates the configured database so): ``hotline migrate`` on a real installation never
does.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import sys
import uuid
from pathlib import Path
from types import ModuleType

import django
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader

CACHE_ENV = "HOTLINE_BLANK_DB_CACHE"


def migrate(alias: str = "default") -> str:
    """``migrate`` the database ``alias``; an empty SQLite file is first filled from the kept copy.
    Returns what happened: ``copied``, ``migrated`` (and kept a copy) or ``checked`` (not empty, or not a
    SQLite file)."""
    connection = connections[alias]
    path = _empty_sqlite_file(alias)
    if path is None:
        call_command("migrate", database=alias, verbosity=0)
        return "checked"
    kept = cache_dir() / f"{migrations_key()}.sqlite3"
    # One process migrates and keeps the copy; others that start meanwhile wait for it (idle) and copy.
    with open(kept.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.exists():
            call_command("migrate", database=alias, verbosity=0)
            _keep(alias, kept)
            return "migrated"
    connection.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    shutil.copyfile(kept, partial)
    os.replace(partial, path)
    call_command("migrate", database=alias, verbosity=0)  # nothing to apply: a check
    return "copied"


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    base = Path(configured) if configured else (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hotline" / "blank-sqlite")
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    return base


def migrations_key() -> str:
    """A digest of what decides the schema a fresh ``migrate`` builds (read from the files: no database)."""
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    digest = hashlib.sha256(f"django {django.get_version()} sqlite {sqlite3.sqlite_version}".encode())
    for key in sorted(loader.disk_migrations):
        module = sys.modules[type(loader.disk_migrations[key]).__module__]
        digest.update(repr(key).encode())
        for file in _source_files(module):
            digest.update(file.read_bytes())
    return digest.hexdigest()[:32]


def _source_files(module: ModuleType) -> list[Path]:
    """The migration's own file and those of the project modules it imports (a trigger's SQL, say)."""
    files = {Path(str(module.__file__))}
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith("hotline.") and name != module.__name__:
            source = getattr(sys.modules.get(name), "__file__", None)
            if source:
                files.add(Path(source))
    return sorted(files)


def _empty_sqlite_file(alias: str) -> Path | None:
    connection = connections[alias]
    if connection.vendor != "sqlite" or connection.is_in_memory_db():  # type: ignore[attr-defined]  # SQLite's
        return None
    path = Path(str(connection.settings_dict["NAME"]))
    if path.exists() and path.stat().st_size and connection.introspection.table_names():
        return None
    return path


def _keep(alias: str, kept: Path) -> None:
    """Write a self-contained copy (``VACUUM INTO``) next to its final name, then move it there at once, so
    that a process reading the cache sees either no copy or a whole one."""
    partial = kept.with_name(f".{kept.name}.{uuid.uuid4().hex}")
    with connections[alias].cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(partial)])
    os.chmod(partial, 0o600)
    os.replace(partial, kept)


def main() -> None:
    """``python -m hotline.demo.blankdb``: migrate the configured database as above and say how (the tests
    that run the ``hotline`` command on a SQLite file of their own start from this)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings")
    django.setup()
    print(migrate())


if __name__ == "__main__":
    main()
