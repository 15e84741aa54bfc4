"""hotline backup --out DIR: one folder with the database, the encrypted store files and a manifest."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.core.backup import BackupError, backup
from hotline.evidence.backends import StorageError


class Command(BaseCommand):
    help = (
        "Back up the database and the encrypted content store into a new timestamped folder under --out. "
        "The store files are copied as stored (encrypted); no key is written: back up HOTLINE_STORE_KEYS, "
        "HOTLINE_FIELD_KEYS and the secret key separately."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="folder that receives the backup folder")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup(options["out"])
        except (BackupError, StorageError, OSError) as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(f"wrote {result.path}: {result.files} files, {result.size} bytes")
        self.stdout.write(f"manifest.json sha256 {result.manifest_sha256} (keep it apart to check the backup later)")
        if result.missing_blobs:
            self.stderr.write(f"WARNING: {len(result.missing_blobs)} blob files were missing from the store "
                              f"(deleted during the backup, or lost): {', '.join(result.missing_blobs[:5])}")
