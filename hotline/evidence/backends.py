"""Storage backends: where the encrypted store's files live (a five-method interface and its filesystem
implementation). Only ciphertext ever reaches a ``Storage``; encryption, keys and the ``Blob`` rows are
``hotline.evidence.store`` (the encrypted content store).

An S3-compatible backend implements the same five methods with the name as the object key
(optionally under a configured prefix): ``put`` is one ``PutObject`` (object stores publish a
whole object or nothing, so no temporary name is needed), ``get`` is ``GetObject`` (``NoSuchKey``
becomes ``NotFound``), ``delete`` is ``DeleteObject`` (idempotent), ``exists`` is ``HeadObject``
(404 means ``False``) and ``names`` pages through ``ListObjectsV2`` yielding the keys that are
valid names. It must refuse invalid names with ``check_name`` like the filesystem does, and it
is registered in ``storage_from_settings`` under its own ``BACKEND`` value.
"""

from __future__ import annotations

import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from hotline.lib.files import make_dirs_synced, sync_dir, write_new_synced

NAME_RE = re.compile(r"[0-9a-f]{64}")
_FAN_OUT_RE = re.compile(r"[0-9a-f]{2}")
_TEMP_MARKER = ".tmp-"


class StorageError(Exception):
    """The storage refused or failed an operation."""


class InvalidName(StorageError, ValueError):
    """A name that is not 64 lowercase hex characters (would allow path traversal)."""


class NotFound(StorageError):
    """No object stored under that name."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        raise InvalidName(f"storage name {name!r} is not 64 lowercase hex characters")
    return name


class Storage(ABC):
    """Opaque bytes under 64-hex-character names. Writes are all-or-nothing."""

    @abstractmethod
    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name`` atomically, replacing what was there."""

    @abstractmethod
    def get(self, name: str) -> bytes:
        """Return the bytes under ``name``; raise ``NotFound`` if there are none."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove ``name``; no error if it is already gone."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def names(self) -> Iterator[str]:
        """Every stored name (never temporary files), in no particular order."""


class FileSystemStorage(Storage):
    """Files under ``root/ab/cd/<name>``, written to a temporary name, fsynced, then renamed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        check_name(name)
        return self.root / name[:2] / name[2:4] / name

    def put(self, name: str, data: bytes) -> None:
        target = self.path(name)
        make_dirs_synced(target.parent)  # a new fan-out folder's entry on disk too, or the file may not be
        temp = target.with_name(f"{name}{_TEMP_MARKER}{secrets.token_hex(8)}")
        try:
            write_new_synced(temp, data)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        sync_dir(target.parent)

    def get(self, name: str) -> bytes:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"nothing stored under {name}") from exc

    def delete(self, name: str) -> None:
        target = self.path(name)
        target.unlink(missing_ok=True)
        if target.parent.exists():
            sync_dir(target.parent)

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def names(self) -> Iterator[str]:
        for first in _subdirs(self.root):
            for second in _subdirs(first):
                for entry in second.iterdir():
                    name = entry.name
                    if NAME_RE.fullmatch(name) and name[:2] == first.name and name[2:4] == second.name:
                        yield name






def _subdirs(path: Path) -> Iterator[Path]:
    if not path.is_dir():
        return
    for entry in path.iterdir():
        if entry.is_dir() and _FAN_OUT_RE.fullmatch(entry.name):
            yield entry


def storage_from_settings() -> Storage:
    """The storage named by ``settings.HOTLINE_STORE`` (read on every call, so overrides apply)."""
    config: dict[str, Any] = getattr(settings, "HOTLINE_STORE", None) or {}
    backend = config.get("BACKEND", "filesystem")
    if backend == "filesystem":
        root = config.get("ROOT") or Path(settings.VAR_DIR) / "store"
        return FileSystemStorage(Path(root))
    raise ImproperlyConfigured(f"HOTLINE_STORE BACKEND {backend!r} is unknown (known: 'filesystem').")
