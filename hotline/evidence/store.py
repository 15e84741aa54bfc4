"""The encrypted content store: each distinct file stored once, AES-256-GCM under its own data key.

A blob's data key is wrapped by a master key from ``settings.HOTLINE_STORE_KEYS`` (``id:key,...``,
first is current); rotating re-wraps the keys in the database and never touches the stored bytes.
Plaintext stays in memory: only ``nonce || ciphertext`` reaches the storage backend
(``hotline.evidence.backends``), under a random name.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import islice

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from hotline.evidence.backends import NotFound, Storage, storage_from_settings
from hotline.evidence.models import Blob
from hotline.lib import prepared
from hotline.lib.crypto import CryptoError, Keyring

NONCE_BYTES = 12
TAG_BYTES = 16
# AES-GCM in the cryptography package takes at most 2**31 - 1 bytes per call.
MAX_BLOB_BYTES = 2**31 - 1
# The max_length of Blob.key_id and Blob.wrapped_key.
_KEY_ID_MAX = 32
_WRAPPED_MAX = 200


class StoreError(Exception):
    """A blob cannot be stored or read back intact (missing, tampered, wrong key, bad hash)."""


@lru_cache(maxsize=4)
def _parse_keyring(spec: str) -> Keyring:
    try:
        ring = Keyring.parse(spec)
    except ValueError as exc:
        raise ImproperlyConfigured(f"HOTLINE_STORE_KEYS: {exc}") from exc
    too_long = [key_id for key_id in ring.keys if len(key_id) > _KEY_ID_MAX]
    if too_long:
        raise ImproperlyConfigured(f"HOTLINE_STORE_KEYS: key id {too_long[0]!r} is longer than {_KEY_ID_MAX}")
    return ring


def store_keyring() -> Keyring:
    """The master keys (cached per configured value, so ``override_settings`` applies)."""
    spec: str | None = getattr(settings, "HOTLINE_STORE_KEYS", None)
    if not spec:
        raise ImproperlyConfigured("HOTLINE_STORE_KEYS (or HOTLINE_STORE_KEYS_FILE) must be set.")
    return _parse_keyring(spec)


def _wrap_aad(sha256: str) -> bytes:
    return b"blob:" + sha256.encode("ascii")


def _label(blob: Blob) -> str:
    return f"blob #{blob.pk}"


def put_blob(data: bytes) -> Blob:
    """Store ``data`` once: return the existing blob with the same SHA-256, or encrypt and add it.

    Order: 1. write the ciphertext file; 2. insert the row. A crash in between leaves an orphan
    file (see ``orphans``), never a row without its file. Two processes storing the same content
    each write their own randomly named file; the loser of the unique ``sha256`` insert deletes
    its file and returns the winner's row.
    """
    return put_blobs([data])[0]


def put_blobs(datas: Sequence[bytes], *, sha256s: Sequence[str | None] | None = None) -> list[Blob]:
    """``put_blob`` for each of ``datas``, in order (one blob per distinct content, the same one for a
    repeat), asking which are stored already in one query: a capture stores its WARC and its files.

    ``sha256s``: for each of ``datas``, its SHA-256 (hex) if the caller computed it already from the very same
    bytes (a capture's analysis of its files), else None; a content is then not hashed twice."""
    for data in datas:
        if len(data) > MAX_BLOB_BYTES:
            raise StoreError(f"{len(data)} bytes is more than a blob can hold ({MAX_BLOB_BYTES})")
    if sha256s is not None and len(sha256s) != len(datas):
        raise ValueError(f"put_blobs: {len(sha256s)} hashes for {len(datas)} contents")
    hashes = [known or hashlib.sha256(data).hexdigest()
              for data, known in zip(datas, sha256s if sha256s is not None else [None] * len(datas), strict=True)]
    if not hashes:
        return []
    # compiled once per padded number of contents (``prepared.padded``): a capture asks this for every page
    known = {blob.sha256: blob for blob in prepared.instances("evidence.stored_blobs", _stored,
                                                              sha256=prepared.padded(sorted(set(hashes))))}
    sealed: dict[str, Blob] = {}
    storage = storage_from_settings()
    for data, sha256 in zip(datas, hashes, strict=True):
        if sha256 not in known and sha256 not in sealed:
            sealed[sha256] = _seal(data, sha256, store_keyring(), storage)  # every file written before any row
    known.update(_insert_all(list(sealed.values()), storage))
    return [known[sha256] for sha256 in hashes]


def _stored(sha256: list[str]) -> QuerySet[Blob]:
    return Blob.objects.filter(sha256__in=sha256)


def _insert_all(blobs: list[Blob], storage: Storage) -> dict[str, Blob]:
    """Insert the rows of freshly written files: in one statement, or, should another writer have stored one
    of these contents meanwhile, one by one (``_insert_or_existing``: the losers' files are dropped)."""
    if len(blobs) > 1:
        try:
            with transaction.atomic():
                prepared.insert(blobs)  # ``bulk_create``'s INSERT, compiled once per number of rows
        except IntegrityError:
            for blob in blobs:
                blob.pk = None
                blob._state.adding = True
        else:
            return {blob.sha256: blob for blob in blobs}
    return {blob.sha256: _insert_or_existing(blob, storage) for blob in blobs}


def _insert_or_existing(blob: Blob, storage: Storage) -> Blob:
    """Insert the row for a freshly written file, or, if another writer won, drop the file."""
    try:
        with transaction.atomic():
            blob.save(force_insert=True)
    except IntegrityError:
        storage.delete(blob.storage_name)
        winner = Blob.objects.filter(sha256=blob.sha256).first()
        if winner is None:
            raise
        return winner
    return blob


def _seal(data: bytes, sha256: str, ring: Keyring, storage: Storage) -> Blob:
    """Encrypt ``data`` under a fresh data key, write it, and return the unsaved row for it."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + AESGCM(data_key).encrypt(nonce, data, sha256.encode("ascii"))
    wrapped = ring.encrypt(data_key, aad=_wrap_aad(sha256))
    if len(wrapped) > _WRAPPED_MAX:
        raise ImproperlyConfigured(f"HOTLINE_STORE_KEYS: key id {ring.current!r} makes wrapped keys too long")
    # A random name: nothing on disk links a file to its content hash, and no two writers share one.
    name = secrets.token_hex(32)
    storage.put(name, sealed)
    return Blob(sha256=sha256, size=len(data), storage_name=name, key_id=ring.current, wrapped_key=wrapped)


def get_blob_bytes(blob: Blob) -> bytes:
    """Decrypt ``blob`` in memory and check it is exactly what was stored; else ``StoreError``."""
    data_key = _unwrap(blob, store_keyring())
    try:
        sealed = storage_from_settings().get(blob.storage_name)
    except NotFound as exc:
        raise StoreError(f"{_label(blob)}: its stored file is missing") from exc
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise StoreError(f"{_label(blob)}: its stored file is truncated")
    try:
        data = AESGCM(data_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], blob.sha256.encode("ascii"))
    except InvalidTag as exc:
        raise StoreError(f"{_label(blob)}: its stored file was altered or belongs to another blob") from exc
    if len(data) != blob.size or hashlib.sha256(data).hexdigest() != blob.sha256:
        raise StoreError(f"{_label(blob)}: content does not match its recorded SHA-256 and size")
    return data


def _unwrap(blob: Blob, ring: Keyring) -> bytes:
    try:
        data_key = ring.decrypt(blob.wrapped_key, aad=_wrap_aad(blob.sha256))
    except CryptoError as exc:
        raise StoreError(f"{_label(blob)}: data key cannot be unwrapped ({exc})") from exc
    if len(data_key) != 32:
        raise StoreError(f"{_label(blob)}: data key has the wrong length")
    return data_key


def rewrap_keys(batch: int = 500) -> int:
    """Re-wrap every blob's data key with the current master key; return how many were re-wrapped
    (``hotline.evidence.services.rotate_keys`` is the audited verb).

    Safe while other processes read and write: 1. readers hold a keyring with both the old and
    the new key, so either wrapping decrypts; 2. each row changes with an UPDATE conditional on the
    wrapping it was read with, so a concurrent rotation or deletion makes it a no-op, never a
    lost write; 3. rows are visited in primary-key order, so the loop ends even if rows are added.
    Stored files are never rewritten.
    """
    ring = store_keyring()
    rewrapped, after_pk = 0, 0
    while True:
        rows = list(
            Blob.objects.exclude(key_id=ring.current).filter(pk__gt=after_pk).order_by("pk")[:batch]
        )
        if not rows:
            break
        with transaction.atomic():
            rewrapped += sum(_rewrap_one(blob, ring) for blob in rows)
        after_pk = rows[-1].pk
    return rewrapped


def _rewrap_one(blob: Blob, ring: Keyring) -> int:
    try:
        wrapped = ring.rewrap(blob.wrapped_key, aad=_wrap_aad(blob.sha256))
    except CryptoError as exc:
        raise StoreError(f"{_label(blob)}: data key cannot be re-wrapped ({exc})") from exc
    return (
        Blob.objects.filter(pk=blob.pk, key_id=blob.key_id, wrapped_key=blob.wrapped_key)
        .update(key_id=ring.current, wrapped_key=wrapped)
    )


def key_status() -> dict[str, int]:
    """How many blobs are wrapped with each master key id."""
    rows = Blob.objects.order_by().values("key_id").annotate(n=Count("pk"))
    return {row["key_id"]: row["n"] for row in rows}


def delete_blob(blob: Blob) -> None:
    """Delete the row, then (after commit) the file.

    Row first: the row may be protected by references, or the caller's transaction may roll
    back, and either must leave the file in place. A crash after commit leaves an orphan file
    whose data key went with the row, so it is unreadable and ``orphans`` finds it.
    """
    storage = storage_from_settings()
    name = blob.storage_name
    with transaction.atomic():
        blob.delete()
        transaction.on_commit(lambda: storage.delete(name))


def orphans(chunk: int = 1000) -> list[str]:
    """Stored names with no blob row: left by a crash between writing a file and inserting its row.

    A name can also belong to a put still in flight, so delete with ``remove_orphans`` given the
    names found by an earlier call (say an hour before), never the names of this one.
    """
    storage = storage_from_settings()
    found: list[str] = []
    for names in _chunks(storage.names(), chunk):
        known = set(Blob.objects.filter(storage_name__in=names).values_list("storage_name", flat=True))
        found.extend(name for name in names if name not in known)
    return found


def remove_orphans(candidates: Iterable[str]) -> int:
    """Delete the files among ``candidates`` that still have no blob row; return how many."""
    storage = storage_from_settings()
    removed = 0
    for names in _chunks(iter(candidates), 1000):
        known = set(Blob.objects.filter(storage_name__in=names).values_list("storage_name", flat=True))
        for name in names:
            if name not in known and storage.exists(name):
                storage.delete(name)
                removed += 1
    return removed


def _chunks(names: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(names, size)):
        yield chunk
