"""The exchange protocol's messages (docs/exchange.md §2-3): building, signing, strict parsing.

Pure functions over JSON values and keys; the database side lives in ``receive`` and ``delivery``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from hotline.lib.signing import CanonicalError, canonical_bytes, sign, verify

VERSION = 1
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
STATUSES = ("received", "assessed", "notice_sent", "removed", "not_illegal")
MAX_MEDIA = 1000
MAX_DEPTH = 20


class ProtocolError(Exception):
    """A refused message: the outcome recorded, the HTTP status answered, and the field at fault."""

    def __init__(self, outcome: str, status: int, field: str, detail: str) -> None:
        super().__init__(f"{outcome}: {field}: {detail}")
        self.outcome, self.status, self.field, self.detail = outcome, status, field, detail


def bad_schema(field: str, detail: str, status: int = 400) -> ProtocolError:
    return ProtocolError("bad_schema", status, field, detail)


# ------------------------------------------------------------------------------------ times


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with an offset, as an aware UTC datetime; ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("must carry a UTC offset (e.g. Z)")
    return moment.astimezone(UTC)


def _time(value: str) -> str:
    try:
        parse_time(value)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not an RFC 3339 time with offset: {exc}") from None
    return value


# ------------------------------------------------------------------------------------ schemas


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Code = Annotated[str, Field(pattern=CODE_PATTERN)]
MessageId = Annotated[str, Field(pattern=UUID_PATTERN)]
Time = Annotated[str, Field(max_length=40)]


class Envelope(_Strict):
    v: int
    id: MessageId
    kind: Literal["forward", "status", "ack"]
    sender: Code
    recipient: Code
    created_at: Time
    sent_at: Time
    body: dict[str, Any]

    @field_validator("v")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != VERSION:
            raise ValueError(f"this receiver speaks version {VERSION}")
        return value

    @field_validator("created_at", "sent_at")
    @classmethod
    def _times(cls, value: str) -> str:
        return _time(value)


# CyberTipline annotation codes (docs/exchange.md §3): optional, sent only when set.
AnnotationCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Annotations = Annotated[list[AnnotationCode], Field(max_length=20)]


class MediaHashes(_Strict):
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    md5: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    pdq: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    annotations: Annotated[Annotations | None, Field(exclude_if=lambda value: value is None)] = None


class ForwardBody(_Strict):
    url: Annotated[str, Field(min_length=1, max_length=4096)]
    reference: Annotated[str, Field(min_length=1, max_length=200)]
    trace: dict[str, Any] | None = None
    assessment: dict[str, Annotated[str, Field(max_length=100)] | StrictBool] | None = None
    media: Annotated[list[MediaHashes], Field(max_length=MAX_MEDIA)] = []
    annotations: Annotated[Annotations | None, Field(exclude_if=lambda value: value is None)] = None

    @field_validator("assessment")
    @classmethod
    def _few_codes(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(value) > 40:
            raise ValueError("at most 40 assessment codes")
        return value


class StatusBody(_Strict):
    forward_id: MessageId
    status: Literal["received", "assessed", "notice_sent", "removed", "not_illegal"]
    at: Time
    note: Annotated[str, Field(max_length=1000)] = ""

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        return _time(value)


class AckBody(_Strict):
    ref: MessageId
    outcome: Literal["accepted"]
    reference: Annotated[str, Field(max_length=200)] = ""


BODIES: dict[str, type[_Strict]] = {"forward": ForwardBody, "status": StatusBody, "ack": AckBody}


def _first_error(exc: ValidationError, prefix: str) -> ProtocolError:
    error = exc.errors()[0]
    path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
    return bad_schema(path or "message", str(error["msg"]))


def parse_envelope(message: dict[str, Any]) -> Envelope:
    try:
        return Envelope.model_validate(message)
    except ValidationError as exc:
        raise _first_error(exc, "message") from None


def parse_body(kind: str, body: dict[str, Any]) -> Any:
    try:
        return BODIES[kind].model_validate(body)
    except ValidationError as exc:
        raise _first_error(exc, "body") from None


# ------------------------------------------------------------------------------------ wire form


@dataclass(frozen=True)
class Signed:
    """A message object and its signature as they arrived (not yet verified)."""

    message: dict[str, Any]
    signature: str | None

    @property
    def sender(self) -> object:
        return self.message.get("sender")


def _reject_bad_values(value: Any, path: str, depth: int = 0) -> None:
    """PostgreSQL text cannot hold U+0000 and UTF-8 cannot hold lone surrogates: refuse both early;
    and nothing in the protocol nests deeply, so deep nesting (a stack exhaustion attempt) is refused."""
    if depth > MAX_DEPTH:
        raise bad_schema(path, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
            raise bad_schema(path or "message", "strings must not contain U+0000 or unpaired surrogates")
    elif isinstance(value, list):
        for index, member in enumerate(value):
            _reject_bad_values(member, f"{path}.{index}", depth + 1)
    elif isinstance(value, dict):
        for key, member in value.items():
            _reject_bad_values(key, path, depth + 1)
            _reject_bad_values(member, f"{path}.{key}" if path else str(key), depth + 1)


def parse_wire(raw: bytes, *, max_bytes: int) -> Signed:
    """The request body as a ``{"message": {...}, "signature": "..."}`` pair, or ProtocolError."""
    signed = read_wire(raw, max_bytes=max_bytes)
    check_wire(signed)
    return signed


def read_wire(raw: bytes, *, max_bytes: int) -> Signed:
    """Size, JSON and the outer shape only; :func:`check_wire` checks the message's values.

    The receiver looks up the sender between the two, so a stranger is refused (403) for who it is
    before anything is said about the shape of what it sent.
    """
    if len(raw) > max_bytes:
        raise bad_schema("request", f"larger than {max_bytes} bytes", status=413)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad_schema("request", "not a JSON document") from None
    if not isinstance(data, dict):
        raise bad_schema("request", "must be a JSON object")
    extra = sorted(set(data) - {"message", "signature"})
    if extra:
        raise bad_schema(_printable(extra[0]), "unknown member")
    message, signature = data.get("message"), data.get("signature")
    if not isinstance(message, dict):
        raise bad_schema("message", "must be an object")
    if signature is not None and not isinstance(signature, str):
        raise ProtocolError("bad_signature", 401, "signature", "must be a base64 string")
    return Signed(message, signature)


def check_wire(signed: Signed) -> None:
    """Every string storable, nothing nested deeply, and a canonical form exists (the signed bytes)."""
    message = signed.message
    _reject_bad_values(message, "message")
    try:
        canonical_bytes(message)
    except CanonicalError as exc:
        raise bad_schema(f"message.{exc.path}".rstrip("."), exc.message) from None
    except RecursionError:
        raise bad_schema("message", "nested too deeply") from None


def _printable(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")[:100]


def make_message(kind: str, *, sender: str, recipient: str, body: dict[str, Any], message_id: str | None = None,
                 created_at: datetime, sent_at: datetime) -> dict[str, Any]:
    return {"v": VERSION, "id": message_id or str(uuid.uuid4()), "kind": kind, "sender": sender,
            "recipient": recipient, "created_at": iso(created_at), "sent_at": iso(sent_at), "body": body}


def seal(message: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The wire form: the message and its signature."""
    return {"message": message, "signature": sign(key, message)}


def is_authentic(signed: Signed, key: Ed25519PublicKey) -> bool:
    return signed.signature is not None and verify(key, signed.message, signed.signature)


def content_digest(message: dict[str, Any]) -> str:
    """What makes two copies "the same message": everything but ``sent_at``."""
    return hashlib.sha256(canonical_bytes({k: v for k, v in message.items() if k != "sent_at"})).hexdigest()


def wire_bytes(wire: dict[str, Any]) -> bytes:
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=True).encode("ascii")
