"""Backups of the database and the encrypted content store, and restoring them (``hotline backup``/``restore``).

A backup is one folder: the database (a SQLite online copy or a ``pg_dump`` custom-format dump), the
store's files exactly as stored (ciphertext, never decrypted) and ``manifest.json`` with the SHA-256
of every file. No key is ever written: store keys, field keys and SECRET_KEY are backed up separately.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, cast

from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.audit.models import AuditEvent
from hotline.evidence.backends import NotFound, storage_from_settings
from hotline.evidence.models import Blob
from hotline.evidence.store import store_keyring
from hotline.lib.files import sync_dir, write_new_synced
from hotline.reports.models import Item

Vendor = Literal["sqlite", "postgresql"]
MANIFEST = "manifest.json"
DATABASE_FILES: dict[Vendor, str] = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_STORE_ENTRY_RE = re.compile(r"store/([0-9a-f]{2})/([0-9a-f]{2})/(?P<name>\1\2[0-9a-f]{60})")
_CHUNK = 1 << 20
_PG_ENV = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD", "NAME": "PGDATABASE"}
_PG_OPTION_ENV = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE", "service": "PGSERVICE", "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupError(Exception):
    """A backup cannot be written, or a folder cannot be restored; ``problems`` lists every reason."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message + "".join(f"\n  - {problem}" for problem in self.problems))


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class DatabaseInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    vendor: Vendor
    file: str


class Manifest(BaseModel):
    """What ``manifest.json`` holds. ``store_key_ids`` names the master keys the blobs need, never a key."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    format: Literal["hotline-backup"] = "hotline-backup"
    format_version: Literal[1] = 1
    created_at: datetime
    hotline_version: str
    database: DatabaseInfo
    migrations: dict[str, str]
    store_key_ids: list[str]
    blobs: int = Field(ge=0)
    missing_blobs: list[str]
    files: list[FileEntry]

    def entry(self, name: str) -> FileEntry:
        return next(entry for entry in self.files if entry.name == name)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest_sha256: str
    files: int
    size: int
    missing_blobs: list[str]


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    manifest_sha256: str
    database: str
    store_files: int
    migrated: list[str]
    counts: dict[str, int]
    missing_key_ids: list[str]


class _Cursor(Protocol):
    def execute(self, sql: str, /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True)
class _Snapshot:
    migrations: dict[str, str]
    blobs: list[tuple[str, str]]


def hotline_version() -> str:
    try:
        return metadata.version("hotline")
    except metadata.PackageNotFoundError:
        return "unknown"


def require_tool(name: str) -> str:
    """The path of a PostgreSQL client program, or a ``BackupError`` that says how to get it."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed or not on PATH: install the PostgreSQL client tools "
                          "(the server's major version or newer) and try again")
    return path


def backup(out: Path, *, using: str = "default", now: datetime | None = None) -> BackupResult:
    """Write one ``hotline-backup-<UTC time>`` folder under ``out``.

    Order: 1. a consistent snapshot of the database; 2. the store files its blob rows name (each
    file is written before its row, so all are there unless deleted meanwhile: those are listed as
    ``missing_blobs``); 3. the manifest; 4. rename the finished folder into place, so a folder with
    the final name is always complete.
    """
    at = now or timezone.now()
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"hotline-backup-{at:%Y%m%dT%H%M%SZ}"
    if final.exists():
        raise BackupError(f"{final} already exists")
    work = Path(tempfile.mkdtemp(prefix=".partial-hotline-backup-", dir=out))
    try:
        db = connections[using]
        vendor = _vendor(db)
        snapshot = _dump_database(db, vendor, work / DATABASE_FILES[vendor])
        entries, missing = _copy_store(work, snapshot.blobs)
        manifest = Manifest(
            created_at=at, hotline_version=hotline_version(),
            database=DatabaseInfo(vendor=vendor, file=DATABASE_FILES[vendor]),
            migrations=snapshot.migrations, store_key_ids=sorted({key_id for _, key_id in snapshot.blobs}),
            blobs=len(snapshot.blobs), missing_blobs=missing,
            files=[_file_entry(work, DATABASE_FILES[vendor]), *entries],
        )
        data = manifest.model_dump_json(indent=2).encode("utf-8")
        write_new_synced(work / MANIFEST, data)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    sync_dir(out)
    return BackupResult(path=final, manifest_sha256=hashlib.sha256(data).hexdigest(), files=len(manifest.files),
                        size=sum(entry.size for entry in manifest.files), missing_blobs=missing)


def _vendor(db: BaseDatabaseWrapper) -> Vendor:
    if db.vendor in DATABASE_FILES:
        return cast(Vendor, db.vendor)
    raise BackupError(f"cannot back up a {db.vendor} database (sqlite and postgresql only)")


def _dump_database(db: BaseDatabaseWrapper, vendor: Vendor, target: Path) -> _Snapshot:
    write_new_synced(target, b"")
    return _dump_sqlite(db, target) if vendor == "sqlite" else _dump_postgresql(db, target)


def _dump_sqlite(db: BaseDatabaseWrapper, target: Path) -> _Snapshot:
    db.ensure_connection()
    with closing(sqlite3.connect(target)) as copy:
        db.connection.backup(copy)
        # A self-contained file: no -wal beside it is needed to read it.
        copy.execute("PRAGMA journal_mode=DELETE")
        snapshot = _read_snapshot(copy.cursor())
    sync_dir(target)
    return snapshot


def _dump_postgresql(db: BaseDatabaseWrapper, target: Path) -> _Snapshot:
    pg_dump = require_tool("pg_dump")
    if db.in_atomic_block:
        raise BackupError("a backup must run outside a transaction")
    # 1. Open one REPEATABLE READ snapshot and export it; 2. read the manifest facts in it;
    # 3. pg_dump dumps that same snapshot, so the facts and the dump agree exactly.
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot_id,) = cursor.fetchone()
        snapshot = _read_snapshot(cursor)
        _run_pg([pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot_id}", f"--file={target}"], db)
    sync_dir(target)
    return snapshot


def _read_snapshot(cursor: _Cursor) -> _Snapshot:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    migrations = {app: name for app, name in cursor.fetchall()}
    cursor.execute(f"SELECT storage_name, key_id FROM {Blob._meta.db_table}")  # noqa: S608 - a model's table
    return _Snapshot(migrations=migrations, blobs=[(name, key_id) for name, key_id in cursor.fetchall()])


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq's environment for the configured database: the password never appears on a command line."""
    env = dict(os.environ)
    options: dict[str, Any] = settings_dict.get("OPTIONS") or {}
    for source, names in ((settings_dict, _PG_ENV), (options, _PG_OPTION_ENV)):
        for key, variable in names.items():
            if source.get(key) not in (None, ""):
                env[variable] = str(source[key])
    return env


def _run_pg(args: list[str], db: BaseDatabaseWrapper) -> None:
    result = subprocess.run(args, env=_pg_env(db.settings_dict), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {result.returncode}): {result.stderr.strip()}")


def _copy_store(work: Path, blobs: list[tuple[str, str]]) -> tuple[list[FileEntry], list[str]]:
    storage = storage_from_settings()
    entries: list[FileEntry] = []
    missing: list[str] = []
    for name in sorted({name for name, _ in blobs}):
        try:
            data = storage.get(name)
        except NotFound:
            missing.append(name)
            continue
        relative = f"store/{name[:2]}/{name[2:4]}/{name}"
        (work / relative).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_new_synced(work / relative, data)
        entries.append(FileEntry(name=relative, sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    return entries, missing


def _file_entry(folder: Path, name: str) -> FileEntry:
    sha256, size = _hash_file(folder / name)
    return FileEntry(name=name, sha256=sha256, size=size)


def read_manifest(folder: Path) -> tuple[Manifest, str]:
    """The parsed manifest of ``folder`` and its SHA-256; ``BackupError`` naming every bad field."""
    try:
        raw = (folder / MANIFEST).read_bytes()
    except OSError as exc:
        raise BackupError(f"{folder} is not a backup: cannot read {MANIFEST} ({exc.strerror})") from exc
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError as exc:
        problems = [f"{MANIFEST}: {'.'.join(map(str, error['loc'])) or '(top)'}: {error['msg']}"
                    for error in exc.errors()]
        raise BackupError(f"{folder / MANIFEST} is not a valid manifest:", problems) from exc
    return manifest, hashlib.sha256(raw).hexdigest()


def check_backup(folder: Path, manifest: Manifest) -> list[str]:
    """Every problem with the files of a backup: unsafe names, missing files, hashes that differ."""
    problems = _layout_problems(manifest)
    for entry in manifest.files:
        if _is_backup_name(entry.name):
            problems.extend(_file_problems(folder, entry))
    return problems


def _is_backup_name(name: str) -> bool:
    """Only these names are ever read: none can hold ``..``, a leading ``/`` or a backslash."""
    return name in DATABASE_FILES.values() or _STORE_ENTRY_RE.fullmatch(name) is not None


def _layout_problems(manifest: Manifest) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for entry in manifest.files:
        if entry.name in seen:
            problems.append(f"{entry.name!r}: listed twice")
        seen.add(entry.name)
        if not _is_backup_name(entry.name):
            problems.append(f"{entry.name!r}: not a name a backup holds (refused: it could reach outside the backup)")
    expected = DATABASE_FILES[manifest.database.vendor]
    if manifest.database.file != expected or expected not in seen:
        problems.append(f"{MANIFEST}: the {manifest.database.vendor} database must be listed as {expected!r}")
    return problems


def _file_problems(folder: Path, entry: FileEntry) -> list[str]:
    path = folder / entry.name
    if not path.resolve().is_relative_to(folder.resolve()):
        return [f"{entry.name!r}: resolves outside the backup (refused)"]
    if path.is_symlink() or not path.is_file():
        return [f"{entry.name}: missing or not a regular file"]
    if _hash_file(path) != (entry.sha256, entry.size):
        return [f"{entry.name}: content does not match the manifest (altered or damaged)"]
    return []


def _target_problems(manifest: Manifest, db: BaseDatabaseWrapper, database_path: Path | None,
                     force: bool) -> list[str]:
    if manifest.database.vendor != db.vendor:
        return [f"the backup holds a {manifest.database.vendor} database; this site uses {db.vendor}"]
    problems = [f"migration {name} is unknown to hotline {hotline_version()} (a backup from a newer version: "
                "upgrade first)" for name in _unknown_migrations(manifest)]
    if db.vendor == "sqlite":
        target = database_path or Path(str(db.settings_dict["NAME"]))
        if str(target) in ("", ":memory:") or str(target).startswith("file:"):
            problems.append("the SQLite database is in memory: give --database-path")
        elif not force and _sqlite_has_tables(target):
            problems.append(f"the database {target} is not empty (--force replaces it)")
    elif database_path is not None:
        problems.append("--database-path is for SQLite; PostgreSQL restores into DATABASE_URL")
    elif not force and db.introspection.table_names():
        problems.append(f"the database {db.settings_dict['NAME']} is not empty (--force replaces it)")
    return problems


def _unknown_migrations(manifest: Manifest) -> list[str]:
    on_disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    return [f"{app}.{name}" for app, name in sorted(manifest.migrations.items()) if (app, name) not in on_disk]


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        with closing(sqlite3.connect(path)) as db:
            (count,) = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    except sqlite3.DatabaseError:
        return True
    return bool(count)


def restore(folder: Path, *, force: bool = False, database_path: Path | None = None,
            using: str = "default") -> RestoreResult:
    """Restore the backup in ``folder`` into the configured store and database (or ``database_path``).

    Order: 1. check every file and the target, writing nothing if anything is wrong; 2. the store
    files (first, because an extra file is a harmless orphan while a missing one loses evidence);
    3. the database; 4. ``migrate`` if the backup's schema is older; 5. count what came back.
    """
    manifest, digest = read_manifest(folder)
    db = connections[using]
    problems = check_backup(folder, manifest) + _target_problems(manifest, db, database_path, force)
    if problems:
        raise BackupError(f"refused to restore {folder}:", problems)
    stored = _restore_store(folder, manifest)
    with _target(db, database_path) as target:
        _restore_database(folder, manifest, target)
        migrated = _migrate_if_older(target)
        counts = {"items": Item.objects.using(target.alias).count(),
                  "blobs": Blob.objects.using(target.alias).count(),
                  "audit events": AuditEvent.objects.using(target.alias).count()}
        where = str(target.settings_dict["NAME"])
    return RestoreResult(manifest=manifest, manifest_sha256=digest, database=where, store_files=stored,
                         migrated=migrated, counts=counts, missing_key_ids=_missing_key_ids(manifest))


def _restore_store(folder: Path, manifest: Manifest) -> int:
    storage = storage_from_settings()
    count = 0
    for entry in manifest.files:
        match = _STORE_ENTRY_RE.fullmatch(entry.name)
        if match is None:
            continue
        data = (folder / entry.name).read_bytes()
        if (hashlib.sha256(data).hexdigest(), len(data)) != (entry.sha256, entry.size):
            raise BackupError(f"{entry.name} changed after it was checked")
        storage.put(match["name"], data)
        count += 1
    return count


@contextmanager
def _target(db: BaseDatabaseWrapper, database_path: Path | None) -> Iterator[BaseDatabaseWrapper]:
    if database_path is None or database_path.resolve() == Path(str(db.settings_dict["NAME"])).resolve():
        yield db
    else:
        with using_sqlite_file(database_path, using=db.alias) as other:
            yield other


@contextmanager
def using_sqlite_file(path: Path, *, using: str = "default") -> Iterator[BaseDatabaseWrapper]:
    """In this thread only, make the ``using`` connection open the SQLite file at ``path`` instead."""
    original = connections[using]
    swapped = type(original)({**original.settings_dict, "NAME": str(path)}, using)
    connections[using] = swapped
    try:
        yield swapped
    finally:
        swapped.close()
        connections[using] = original


def _restore_database(folder: Path, manifest: Manifest, db: BaseDatabaseWrapper) -> None:
    entry = manifest.entry(manifest.database.file)
    if db.vendor == "sqlite":
        _restore_sqlite(folder / entry.name, entry, Path(str(db.settings_dict["NAME"])), db)
    else:
        _restore_postgresql(folder / entry.name, entry, db)


def _restore_sqlite(source: Path, entry: FileEntry, target: Path, db: BaseDatabaseWrapper) -> None:
    # 1. Copy next to the target, checking the bytes; 2. close the connection; 3. drop the old WAL
    # and shared-memory files, which SQLite would otherwise replay onto the new file; 4. rename.
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
    try:
        _copy_checked(source, temp, entry)
        db.close()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_dir(target.parent)


def _restore_postgresql(source: Path, entry: FileEntry, db: BaseDatabaseWrapper) -> None:
    pg_restore = require_tool("pg_restore")
    if _hash_file(source) != (entry.sha256, entry.size):
        raise BackupError(f"{entry.name} changed after it was checked")
    db.close()
    # An empty --dbname makes pg_restore connect (not print SQL), and libpq then takes the database
    # from PGDATABASE like every other connection parameter.
    _run_pg([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--no-password",
             "--dbname=", str(source)], db)


def _migrate_if_older(db: BaseDatabaseWrapper) -> list[str]:
    executor = MigrationExecutor(db)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        call_command("migrate", database=db.alias, interactive=False, verbosity=0, skip_checks=True)
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def _missing_key_ids(manifest: Manifest) -> list[str]:
    try:
        configured = set(store_keyring().keys)
    except ImproperlyConfigured:
        configured = set()
    return [key_id for key_id in manifest.store_key_ids if key_id not in configured]


def _hash_file(path: Path, copy_to: BinaryIO | None = None) -> tuple[str, int]:
    """SHA-256 and size of the file at ``path``, optionally copying it to ``copy_to`` on the way."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if copy_to is not None:
                copy_to.write(chunk)
    return digest.hexdigest(), size


def _copy_checked(source: Path, target: Path, entry: FileEntry) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as writer:
        copied = _hash_file(source, writer)
        writer.flush()
        os.fsync(writer.fileno())
    if copied != (entry.sha256, entry.size):
        raise BackupError(f"{entry.name} changed after it was checked")




