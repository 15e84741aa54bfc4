"""Evidence packages for the police: signed BagIt bags, their verification, and encryption to one recipient.

The formats (what is signed, the ``HLBAG1`` container) are described in docs/evidence.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import bagit  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

CHECKSUMS = ("sha256", "sha512")
SIGNED_FILE = "tagmanifest-sha256.txt"
SIGNATURE_FILE = "manifest-signature.ed25519"
PUBLIC_KEY_FILE = "signing-key.pub"
# Tag files that the signed tagmanifest cannot list: the tagmanifests themselves and the signature.
UNSIGNED_TAG_FILES = frozenset({SIGNED_FILE, "tagmanifest-sha512.txt", SIGNATURE_FILE, PUBLIC_KEY_FILE})

MAGIC = b"HLBAG1"
CHUNK_SIZE = 1 << 20
_TAG_SIZE = 16
_HEADER_SIZE = len(MAGIC) + 32 + 32
_HKDF_INFO = b"hotline evidence bag HLBAG1"
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_UNSUPPORTED_ALGORITHMS = frozenset({"shake_128", "shake_256"})
_SMALL_FILE = 4096


@dataclass(frozen=True)
class BagFile:
    """One payload file; ``path`` is relative to ``data/`` (``warc/capture-12.warc.gz``)."""

    path: str
    content: bytes


@dataclass(frozen=True)
class BagReport:
    """The outcome of ``verify_bag``: ``problems`` names each thing that is wrong, one per line."""

    ok: bool
    problems: list[str]


class PackageError(Exception):
    """An encrypted bag cannot be opened: damaged, truncated, the wrong key, or unsafe contents."""


# --- writing ------------------------------------------------------------------------------------


def write_bag(
    target: Path, files: Sequence[BagFile], *, info: Mapping[str, str], signing_key: Ed25519PrivateKey
) -> Path:
    """Write a signed bag at ``target``, which must not exist; nothing is left behind on failure.

    Raises ``ValueError`` for an unsafe payload path or bag-info field, ``FileExistsError`` if ``target`` exists.
    The bag is byte for byte the one ``bagit.make_bag`` writes (see ``_make_bag``), hashed from the contents in
    memory rather than read back, and the working directory is left alone.
    """
    check_payload_paths([f.path for f in files])
    bag_info = _bag_info(info)
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target} already exists; refusing to overwrite it")
    target.mkdir(mode=0o700)
    try:
        signed = _make_bag(target, files, bag_info)
        _sign(target, signing_key, signed)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _make_bag(target: Path, files: Sequence[BagFile], bag_info: dict[str, str]) -> bytes:
    """What ``bagit.make_bag(target, bag_info=…, checksums=CHECKSUMS)`` does to a directory holding ``files``,
    step for step in the same order: the payload moved into ``data/`` (a temporary directory renamed), the
    payload manifests, ``bagit.txt``, ``bag-info.txt``, then one tagmanifest per algorithm. Returns the bytes of
    the tagmanifest that is signed."""
    staging = Path(tempfile.mkdtemp(dir=target))
    for item in files:
        _write_new(staging / item.path, item.content)
    staging.rename(target / "data")
    os.chmod(target / "data", os.stat(target).st_mode)
    tags = _payload_manifests(files)
    tags["bagit.txt"] = b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
    tags["bag-info.txt"] = _bag_info_file(bag_info, files)
    for name, content in tags.items():
        _write_tag(target / name, content)
    for algorithm in CHECKSUMS:
        # bagit lists the tag files in the directory's own order (``os.listdir``), not sorted
        listed = [name for name in os.listdir(target) if name != "data" and not name.startswith("tagmanifest-")]
        content = "".join(f"{hashlib.new(algorithm, tags[name]).hexdigest()} {name}\n" for name in listed).encode()
        tags[f"tagmanifest-{algorithm}.txt"] = content
        _write_tag(target / f"tagmanifest-{algorithm}.txt", content)
    return tags[SIGNED_FILE]


def _payload_manifests(files: Sequence[BagFile]) -> dict[str, bytes]:
    """``manifest-<algorithm>.txt`` for each algorithm, hashed from the contents in memory, in bagit's order."""
    contents = {f"data/{item.path}": item.content for item in files}
    ordered = _walk_order(list(contents))
    return {f"manifest-{algorithm}.txt": "".join(
        f"{hashlib.new(algorithm, contents[path]).hexdigest()}  {_encode_filename(path)}\n" for path in ordered
    ).encode() for algorithm in CHECKSUMS}


def _bag_info_file(bag_info: dict[str, str], files: Sequence[BagFile]) -> bytes:
    """``bag-info.txt`` as bagit writes it: its defaults for the date and the agent, the Payload-Oxum, the labels
    sorted, line breaks removed from the values."""
    bag_info.setdefault("Bagging-Date", date.today().strftime("%Y-%m-%d"))
    bag_info.setdefault("Bag-Software-Agent", f"bagit.py v{bagit.VERSION} <{bagit.PROJECT_URL}>")
    bag_info["Payload-Oxum"] = f"{sum(len(item.content) for item in files)}.{len(files)}"
    return "".join(f"{label}: {_one_line(bag_info[label])}\n" for label in sorted(bag_info)).encode()


def _walk_order(paths: list[str]) -> list[str]:
    """``paths`` in the order bagit's ``_walk`` finds them: in each directory its files (sorted), then each
    subdirectory (sorted) in turn, depth first."""
    files: list[str] = []
    children: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        head, slash, rest = path.partition("/")
        if slash:
            children[head].append(rest)
        else:
            files.append(head)
    ordered = sorted(files)
    for directory in sorted(children):
        ordered += [f"{directory}/{path}" for path in _walk_order(children[directory])]
    return ordered


def _encode_filename(path: str) -> str:
    return path.replace("\r", "%0D").replace("\n", "%0A")


def _one_line(value: str) -> str:
    return re.sub(r"\n|\r|(\r\n)", "", str(value))


def _write_tag(path: Path, content: bytes) -> None:
    with path.open("wb") as out:  # as bagit's codecs.open(…, "w") creates a tag file
        out.write(content)


def check_payload_paths(paths: Sequence[str]) -> None:
    """Refuse (``ValueError`` naming the path) anything that could land outside ``data/`` or collide."""
    if not paths:
        raise ValueError("a bag needs at least one payload file")
    seen: dict[str, str] = {}
    for path in paths:
        problem = _path_problem(path)
        if problem:
            raise ValueError(f"unsafe bag path {path!r}: {problem}")
        key = path.casefold()
        if key in seen:
            raise ValueError(f"bag path {path!r} collides with {seen[key]!r}")
        seen[key] = path
    for path in paths:
        parent = posixpath.dirname(path)
        while parent:
            if parent.casefold() in seen:
                raise ValueError(f"bag path {path!r} needs {parent!r} to be a directory, but it is a file")
            parent = posixpath.dirname(parent)


def _path_problem(path: str) -> str | None:
    """Why ``path`` is not a safe, portable, normalised relative path (or None)."""
    if not path:
        return "it is empty"
    if "\x00" in path:
        return "it contains NUL"
    if "\\" in path:
        return "it contains a backslash"
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        return "it contains a control character"
    if path.startswith("/"):
        return "it is absolute"
    parts = path.split("/")
    if ".." in parts:
        return "it contains '..'"
    if ":" in path:
        return "it contains ':' (a drive or stream name on Windows)"
    if any(part in ("", ".") for part in parts) or posixpath.normpath(path) != path:
        return "it is not normalised"
    if unicodedata.normalize("NFC", path) != path:
        return "it is not NFC-normalised Unicode"
    return None


def _bag_info(info: Mapping[str, str]) -> dict[str, str]:
    for label, value in info.items():
        if not _LABEL.fullmatch(label):
            raise ValueError(f"bag-info label {label!r} must be letters, digits and '-'")
        if label.casefold() == "payload-oxum":
            raise ValueError("Payload-Oxum is computed when the bag is written; do not pass it")
        if "\r" in value or "\n" in value:
            raise ValueError(f"bag-info value for {label!r} contains a line break")
    return dict(info)


def _write_new(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)


def _sign(bag_dir: Path, key: Ed25519PrivateKey, signed: bytes) -> None:
    signature = key.sign(signed)
    (bag_dir / SIGNATURE_FILE).write_text(_b64(signature) + "\n", encoding="ascii")
    (bag_dir / PUBLIC_KEY_FILE).write_text(_b64(key.public_key().public_bytes_raw()) + "\n", encoding="ascii")


# --- verifying ----------------------------------------------------------------------------------


def verify_bag(path: Path, *, trusted_keys: Sequence[Ed25519PublicKey] | None = None) -> BagReport:
    """Check completeness, every hash, Payload-Oxum and the signature; never raises for a broken bag.

    ``trusted_keys`` defaults to ``load_trusted_keys()`` (the settings).
    """
    trusted = list(load_trusted_keys() if trusted_keys is None else trusted_keys)
    bag, problem = _open_bag(path)
    if bag is None:
        return BagReport(ok=False, problems=[problem])
    special = list(_special_file_problems(path))
    # bagit hashes everything once; only a bag it rejects gets the second, itemised pass.
    backstop = [] if special else _bagit_problems(bag)
    problems = [
        *special,
        *_structure_problems(path, bag),
        *_oxum_problems(path, bag),
        *_completeness_problems(bag),
        *(_hash_problems(path, bag) if special or backstop else []),
        *_unsigned_tag_file_problems(path),
        *_signature_problems(path, trusted),
    ]
    problems = problems or backstop
    return BagReport(ok=not problems, problems=problems)


def _open_bag(path: Path) -> tuple[Any, str]:
    if not path.is_dir():
        return None, f"{path}: not a directory"
    if not (path / "bagit.txt").is_file():
        return None, f"{path}: not a bag (no bagit.txt)"
    try:
        return bagit.Bag(str(path)), ""
    except (bagit.BagError, OSError, UnicodeError, ValueError) as exc:
        return None, f"{path}: cannot be read as a bag: {exc}"


def _special_file_problems(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted([*dirnames, *filenames]):
            full = Path(dirpath) / name
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                yield f"{full.relative_to(root).as_posix()}: is a symbolic link (not allowed in a bag)"
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                yield f"{full.relative_to(root).as_posix()}: is not a regular file"


def _structure_problems(root: Path, bag: Any) -> Iterator[str]:
    if not (root / "data").is_dir():
        yield "data/: missing"
    if not (root / "manifest-sha256.txt").is_file() and "manifest-sha256.txt" not in bag.entries:
        yield "manifest-sha256.txt: missing"


def _oxum_problems(root: Path, bag: Any) -> list[str]:
    if not (root / "bag-info.txt").is_file():
        return []
    declared = bag.info.get("Payload-Oxum")
    if declared is None:
        return ["bag-info.txt: no Payload-Oxum"]
    match = re.fullmatch(r"(\d+)\.(\d+)", declared) if isinstance(declared, str) else None
    if match is None:
        return [f"bag-info.txt: Payload-Oxum {declared!r} is malformed"]
    octets, count = int(match[1]), int(match[2])
    sizes = [p.stat().st_size for p in _regular_files(root / "data")]
    if (count, octets) != (len(sizes), sum(sizes)):
        return [f"bag-info.txt: Payload-Oxum says {count} files / {octets} bytes, found {len(sizes)} / {sum(sizes)}"]
    return []


def _completeness_problems(bag: Any) -> Iterator[str]:
    only_in_manifest, only_on_disk = bag.compare_manifests_with_fs()
    for rel in sorted(only_in_manifest):
        yield f"{rel}: listed in the {_manifest_kind(rel)} but missing"
    for rel in sorted(only_on_disk):
        yield f"{rel}: present but not in the manifest"
    payload_algorithms = {"sha256", *(Path(m).name[len("manifest-") : -len(".txt")] for m in bag.manifest_files())}
    for rel, digests in sorted(bag.payload_entries().items()):
        for algorithm in sorted(payload_algorithms - digests.keys()):
            yield f"{rel}: missing from manifest-{algorithm}.txt"


def _hash_problems(root: Path, bag: Any) -> Iterator[str]:
    for rel, expected in sorted(bag.entries.items()):
        full = root / rel
        if full.is_symlink() or not full.is_file():
            continue
        unsupported = sorted(expected.keys() & _UNSUPPORTED_ALGORITHMS)
        for algorithm in unsupported:
            yield f"{rel}: {algorithm} is not a supported checksum"
        try:
            found = _file_digests(full, sorted(expected.keys() - _UNSUPPORTED_ALGORITHMS))
        except OSError as exc:
            yield f"{rel}: cannot be read ({exc.strerror})"
            continue
        for algorithm, digest in found.items():
            if expected[algorithm].lower() != digest:
                source = _manifest_kind(rel)
                yield f"{rel}: {algorithm} mismatch ({source} {expected[algorithm].lower()}, file {digest})"


def _unsigned_tag_file_problems(root: Path) -> Iterator[str]:
    signed = _listed_paths(root / SIGNED_FILE)
    if signed is None:
        return
    for full in _regular_files(root):
        rel = full.relative_to(root).as_posix()
        if not rel.startswith("data/") and rel not in signed and rel not in UNSIGNED_TAG_FILES:
            yield f"{rel}: present but not covered by the signature"


def _signature_problems(root: Path, trusted: Sequence[Ed25519PublicKey]) -> list[str]:
    message = _read_regular(root / SIGNED_FILE, limit=None)
    if message is None:
        return [f"{SIGNED_FILE}: missing, so the signature cannot be checked"]
    encoded = _read_regular(root / SIGNATURE_FILE, limit=_SMALL_FILE)
    if encoded is None:
        return [f"{SIGNATURE_FILE}: missing (the bag is not signed)"]
    signature = _b64decode_or_none(encoded)
    if signature is None or len(signature) != 64:
        return [f"{SIGNATURE_FILE}: not a base64 Ed25519 signature"]
    named, problems = _named_key(root)
    candidates = [*trusted, *([named] if named is not None else [])]
    signer = next((key for key in candidates if _signs(key, signature, message)), None)
    if signer is None:
        return [f"signature does not match {SIGNED_FILE}", *problems]
    signer_b64 = _b64(signer.public_bytes_raw())
    if signer_b64 not in {_b64(key.public_bytes_raw()) for key in trusted}:
        problems.append(f"signed by a key that is not trusted ({signer_b64})")
    elif named is not None and _b64(named.public_bytes_raw()) != signer_b64:
        problems.append(f"{PUBLIC_KEY_FILE}: names another key than the trusted one that signed ({signer_b64})")
    return problems


def _named_key(root: Path) -> tuple[Ed25519PublicKey | None, list[str]]:
    encoded = _read_regular(root / PUBLIC_KEY_FILE, limit=_SMALL_FILE)
    if encoded is None:
        return None, [f"{PUBLIC_KEY_FILE}: missing"]
    try:
        return public_key_from_b64(encoded.decode("ascii")), []
    except (ValueError, UnicodeDecodeError):
        return None, [f"{PUBLIC_KEY_FILE}: not a base64 Ed25519 public key"]


def _signs(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _bagit_problems(bag: Any) -> list[str]:
    """bagit's own verdict; reported as is only when the itemised checks find nothing."""
    try:
        bag.validate()
    except bagit.BagValidationError as exc:
        return [f"bagit: {detail}" for detail in exc.details] or [f"bagit: {exc.message}"]
    except (bagit.BagError, OSError, UnicodeError, ValueError, TypeError) as exc:
        return [f"bagit: {exc}"]
    return []


def _manifest_kind(rel: str) -> str:
    return "manifest" if rel.startswith("data/") else "tagmanifest"


def _regular_files(root: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = Path(dirpath) / name
            if stat.S_ISREG(full.lstat().st_mode):
                yield full


def _file_digests(path: Path, algorithms: Sequence[str]) -> dict[str, str]:
    hashers = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    with path.open("rb") as source:
        while block := source.read(CHUNK_SIZE):
            for hasher in hashers.values():
                hasher.update(block)
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}


def _listed_paths(manifest: Path) -> set[str] | None:
    content = _read_regular(manifest, limit=None)
    if content is None:
        return None
    lines = content.decode("utf-8", errors="replace").splitlines()
    return {posixpath.normpath(parts[1].lstrip("*")) for line in lines if len(parts := line.split(None, 1)) == 2}


def _read_regular(path: Path, *, limit: int | None) -> bytes | None:
    if path.is_symlink() or not path.is_file():
        return None
    with path.open("rb") as source:
        return source.read() if limit is None else source.read(limit)


# --- encryption ---------------------------------------------------------------------------------


def encrypt_to_recipient(bag_dir: Path, out_file: Path, recipient: X25519PublicKey) -> None:
    """Write ``bag_dir`` as a tar encrypted to ``recipient`` (the ``HLBAG1`` format); streams, never loads it all.

    Refuses (``ValueError``) symbolic links, special files and unsafe names; ``out_file`` must not exist.
    """
    members = _tar_members(bag_dir)
    with _new_output(out_file) as sink:
        writer = _EncryptingWriter(sink, recipient)
        buffered = io.BufferedWriter(writer, buffer_size=CHUNK_SIZE)
        with tarfile.open(fileobj=buffered, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path, arcname in members:
                tar.add(path, arcname=arcname, recursive=False, filter=_normalised_member)
        buffered.flush()
        writer.finish()


def encrypt_stream(source: BinaryIO, sink: BinaryIO, recipient: X25519PublicKey) -> None:
    """Encrypt any byte stream to ``recipient`` in the ``HLBAG1`` format."""
    writer = _EncryptingWriter(sink, recipient)
    while block := source.read(CHUNK_SIZE):
        writer.write(block)
    writer.finish()


def decrypt_bag(in_file: Path, out_dir: Path, private_key: X25519PrivateKey) -> Path:
    """Decrypt ``in_file`` and extract its bag into ``out_dir``; returns the bag directory.

    Everything is authenticated before the bag appears in ``out_dir``; on any failure (``PackageError``)
    nothing is left behind. Links, devices, absolute names and ``..`` are refused.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=out_dir))
    try:
        with in_file.open("rb") as source, open_decrypted(source, private_key) as plain:
            top = _extract_safely(plain, staging)
            while plain.read(CHUNK_SIZE):
                pass
        destination = out_dir / top
        if destination.exists() or destination.is_symlink():
            raise PackageError(f"{destination} already exists")
        (staging / top).rename(destination)
    except (tarfile.TarError, OSError) as exc:
        raise PackageError(f"{in_file}: cannot extract the bag: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def open_decrypted(source: BinaryIO, private_key: X25519PrivateKey) -> io.BufferedReader:
    """A reader of the plaintext of an ``HLBAG1`` stream; raises ``PackageError`` when a chunk fails."""
    return io.BufferedReader(_DecryptingReader(source, private_key), CHUNK_SIZE)


class _EncryptingWriter(io.RawIOBase):
    """AES-256-GCM in CHUNK_SIZE chunks; the nonce is an 11-byte counter and a final-chunk flag."""

    def __init__(self, sink: BinaryIO, recipient: X25519PublicKey) -> None:
        ephemeral = X25519PrivateKey.generate()
        salt = os.urandom(32)
        self._header = MAGIC + ephemeral.public_key().public_bytes_raw() + salt
        self._aead = AESGCM(_derive_key(ephemeral.exchange(recipient), self._header, recipient))
        self._sink = sink
        self._buffer = bytearray()
        self._counter = 0
        sink.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        while len(self._buffer) > CHUNK_SIZE:
            self._seal(bytes(self._buffer[:CHUNK_SIZE]), final=False)
            del self._buffer[:CHUNK_SIZE]
        return len(view)

    def finish(self) -> None:
        self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()

    def _seal(self, chunk: bytes, *, final: bool) -> None:
        self._sink.write(self._aead.encrypt(_nonce(self._counter, final), chunk, self._header))
        self._counter += 1


class _DecryptingReader(io.RawIOBase):
    def __init__(self, source: BinaryIO, private_key: X25519PrivateKey) -> None:
        header = _read_exactly(source, _HEADER_SIZE)
        if len(header) < _HEADER_SIZE or not header.startswith(MAGIC):
            raise PackageError("not an encrypted evidence bag (no HLBAG1 header)")
        try:
            shared = private_key.exchange(X25519PublicKey.from_public_bytes(header[len(MAGIC) : len(MAGIC) + 32]))
        except ValueError as exc:
            raise PackageError("the container's ephemeral key is invalid") from exc
        self._aead = AESGCM(_derive_key(shared, header, private_key.public_key()))
        self._header = header
        self._source = source
        self._next = _read_exactly(source, CHUNK_SIZE + _TAG_SIZE)
        self._plain = memoryview(b"")
        self._counter = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._plain and not self._done:
            self._open_next_chunk()
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._plain))
        target[:count] = self._plain[:count]
        self._plain = self._plain[count:]
        return count

    def _open_next_chunk(self) -> None:
        sealed, self._next = self._next, _read_exactly(self._source, CHUNK_SIZE + _TAG_SIZE)
        final = not self._next
        try:
            self._plain = memoryview(self._aead.decrypt(_nonce(self._counter, final), sealed, self._header))
        except InvalidTag as exc:
            raise PackageError(
                f"chunk {self._counter} is damaged, the container is truncated, or it was not encrypted to this key"
            ) from exc
        self._counter += 1
        self._done = final


def _derive_key(shared: bytes, header: bytes, recipient: X25519PublicKey) -> bytes:
    ephemeral, salt = header[len(MAGIC) : len(MAGIC) + 32], header[len(MAGIC) + 32 :]
    info = _HKDF_INFO + ephemeral + recipient.public_bytes_raw()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining and (block := source.read(remaining)):
        parts.append(block)
        remaining -= len(block)
    return b"".join(parts)


@contextmanager
def _new_output(path: Path) -> Iterator[BinaryIO]:
    """Create ``path`` exclusively; remove it again if the block fails."""
    with path.open("xb") as file:
        try:
            yield file
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def _tar_members(bag_dir: Path) -> list[tuple[Path, str]]:
    top = bag_dir.name
    if bag_dir.is_symlink() or not bag_dir.is_dir() or _path_problem(top) or "/" in top:
        raise ValueError(f"{bag_dir} is not a directory with a safe name")
    members = [(bag_dir, top)]
    for dirpath, dirnames, filenames in os.walk(bag_dir):
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            full = Path(dirpath) / name
            rel = full.relative_to(bag_dir).as_posix()
            mode = full.lstat().st_mode
            problem = _path_problem(rel)
            if problem or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ValueError(f"{full}: {problem or 'links and special files cannot be packaged'}")
            members.append((full, f"{top}/{rel}"))
    return members


def _normalised_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    if not (info.isreg() or info.isdir()):
        raise ValueError(f"{info.name}: links and special files cannot be packaged")
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o700 if info.isdir() else 0o600
    return info


def _extract_safely(plain: BinaryIO, staging: Path) -> str:
    """Extract only directories and regular files, all under one top-level directory; return its name."""
    top: str | None = None
    seen: set[str] = set()
    with tarfile.open(fileobj=plain, mode="r|") as tar:
        for member in tar:
            name = _safe_member_name(member)
            root = name.split("/")[0]
            if top is None and not (member.isdir() and name == root):
                raise PackageError(f"refusing tar member {member.name!r}: the archive must start with the bag")
            top = top or root
            if root != top or name.casefold() in seen:
                raise PackageError(f"refusing tar member {member.name!r}: outside {top!r} or a duplicate")
            seen.add(name.casefold())
            if member.isdir():
                (staging / name).mkdir(parents=True, exist_ok=True, mode=0o700)
            else:
                _copy_member(tar, member, staging / name)
    if top is None:
        raise PackageError("the container holds an empty archive")
    return top


def _safe_member_name(member: tarfile.TarInfo) -> str:
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
        raise PackageError(f"refusing tar member {member.name!r}: links, devices and special entries are not allowed")
    problem = _path_problem(member.name)
    if problem:
        raise PackageError(f"refusing tar member {member.name!r}: {problem}")
    return member.name


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise PackageError(f"refusing tar member {member.name!r}: not a regular file")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with source, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK_SIZE)


# --- keys ---------------------------------------------------------------------------------------


def new_signing_key() -> tuple[str, str]:
    """A fresh Ed25519 key for ``HOTLINE_EVIDENCE_SIGNING_KEY``: (private seed base64, public key base64)."""
    key = Ed25519PrivateKey.generate()
    return _b64(key.private_bytes_raw()), _b64(key.public_key().public_bytes_raw())


def new_recipient_key() -> tuple[str, str]:
    """A fresh X25519 key pair for a recipient of encrypted bags: (private base64, public base64)."""
    key = X25519PrivateKey.generate()
    return _b64(key.private_bytes_raw()), _b64(key.public_key().public_bytes_raw())


def signing_key_from_b64(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_key_bytes(text, "Ed25519 private key"))


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_key_bytes(text, "Ed25519 public key"))


def recipient_key_from_b64(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(_key_bytes(text, "X25519 public key"))


def recipient_private_key_from_b64(text: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_key_bytes(text, "X25519 private key"))


def load_signing_key() -> Ed25519PrivateKey:
    """The key from ``settings.HOTLINE_EVIDENCE_SIGNING_KEY`` (base64 of the 32-byte seed)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    value = getattr(settings, "HOTLINE_EVIDENCE_SIGNING_KEY", None)
    if not value:
        raise ImproperlyConfigured("HOTLINE_EVIDENCE_SIGNING_KEY (or _FILE) must be set to sign evidence bags.")
    try:
        return signing_key_from_b64(str(value))
    except ValueError as exc:
        raise ImproperlyConfigured(f"HOTLINE_EVIDENCE_SIGNING_KEY: {exc}") from exc


def load_trusted_keys() -> list[Ed25519PublicKey]:
    """``settings.HOTLINE_EVIDENCE_TRUSTED_KEYS`` plus the public half of our own signing key, if set."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    keys: list[Ed25519PublicKey] = []
    for number, value in enumerate(getattr(settings, "HOTLINE_EVIDENCE_TRUSTED_KEYS", []) or [], start=1):
        try:
            keys.append(public_key_from_b64(str(value)))
        except ValueError as exc:
            raise ImproperlyConfigured(f"HOTLINE_EVIDENCE_TRUSTED_KEYS entry {number}: {exc}") from exc
    if getattr(settings, "HOTLINE_EVIDENCE_SIGNING_KEY", None):
        keys.append(load_signing_key().public_key())
    return keys


def _key_bytes(text: str, what: str) -> bytes:
    raw = _b64decode_or_none(text.encode("ascii", errors="replace"))
    if raw is None or len(raw) != 32:
        raise ValueError(f"not a base64 {what} (32 bytes)")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode_or_none(encoded: bytes) -> bytes | None:
    """Standard or URL-safe base64, padding optional."""
    text = encoded.strip().replace(b"-", b"+").replace(b"_", b"/")
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
