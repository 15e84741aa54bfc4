"""Evidence bags: round trip, tampering named exactly, path traversal refused on write and on import."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import bagit  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from hotline.evidence.bag import (
    CHECKSUMS,
    CHUNK_SIZE,
    MAGIC,
    PUBLIC_KEY_FILE,
    SIGNATURE_FILE,
    SIGNED_FILE,
    BagFile,
    PackageError,
    _write_new,
    decrypt_bag,
    encrypt_stream,
    encrypt_to_recipient,
    load_signing_key,
    load_trusted_keys,
    new_recipient_key,
    new_signing_key,
    public_key_from_b64,
    recipient_key_from_b64,
    recipient_private_key_from_b64,
    verify_bag,
    write_bag,
)

MEDIA = "media/" + "3f" * 32 + ".jpg"
INFO = {
    "Source-Organization": "Test Hotline",
    "External-Identifier": "case-42",
    "Bagging-Date": "2025-01-02",
    "Contact-Email": "evidence@example.org",
    "Hotline-Item-Ids": "7,8",
}


def _files() -> list[BagFile]:
    return [
        BagFile("warc/capture-12.warc.gz", os.urandom(300)),
        BagFile(MEDIA, os.urandom(200)),
        BagFile("metadata/capture-12.json", b'{"resolved_ip": "192.0.2.10", "headers": {"server": "test"}}'),
        BagFile("audit/item-7.jsonl", b'{"event": "item.assessed"}\n'),
    ]


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def bag_dir(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return write_bag(tmp_path / "bag-case-42", _files(), info=INFO, signing_key=key)


def _problems(bag_dir: Path, key: Ed25519PrivateKey) -> list[str]:
    return verify_bag(bag_dir, trusted_keys=[key.public_key()]).problems


def _sha(algorithm: str, content: bytes) -> str:
    return hashlib.new(algorithm, content).hexdigest()


def _rewrite_manifests(bag_dir: Path, rel: str, content: bytes) -> None:
    """What a forger with bagit would do: change a file and recompute every manifest and tagmanifest."""
    (bag_dir / rel).write_bytes(content)
    for algorithm in ("sha256", "sha512"):
        manifest = bag_dir / f"manifest-{algorithm}.txt"
        lines = [
            f"{_sha(algorithm, content)}  {rel}" if line.endswith(f"  {rel}") else line
            for line in manifest.read_text().splitlines()
        ]
        manifest.write_text("\n".join(lines) + "\n")
    _rewrite_tagmanifests(bag_dir)


def _rewrite_tagmanifests(bag_dir: Path) -> None:
    names = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
    for algorithm in ("sha256", "sha512"):
        lines = [f"{_sha(algorithm, (bag_dir / name).read_bytes())} {name}" for name in names]
        (bag_dir / f"tagmanifest-{algorithm}.txt").write_text("\n".join(lines) + "\n")


def test_it_round_trips_a_bag(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    report = verify_bag(bag_dir, trusted_keys=[key.public_key()])

    assert report.ok and report.problems == []
    assert bagit.Bag(str(bag_dir)).is_valid()
    files = _files()
    for item in files:
        assert (bag_dir / "data" / item.path).exists()
    assert (bag_dir / "data" / "metadata/capture-12.json").read_bytes() == files[2].content
    info = bagit.Bag(str(bag_dir)).info
    assert {label: info[label] for label in INFO} == INFO
    assert info["Payload-Oxum"] == f"{sum(len(f.content) for f in files)}.4"
    assert (bag_dir / "manifest-signature.ed25519").exists() and (bag_dir / "signing-key.pub").exists()


def test_it_keeps_payload_bytes_identical(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    files = _files()
    bag_dir = write_bag(tmp_path / "bag", files, info=INFO, signing_key=key)

    assert {f.path: (bag_dir / "data" / f.path).read_bytes() for f in files} == {f.path: f.content for f in files}


def _bagit_make_bag(target: Path, files: list[BagFile], info: dict[str, str], key: Ed25519PrivateKey) -> Path:
    """How ``write_bag`` wrote a bag before it hashed in memory: the files on disk, ``bagit.make_bag``, then
    the signature of the tagmanifest as read back."""
    target.mkdir(mode=0o700)
    for item in files:
        _write_new(target / item.path, item.content)
    bagit.make_bag(str(target), bag_info=dict(info), checksums=list(CHECKSUMS))
    signature = key.sign((target / SIGNED_FILE).read_bytes())
    (target / SIGNATURE_FILE).write_text(base64.b64encode(signature).decode() + "\n", encoding="ascii")
    (target / PUBLIC_KEY_FILE).write_text(base64.b64encode(key.public_key().public_bytes_raw()).decode() + "\n",
                                          encoding="ascii")
    return target


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under ``root`` with its permission bits and, for a file, its bytes."""
    found: dict[str, tuple[int, bytes | None]] = {"": (stat.S_IMODE(root.stat().st_mode), None)}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        found[path.relative_to(root).as_posix()] = (mode, path.read_bytes() if path.is_file() else None)
    return found


@pytest.mark.parametrize("info", [INFO, {"Source-Organization": "Test Hotline", "External-Identifier": "x-1"}],
                         ids=["dated", "undated"])
def test_it_writes_the_bag_bagit_writes_byte_for_byte(tmp_path: Path, key: Ed25519PrivateKey,
                                                      info: dict[str, str]) -> None:
    """The package is evidence: the same files, manifests, tag manifests (in bagit's order), bag-info,
    signature and permissions as ``bagit.make_bag`` gave for the same input."""
    files = [*_files(), BagFile("a.txt", b"top"), BagFile("a/b.txt", b""), BagFile("b", b"x" * 700_000),
             BagFile("metadata/deep/er/item-1.json", b"{}"), BagFile("metadata/item-1.json", "ü".encode()),
             BagFile("media/Übung.bin", os.urandom(64)), BagFile("Z.csv", b"1,2\n")]
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    ours = write_bag(tmp_path / "ours" / "bag-1", files, info=info, signing_key=key)
    theirs = _bagit_make_bag(tmp_path / "theirs" / "bag-1", files, info, key)

    assert _tree(ours) == _tree(theirs)
    assert verify_bag(ours, trusted_keys=[key.public_key()]).ok
    assert len((ours / "tagmanifest-sha256.txt").read_text().splitlines()) == 4


def test_it_names_a_modified_payload_byte(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    path = bag_dir / "data" / MEDIA
    original = path.read_bytes()
    changed = bytes([original[0] ^ 1]) + original[1:]
    path.write_bytes(changed)

    assert _problems(bag_dir, key) == [
        f"data/{MEDIA}: sha256 mismatch (manifest {_sha('sha256', original)}, file {_sha('sha256', changed)})",
        f"data/{MEDIA}: sha512 mismatch (manifest {_sha('sha512', original)}, file {_sha('sha512', changed)})",
    ]


def test_it_names_a_deleted_payload_file(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    size = (bag_dir / "data/warc/capture-12.warc.gz").stat().st_size
    (bag_dir / "data/warc/capture-12.warc.gz").unlink()
    total = sum(len(f.content) for f in _files())

    assert _problems(bag_dir, key) == [
        f"bag-info.txt: Payload-Oxum says 4 files / {total} bytes, found 3 / {total - size}",
        "data/warc/capture-12.warc.gz: listed in the manifest but missing",
    ]


def test_it_names_an_extra_payload_file(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    (bag_dir / "data/extra.bin").write_bytes(b"0123456789")
    total = sum(len(f.content) for f in _files())

    assert _problems(bag_dir, key) == [
        f"bag-info.txt: Payload-Oxum says 4 files / {total} bytes, found 5 / {total + 10}",
        "data/extra.bin: present but not in the manifest",
    ]


def test_it_names_an_edited_manifest(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    manifest = bag_dir / "manifest-sha256.txt"
    before = manifest.read_bytes()
    real = _sha("sha256", (bag_dir / "data" / MEDIA).read_bytes())
    manifest.write_bytes(before.replace(real.encode(), b"0" * 64))
    after = manifest.read_bytes()

    assert _problems(bag_dir, key) == [
        f"data/{MEDIA}: sha256 mismatch (manifest {'0' * 64}, file {real})",
        f"manifest-sha256.txt: sha256 mismatch (tagmanifest {_sha('sha256', before)}, file {_sha('sha256', after)})",
        f"manifest-sha256.txt: sha512 mismatch (tagmanifest {_sha('sha512', before)}, file {_sha('sha512', after)})",
    ]


def test_it_catches_a_forgery_that_bagit_accepts(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    _rewrite_manifests(bag_dir, f"data/{MEDIA}", b"s" * 200)

    assert bagit.Bag(str(bag_dir)).is_valid()
    assert _problems(bag_dir, key) == ["signature does not match tagmanifest-sha256.txt"]


def test_it_catches_an_edited_bag_info(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    info = bag_dir / "bag-info.txt"
    info.write_text(info.read_text().replace("case-42", "case-43"))
    _rewrite_tagmanifests(bag_dir)

    assert _problems(bag_dir, key) == ["signature does not match tagmanifest-sha256.txt"]


def test_it_names_an_unsigned_tag_file(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    (bag_dir / "manifest-md5.txt").write_text("0" * 32 + "  data/extra.bin\n")
    (bag_dir / "data/extra.bin").write_bytes(b"")

    problems = _problems(bag_dir, key)

    assert "manifest-md5.txt: present but not covered by the signature" in problems
    assert "data/extra.bin: missing from manifest-sha256.txt" in problems


def test_it_rejects_an_untrusted_signing_key(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    stranger = Ed25519PrivateKey.generate()
    bag_dir = write_bag(tmp_path / "bag", _files(), info=INFO, signing_key=stranger)
    stranger_b64 = (bag_dir / "signing-key.pub").read_text().strip()

    assert _problems(bag_dir, key) == [f"signed by a key that is not trusted ({stranger_b64})"]


def test_it_names_a_missing_signature(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    (bag_dir / "manifest-signature.ed25519").unlink()

    assert _problems(bag_dir, key) == ["manifest-signature.ed25519: missing (the bag is not signed)"]


def test_it_names_a_symbolic_link_in_the_bag(bag_dir: Path, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_bytes(b"outside")
    (bag_dir / "data/link.txt").symlink_to(tmp_path / "outside.txt")

    assert "data/link.txt: is a symbolic link (not allowed in a bag)" in _problems(bag_dir, key)


def test_it_reports_a_directory_that_is_not_a_bag(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    report = verify_bag(tmp_path, trusted_keys=[key.public_key()])

    assert not report.ok and report.problems == [f"{tmp_path}: not a bag (no bagit.txt)"]


@pytest.mark.parametrize(
    "name", ["../x", "/etc/x", "a/../../b", "a\\b", "", "a/./b", "a//b", "a/", "C:/x", "a\x00b", "a\nb", "."]
)
def test_it_refuses_unsafe_payload_paths(tmp_path: Path, key: Ed25519PrivateKey, name: str) -> None:
    with pytest.raises(ValueError, match="unsafe bag path") as error:
        write_bag(tmp_path / "bag", [BagFile("ok.txt", b"ok"), BagFile(name, b"x")], info=INFO, signing_key=key)

    assert repr(name) in str(error.value)
    assert not (tmp_path / "bag").exists()
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("first", "second"), [("a.jpg", "A.JPG"), ("a", "a/b"), ("x/y", "x/y")])
def test_it_refuses_colliding_payload_paths(tmp_path: Path, key: Ed25519PrivateKey, first: str, second: str) -> None:
    with pytest.raises(ValueError, match=repr(second).replace("\\", "\\\\")):
        write_bag(tmp_path / "bag", [BagFile(first, b"1"), BagFile(second, b"2")], info=INFO, signing_key=key)


def test_it_refuses_an_existing_target(bag_dir: Path, key: Ed25519PrivateKey) -> None:
    with pytest.raises(FileExistsError):
        write_bag(bag_dir, _files(), info=INFO, signing_key=key)


@pytest.mark.parametrize(
    "info", [{"Payload-Oxum": "1.1"}, {"External-Identifier": "a\nPayload-Oxum: 1.1"}, {"a b": "x"}]
)
def test_it_refuses_unsafe_bag_info(tmp_path: Path, key: Ed25519PrivateKey, info: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        write_bag(tmp_path / "bag", _files(), info=info, signing_key=key)


def _recipient() -> tuple[X25519PrivateKey, X25519PrivateKey]:
    private_b64, public_b64 = new_recipient_key()
    private = recipient_private_key_from_b64(private_b64)
    assert recipient_key_from_b64(public_b64).public_bytes_raw() == private.public_key().public_bytes_raw()
    return private, X25519PrivateKey.generate()


def test_it_round_trips_an_encrypted_bag_of_several_chunks(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    big = BagFile("warc/capture-1.warc.gz", os.urandom(3 * CHUNK_SIZE + 123))
    bag_dir = write_bag(tmp_path / "bag-case-42", [big, *_files()], info=INFO, signing_key=key)
    private, _ = _recipient()
    sealed = tmp_path / "bag-case-42.hlbag"

    encrypt_to_recipient(bag_dir, sealed, private.public_key())
    opened = decrypt_bag(sealed, tmp_path / "inbox", private)

    assert sealed.read_bytes().startswith(MAGIC)
    assert big.content not in sealed.read_bytes()
    assert opened == tmp_path / "inbox" / "bag-case-42"
    assert (opened / "data" / big.path).read_bytes() == big.content
    assert verify_bag(opened, trusted_keys=[key.public_key()]).ok
    assert [p.name for p in (tmp_path / "inbox").iterdir()] == ["bag-case-42"]


@pytest.fixture
def sealed_bag(tmp_path: Path, key: Ed25519PrivateKey) -> tuple[Path, X25519PrivateKey]:
    big = BagFile("warc/capture-1.warc.gz", os.urandom(2 * CHUNK_SIZE))
    bag_dir = write_bag(tmp_path / "bag", [big], info=INFO, signing_key=key)
    private, _ = _recipient()
    encrypt_to_recipient(bag_dir, tmp_path / "bag.hlbag", private.public_key())
    return tmp_path / "bag.hlbag", private


def test_it_refuses_a_tampered_ciphertext_byte(tmp_path: Path, sealed_bag: tuple[Path, X25519PrivateKey]) -> None:
    sealed, private = sealed_bag
    content = bytearray(sealed.read_bytes())
    content[len(content) // 2] ^= 1
    sealed.write_bytes(bytes(content))

    with pytest.raises(PackageError, match="chunk 1 is damaged"):
        decrypt_bag(sealed, tmp_path / "inbox", private)
    assert list((tmp_path / "inbox").iterdir()) == []


def test_it_refuses_a_truncated_container(tmp_path: Path, sealed_bag: tuple[Path, X25519PrivateKey]) -> None:
    sealed, private = sealed_bag
    content = sealed.read_bytes()
    sealed.write_bytes(content[: len(MAGIC) + 64 + 2 * (CHUNK_SIZE + 16)])

    with pytest.raises(PackageError, match="truncated"):
        decrypt_bag(sealed, tmp_path / "inbox", private)
    assert list((tmp_path / "inbox").iterdir()) == []


def test_it_refuses_the_wrong_private_key(tmp_path: Path, sealed_bag: tuple[Path, X25519PrivateKey]) -> None:
    sealed, _ = sealed_bag

    with pytest.raises(PackageError, match="chunk 0"):
        decrypt_bag(sealed, tmp_path / "inbox", X25519PrivateKey.generate())


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, content in members:
            info.size = len(content) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    "evil",
    [
        _member("../evil"),
        _member("bag/../../evil"),
        _member("/tmp/evil"),
        _member("bag/evil", tarfile.SYMTYPE, "../../evil"),
        _member("bag/evil", tarfile.LNKTYPE, "/etc/passwd"),
        _member("bag/evil", tarfile.CHRTYPE),
        _member("other/evil"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink", "device", "second-top-level"],
)
def test_it_refuses_a_malicious_tar_inside_a_valid_container(tmp_path: Path, evil: tarfile.TarInfo) -> None:
    private, _ = _recipient()
    archive = _tar((_member("bag", tarfile.DIRTYPE), b""), (_member("bag/ok.txt"), b"ok"), (evil, b"evil"))
    sealed = tmp_path / "evil.hlbag"
    with sealed.open("xb") as sink:
        encrypt_stream(io.BytesIO(archive), sink, private.public_key())
    out_dir = tmp_path / "a" / "inbox"

    with pytest.raises(PackageError, match="refusing tar member"):
        decrypt_bag(sealed, out_dir, private)

    assert list(out_dir.iterdir()) == []
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["a", "a/inbox", "evil.hlbag"]


def test_it_refuses_to_package_a_symbolic_link(bag_dir: Path, tmp_path: Path) -> None:
    (bag_dir / "data/link").symlink_to("/etc/hostname")

    with pytest.raises(ValueError, match="links and special files"):
        encrypt_to_recipient(bag_dir, tmp_path / "out.hlbag", X25519PrivateKey.generate().public_key())
    assert not (tmp_path / "out.hlbag").exists()


def test_it_loads_keys_from_settings(bag_dir: Path) -> None:
    private_b64, public_b64 = new_signing_key()
    own = public_key_from_b64(public_b64).public_bytes_raw()
    other = new_signing_key()[1]

    with override_settings(HOTLINE_EVIDENCE_SIGNING_KEY=private_b64, HOTLINE_EVIDENCE_TRUSTED_KEYS=[other]):
        assert load_signing_key().public_key().public_bytes_raw() == own
        trusted = [k.public_bytes_raw() for k in load_trusted_keys()]
        assert trusted == [public_key_from_b64(other).public_bytes_raw(), own]
        assert verify_bag(bag_dir).problems[0].startswith("signed by a key that is not trusted")

    bag_key = (bag_dir / "signing-key.pub").read_text().strip()
    with override_settings(HOTLINE_EVIDENCE_SIGNING_KEY=private_b64, HOTLINE_EVIDENCE_TRUSTED_KEYS=[bag_key]):
        assert verify_bag(bag_dir).ok


def test_it_refuses_a_malformed_signing_key_setting() -> None:
    with (
        override_settings(HOTLINE_EVIDENCE_SIGNING_KEY="bm90IGEga2V5"),
        pytest.raises(ImproperlyConfigured, match="HOTLINE_EVIDENCE_SIGNING_KEY"),
    ):
        load_signing_key()
