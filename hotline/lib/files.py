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


def make_dirs_synced(path: Path, mode: int = 0o700) -> None:
    """Create the folder ``path`` and any missing parents, each new folder's entry fsynced into its parent: a file
    in a folder made just now survives a crash only once that folder's own entry is on disk. A folder another
    process made at the same moment is synced all the same (its maker may not have got there yet)."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:
            if not folder.is_dir():
                raise
        sync_dir(folder.parent)
