"""hotline restore DIR [--force]: check a backup, then restore its store files and database."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.core.backup import BackupError, RestoreResult, check_backup, read_manifest, restore
from hotline.evidence.backends import StorageError


class Command(BaseCommand):
    help = (
        "Restore a folder written by 'hotline backup'. Every file is checked against manifest.json first; "
        "a database that has tables is only replaced with --force. Stop the web server and workers first."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("folder", type=Path, help="a hotline-backup-... folder")
        parser.add_argument("--force", action="store_true", help="replace a database that is not empty")
        parser.add_argument("--check", action="store_true", help="only check the backup's files; restore nothing")
        parser.add_argument("--database-path", type=Path,
                            help="SQLite only: restore into this file instead of the configured database")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        try:
            if options["check"]:
                self._check(folder)
                return
            result = restore(folder, force=options["force"], database_path=options["database_path"])
        except (BackupError, StorageError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self._summary(result)

    def _check(self, folder: Path) -> None:
        manifest, digest = read_manifest(folder)
        problems = check_backup(folder, manifest)
        if problems:
            raise BackupError(f"{folder} is damaged or altered:", problems)
        self.stdout.write(f"{folder}: all {len(manifest.files)} files match manifest.json (sha256 {digest})")

    def _summary(self, result: RestoreResult) -> None:
        manifest = result.manifest
        self.stdout.write(f"checked {len(manifest.files)} files against manifest.json "
                          f"(sha256 {result.manifest_sha256})")
        self.stdout.write(f"backup of {manifest.created_at:%Y-%m-%d %H:%M:%S} UTC, hotline {manifest.hotline_version}")
        self.stdout.write(f"restored {result.store_files} store files and the {manifest.database.vendor} "
                          f"database into {result.database}")
        migrated = ", ".join(result.migrated) or "none needed"
        self.stdout.write(f"migrations applied: {migrated}")
        self.stdout.write(", ".join(f"{count} {what}" for what, count in result.counts.items()))
        if manifest.missing_blobs:
            self.stderr.write(f"WARNING: {len(manifest.missing_blobs)} blob files were already missing at backup time")
        if result.missing_key_ids:
            self.stderr.write(f"WARNING: HOTLINE_STORE_KEYS lacks key ids {', '.join(result.missing_key_ids)}: "
                              "evidence cannot be read until they are configured")
