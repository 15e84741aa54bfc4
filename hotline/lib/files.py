"""Durable file writes: a new file's bytes and a folder's entries reach the disk before we go on."""

from __future__ import annotations

import os
from pathlib import Path


def write_new_synced(path: Path, data: bytes) -> None:
    """Create ``path`` (refusing an existing one), owner-only, and fsync its bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def sync_dir(path: Path) -> None:
    """fsync a file or a folder: a rename or unlink is durable only once the folder entry is on disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
