from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from PIL import Image, ImageDraw

from hotline.audit.models import AuditEvent
from hotline.evidence.backends import FileSystemStorage, InvalidName, NotFound, storage_from_settings
from hotline.evidence.models import Blob
from hotline.evidence.services import rotate_keys
from hotline.evidence.store import (
    StoreError,
    _insert_all,
    _insert_or_existing,
    _rewrap_one,
    _seal,
    delete_blob,
    get_blob_bytes,
    key_status,
    orphans,
    put_blob,
    put_blobs,
    remove_orphans,
    store_keyring,
)
from hotline.lib.crypto import Keyring, new_key_spec

T = TypeVar("T")

pytestmark = pytest.mark.django_db

OLD_SPEC = new_key_spec("k1")


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    store = tmp_path / "store"
    with override_settings(HOTLINE_STORE={"BACKEND": "filesystem", "ROOT": str(store)}, HOTLINE_STORE_KEYS=OLD_SPEC):
        yield store


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def _generated_png() -> bytes:
    image = Image.new("RGB", (64, 48), (30, 120, 200))
    ImageDraw.Draw(image).ellipse((8, 8, 40, 40), fill=(250, 200, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


CONTENTS: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "one byte": lambda: os.urandom(1),
    "random 200 kB": lambda: os.urandom(200_000),
    "generated png": _generated_png,
}


@pytest.mark.parametrize("kind", CONTENTS)
def test_it_round_trips_content(root: Path, kind: str) -> None:
    data = CONTENTS[kind]()
    blob = put_blob(data)
    assert (blob.sha256, blob.size, blob.key_id) == (hashlib.sha256(data).hexdigest(), len(data), "k1")
    assert get_blob_bytes(Blob.objects.get(pk=blob.pk)) == data


def test_it_stores_the_same_content_once(root: Path) -> None:
    data = os.urandom(5000)
    first, second = put_blob(data), put_blob(bytes(data))
    assert first.pk == second.pk
    assert Blob.objects.count() == 1 and len(_files(root)) == 1


def test_it_gives_different_content_different_rows_and_names(root: Path) -> None:
    a, b = put_blob(os.urandom(100)), put_blob(os.urandom(100))
    assert a.pk != b.pk and a.storage_name != b.storage_name
    assert len(_files(root)) == 2


@pytest.mark.parametrize("kind", ["random 200 kB", "generated png"])
def test_it_writes_neither_plaintext_nor_its_hash_to_disk_logs_or_other_columns(
    root: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = CONTENTS[kind]()
    digest = hashlib.sha256(data).digest()
    secrets_ = [data, data[:32], data[-32:], digest, digest.hex().encode()]
    with caplog.at_level(logging.DEBUG):
        blob = put_blob(data)
        assert get_blob_bytes(blob) == data
    assert blob.storage_name != blob.sha256
    for path in _files(root):
        content = path.read_bytes()
        assert not any(secret in content for secret in secrets_), path
        assert digest.hex() not in str(path)
    for row in Blob.objects.values():
        for column, value in row.items():
            if column == "sha256":
                continue  # the content address itself: the one column meant to hold it
            text = str(value).encode()
            assert not any(secret in text for secret in secrets_), column
    assert digest.hex() not in caplog.text and data[:32].hex() not in caplog.text


def _flip_last_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[-1] ^= 0x01
    path.write_bytes(bytes(content))


TAMPERING: dict[str, Callable[[Path, Path], object]] = {
    "flipped bit": lambda path, other: _flip_last_byte(path),
    "truncated": lambda path, other: path.write_bytes(path.read_bytes()[:20]),
    "swapped for another blob's file": lambda path, other: path.write_bytes(other.read_bytes()),
    "deleted": lambda path, other: path.unlink(),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_it_refuses_a_tampered_file_and_names_the_blob(root: Path, how: str) -> None:
    blob, other = put_blob(os.urandom(3000)), put_blob(os.urandom(3000))
    storage = FileSystemStorage(root)
    TAMPERING[how](storage.path(blob.storage_name), storage.path(other.storage_name))
    with pytest.raises(StoreError, match=f"blob #{blob.pk}"):
        get_blob_bytes(blob)


def test_it_refuses_a_row_whose_hash_was_edited(root: Path) -> None:
    blob = put_blob(os.urandom(3000))
    Blob.objects.filter(pk=blob.pk).update(sha256=hashlib.sha256(b"something else").hexdigest())
    with pytest.raises(StoreError, match=f"blob #{blob.pk}: data key cannot be unwrapped"):
        get_blob_bytes(Blob.objects.get(pk=blob.pk))


@pytest.mark.parametrize("spec,message", [
    ("k1:" + "D" * 43, "damaged or was not made with this key"),
    ("k9:" + "E" * 43, "'k1' is not configured"),
], ids=["same-id-other-key", "unknown-id"])
def test_it_refuses_to_read_with_the_wrong_master_key(root: Path, spec: str, message: str) -> None:
    blob = put_blob(os.urandom(3000))
    with override_settings(HOTLINE_STORE_KEYS=spec), pytest.raises(StoreError, match=message):
        get_blob_bytes(blob)


def test_rotation_rewraps_every_key_and_never_touches_the_files(root: Path) -> None:
    contents = [os.urandom(1000 + n) for n in range(5)]
    blobs = [put_blob(data) for data in contents]
    files_before = {path: path.read_bytes() for path in _files(root)}
    new_spec = new_key_spec("k2")
    with override_settings(HOTLINE_STORE_KEYS=f"{new_spec},{OLD_SPEC}"):
        newer = put_blob(os.urandom(999))
        assert get_blob_bytes(blobs[0]) == contents[0]
        assert rotate_keys(batch=2) == 5
        assert rotate_keys(batch=2) == 0
        assert key_status() == {"k2": 6}
    assert {path: path.read_bytes() for path in _files(root) if path != FileSystemStorage(root).path(
        newer.storage_name)} == files_before
    with override_settings(HOTLINE_STORE_KEYS=new_spec):
        assert [get_blob_bytes(Blob.objects.get(pk=b.pk)) for b in blobs] == contents
    event = AuditEvent.objects.get(action="store.keys_rotated")
    assert event.after == {"key_id": "k2", "rewrapped": 5}


def test_rotation_stops_with_the_blob_whose_old_key_is_gone(root: Path) -> None:
    blob = put_blob(os.urandom(100))
    with override_settings(HOTLINE_STORE_KEYS=new_key_spec("k2")), pytest.raises(StoreError, match=f"blob #{blob.pk}"):
        rotate_keys()


def test_a_rotation_that_lost_the_race_leaves_the_row_alone(root: Path) -> None:
    blob = put_blob(os.urandom(100))
    stale = Blob.objects.get(pk=blob.pk)
    with override_settings(HOTLINE_STORE_KEYS=f"{new_key_spec('k2')},{OLD_SPEC}"):
        assert rotate_keys() == 1
    rotated = Blob.objects.get(pk=blob.pk)
    with override_settings(HOTLINE_STORE_KEYS=f"{new_key_spec('k3')},{OLD_SPEC}"):
        assert _rewrap_one(stale, store_keyring()) == 0
    assert Blob.objects.get(pk=blob.pk).wrapped_key == rotated.wrapped_key


def test_the_loser_of_a_concurrent_insert_drops_its_file_and_returns_the_winner(root: Path) -> None:
    data = os.urandom(2000)
    sha256, storage = hashlib.sha256(data).hexdigest(), FileSystemStorage(root)
    winner = _insert_or_existing(_seal(data, sha256, store_keyring(), storage), storage)
    loser = _seal(data, sha256, store_keyring(), storage)
    assert len(_files(root)) == 2
    assert _insert_or_existing(loser, storage).pk == winner.pk
    assert _files(root) == [storage.path(winner.storage_name)]
    assert get_blob_bytes(winner) == data


def test_several_contents_are_stored_in_order_once_each_with_one_look_up_and_one_insert(root: Path) -> None:
    """``put_blobs``: the blobs of ``datas`` in order; a repeat and a content stored before are the same row;
    which are stored already is one query, the new rows one INSERT (however many)."""
    stored = put_blob(b"stored before")
    for count in (2, 5):
        datas = [os.urandom(3000) for _ in range(count)]
        before = Blob.objects.count()
        with CaptureQueriesContext(connection) as context:
            blobs = put_blobs([datas[0], b"stored before", *datas, datas[-1]])
        sent = [q["sql"].split()[0].upper() for q in context.captured_queries]
        assert sent.count("SELECT") == 1 and sent.count("INSERT") == 1, sent
        assert blobs[1].pk == stored.pk and blobs[0].pk == blobs[2].pk and blobs[-1].pk == blobs[-2].pk
        assert [get_blob_bytes(b) for b in blobs[2:-1]] == datas
        assert Blob.objects.count() == before + count and len(_files(root)) == before + count
    assert put_blobs([]) == []


def test_the_loser_of_a_concurrent_batch_insert_drops_only_its_file_of_the_raced_content(root: Path) -> None:
    raced, own = os.urandom(2000), os.urandom(2000)
    storage = FileSystemStorage(root)
    raced_sha, own_sha = hashlib.sha256(raced).hexdigest(), hashlib.sha256(own).hexdigest()
    losers = [_seal(raced, raced_sha, store_keyring(), storage), _seal(own, own_sha, store_keyring(), storage)]
    winner = _insert_or_existing(_seal(raced, raced_sha, store_keyring(), storage), storage)  # stored meanwhile
    assert len(_files(root)) == 3
    rows = _insert_all(losers, storage)
    assert rows[raced_sha].pk == winner.pk and get_blob_bytes(rows[own_sha]) == own
    assert _files(root) == sorted([storage.path(winner.storage_name), storage.path(rows[own_sha].storage_name)])
    assert Blob.objects.count() == 2


def _race(count: int, work: Callable[[Any], T], *, setup: Callable[[], Any]) -> list[T]:
    """``work(setup())`` in ``count`` threads released at once (each with its own connection); their results,
    every thread's exception raised here."""
    start = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            given = setup()
            start.wait()
            results.append(work(given))
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == count
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_a_batch_raced_by_four_threads_stores_each_content_once(root: Path) -> None:
    shared = os.urandom(50_000)
    results = _race(4, lambda own: [blob.pk for blob in put_blobs([own, shared])], setup=lambda: os.urandom(1000))
    assert len({pks[1] for pks in results}) == 1
    assert Blob.objects.count() == 5 and len(_files(root)) == 5
    assert get_blob_bytes(Blob.objects.get(pk=results[0][1])) == shared


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_it_stores_content_raced_by_four_threads_once(root: Path) -> None:
    data = os.urandom(50_000)
    results = _race(4, lambda _: put_blob(data).pk, setup=lambda: None)
    assert len(set(results)) == 1
    assert Blob.objects.count() == 1 and len(_files(root)) == 1
    assert get_blob_bytes(Blob.objects.get()) == data


def test_deleting_a_blob_removes_row_and_file_after_commit(
    root: Path, django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[object]]
) -> None:
    keep, gone = put_blob(os.urandom(100)), put_blob(os.urandom(100))
    with django_capture_on_commit_callbacks(execute=True):
        delete_blob(gone)
    assert list(Blob.objects.values_list("pk", flat=True)) == [keep.pk]
    assert _files(root) == [FileSystemStorage(root).path(keep.storage_name)]


def test_a_rolled_back_deletion_keeps_the_file(
    root: Path, django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[object]]
) -> None:
    data = os.urandom(100)
    blob = put_blob(data)
    pk = blob.pk
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        delete_blob(blob)
        raise RuntimeError("caller failed")
    assert get_blob_bytes(Blob.objects.get(pk=pk)) == data


def test_orphan_files_are_found_and_removed_but_stored_blobs_are_not(root: Path) -> None:
    blob = put_blob(os.urandom(100))
    storage = FileSystemStorage(root)
    orphan = "e" * 64
    storage.put(orphan, os.urandom(50))
    assert orphans(chunk=1) == [orphan]
    assert remove_orphans([orphan, blob.storage_name]) == 1
    assert orphans() == [] and _files(root) == [storage.path(blob.storage_name)]


BAD_NAMES = ["../../etc/passwd", "../" + "a" * 61, "/" + "a" * 63, "A" * 64, "a" * 63, "a" * 65, "a" * 64 + "\n",
             "", "aa/bb/" + "a" * 58, "a" * 63 + "\x00"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_filesystem_refuses_names_that_could_escape_its_root(tmp_path: Path, name: str) -> None:
    storage = FileSystemStorage(tmp_path / "store")
    for call in (lambda: storage.put(name, b"x"), lambda: storage.get(name), lambda: storage.exists(name),
                 lambda: storage.delete(name)):
        with pytest.raises(InvalidName):
            call()
    assert list(tmp_path.rglob("*")) == []


def test_the_filesystem_writes_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    storage, name = FileSystemStorage(tmp_path), "ab" + "c" * 62
    storage.put(name, b"first")
    storage.put(name, b"second")
    assert _files(tmp_path) == [tmp_path / "ab" / "cc" / name]
    assert storage.get(name) == b"second" and storage.exists(name)
    assert (tmp_path / "ab" / "cc" / name).stat().st_mode & 0o077 == 0
    with pytest.raises(TypeError):
        storage.put(name, "not bytes")  # type: ignore[arg-type]
    assert _files(tmp_path) == [tmp_path / "ab" / "cc" / name] and storage.get(name) == b"second"


def test_the_filesystem_lists_only_stored_names(tmp_path: Path) -> None:
    storage, names = FileSystemStorage(tmp_path), sorted(["0" * 64, "ab" * 32, "ff" * 32])
    for name in names:
        storage.put(name, b"x")
    (tmp_path / "ab" / "ab" / f"{'ab' * 32}.tmp-0011").write_bytes(b"crashed write")
    (tmp_path / "ab" / "ab" / ("cd" * 32)).write_bytes(b"in the wrong directory")
    (tmp_path / "README").write_text("stray")
    assert sorted(storage.names()) == names
    storage.delete(names[0])
    storage.delete(names[0])
    assert not storage.exists(names[0])
    with pytest.raises(NotFound):
        storage.get(names[0])


def test_storage_settings_default_to_the_var_directory_and_refuse_unknown_backends() -> None:
    with override_settings(HOTLINE_STORE={}):
        storage = storage_from_settings()
        assert isinstance(storage, FileSystemStorage)
        assert storage.root.name == "store"
    with override_settings(HOTLINE_STORE={"BACKEND": "s3"}), pytest.raises(ImproperlyConfigured, match="'s3'"):
        storage_from_settings()


@pytest.mark.parametrize("spec,message", [
    ("", "must be set"), ("k1:c2hvcnQ", "32 bytes"), ("k" * 33 + ":" + "C" * 43, "longer than 32"),
])
def test_bad_master_key_settings_fail_loudly(spec: str, message: str) -> None:
    with override_settings(HOTLINE_STORE_KEYS=spec), pytest.raises(ImproperlyConfigured, match=message):
        store_keyring()


def test_the_keys_command_creates_shows_and_rotates(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_blob(os.urandom(100))
    call_command("keys", "new", "--id", "k2")
    new_spec = capsys.readouterr().out.strip()
    assert Keyring.parse(new_spec).current == "k2"
    with override_settings(HOTLINE_STORE_KEYS=f"{new_spec},{OLD_SPEC}"):
        call_command("keys", "status")
        assert capsys.readouterr().out.split("\n")[:2] == ["k2\t0 blobs\tcurrent", "k1\t1 blobs\tconfigured"]
        call_command("keys", "rotate")
        assert capsys.readouterr().out.strip() == "re-wrapped 1 blobs; current key id: k2"
    with override_settings(HOTLINE_STORE_KEYS=new_key_spec("k3")):
        call_command("keys", "status")
        assert capsys.readouterr().out.split("\n")[:2] == ["k3\t0 blobs\tcurrent", "k2\t1 blobs\tMISSING"]


def test_a_new_fan_out_folder_is_synced_into_its_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored file survives a crash only if the folders made for it are on disk too: each new folder's entry is
    fsynced into its parent before the file's row can be written; a folder already there is not synced again."""
    from hotline.evidence import backends
    from hotline.lib import files

    synced: list[Path] = []
    real = files.sync_dir

    def sync(path: Path) -> None:
        synced.append(Path(path))
        real(path)

    monkeypatch.setattr(files, "sync_dir", sync)
    monkeypatch.setattr(backends, "sync_dir", sync)
    store = FileSystemStorage(tmp_path / "blobs")
    name = "ab" + "c" * 62
    store.put(name, b"first")
    assert synced == [tmp_path, tmp_path / "blobs", tmp_path / "blobs" / "ab", tmp_path / "blobs" / "ab" / "cc"]
    synced.clear()
    store.put("abcc" + "d" * 60, b"second")  # the same folders: only the file's own entry
    assert synced == [tmp_path / "blobs" / "ab" / "cc"]
    assert store.get(name) == b"first" and (tmp_path / "blobs" / "ab" / "cc").stat().st_mode & 0o777 == 0o700
