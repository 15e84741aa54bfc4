"""Match API for partner tools: look up hashes in batch, or hash-and-match one uploaded file.
Only banks marked ``shared_via_api`` answer; uploaded files are hashed in memory and never kept."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Literal

from django.http import HttpRequest
from ninja import Field, File, Query, Router, Schema
from ninja.errors import HttpError
from ninja.files import UploadedFile

from hotline.accounts.api import ClientToken, request_client
from hotline.hashes.models import Bank, SignalType
from hotline.hashes.services import Hit, lookup
from hotline.lib import pdq
from hotline.reports.api import ErrorOut

router = Router(auth=ClientToken(), tags=["known content"])
MAX_LOOKUPS = 10_000
MAX_UPLOAD = 20 * 1024 * 1024
_HEX_LENGTH = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64, "video_md5": 32}


class SignalIn(Schema):
    signal_type: Literal["md5", "sha1", "sha256", "pdq", "video_md5"]
    value: str = Field(..., min_length=32, max_length=64)


class LookupIn(Schema):
    hashes: list[SignalIn] = Field(..., min_length=1)
    banks: list[str] | None = Field(None, max_length=100, description="only these shared banks (by name)")


class MatchOut(Schema):
    bank: str
    entry_id: int
    source_id: str
    signal_type: str
    distance: int
    classification: str
    scheme: str
    verdict: str
    quarantined: bool = Field(description="the entry is in quarantine: a suggestion, not a verdict")


class ResultOut(Schema):
    index: int
    signal_type: str
    value: str
    error: str | None = None
    transform: str | None = None  # match-file with dihedral: the turn of the file this PDQ hash is of
    matches: list[MatchOut]


class LookupOut(Schema):
    results: list[ResultOut]


class FileOut(Schema):
    size: int
    md5: str
    sha1: str
    sha256: str
    pdq: str | None
    pdq_quality: int | None
    pdq_dihedral: dict[str, str] | None = None  # with dihedral=true: transform -> hash
    results: list[ResultOut]


def _shared_banks(names: list[str] | None = None) -> list[int]:
    """The shared banks, or those of ``names`` (each must name a shared bank: 404 otherwise, as for any
    resource this client cannot see; a private bank's name reads the same as one that does not exist)."""
    shared = dict(Bank.objects.filter(shared_via_api=True, is_active=True).values_list("name", "pk"))
    if names is None:
        return list(shared.values())
    unknown = sorted(set(names) - set(shared))
    if unknown:
        raise HttpError(404, f"banks: no shared bank named {unknown[0]!r}")
    return [shared[n] for n in set(names)]


def _match(hit: Hit) -> dict[str, object]:
    return {"bank": hit.bank, "entry_id": hit.entry_id, "source_id": hit.source_id, "signal_type": hit.signal_type,
            "distance": hit.distance, "classification": hit.classification, "scheme": hit.scheme,
            "verdict": hit.verdict, "quarantined": hit.quarantined}


def _valid(signal_type: str, value: str) -> str | None:
    value = value.lower()
    if len(value) != _HEX_LENGTH[signal_type] or any(c not in "0123456789abcdef" for c in value):
        return f"{signal_type} must be {_HEX_LENGTH[signal_type]} hexadecimal characters"
    return None


def _results(signals: list[tuple[str, str]], banks: list[str] | None = None) -> list[dict[str, object]]:
    allowed = _shared_banks(banks)
    errors = [_valid(t, v) for t, v in signals]
    valid = [(i, (t, v.lower())) for i, ((t, v), e) in enumerate(zip(signals, errors, strict=True)) if e is None]
    hits = lookup([s for _, s in valid], banks=allowed)
    by_index = {i: h for (i, _), h in zip(valid, hits, strict=True)}
    return [{"index": i, "signal_type": t, "value": v, "error": errors[i],
             "matches": [_match(h) for h in by_index.get(i, []) if not h.negative]}
            for i, (t, v) in enumerate(signals)]


@router.post("/hashes/lookup", response={200: LookupOut, 400: ErrorOut, 404: ErrorOut, 413: ErrorOut},
             summary="Look up hashes (batch), optionally in chosen banks")
def lookup_hashes(request: HttpRequest, payload: LookupIn) -> dict[str, object]:
    request_client(request)
    if len(payload.hashes) > MAX_LOOKUPS:
        raise HttpError(413, f"at most {MAX_LOOKUPS} hashes per call")
    return {"results": _results([(h.signal_type, h.value) for h in payload.hashes], payload.banks)}


@router.post("/hashes/match-file", response={200: FileOut, 400: ErrorOut, 404: ErrorOut, 413: ErrorOut},
             summary="Hash an uploaded file and look it up (``?banks=A&banks=B`` for chosen banks)")
def match_file(request: HttpRequest, file: File[UploadedFile], dihedral: bool = False,
               banks: Query[list[str] | None] = None) -> dict[str, object]:
    """``dihedral=true`` also looks up the PDQ hashes of the file rotated and flipped (8 in all), so a
    turned copy of a listed image matches; each PDQ result names its ``transform``."""
    request_client(request)
    if file.size is None or file.size > MAX_UPLOAD:
        raise HttpError(413, f"files up to {MAX_UPLOAD // (1024 * 1024)} MB")
    data = file.read()
    digests = {"md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),  # noqa: S324
               "sha256": hashlib.sha256(data).hexdigest()}
    turns: list[pdq.PdqHash] = []
    with contextlib.suppress(pdq.ImageError):  # not an image: the cryptographic hashes still answer
        turns = pdq.dihedral_hashes(data) if dihedral else [pdq.hash_image_bytes(data)]
    pdq_hex, quality = (turns[0].hex, turns[0].quality) if turns else (None, None)
    signals = [(SignalType.SHA256.value, digests["sha256"]), ("md5", digests["md5"]), ("sha1", digests["sha1"])]
    usable = turns if (quality or 0) >= 50 else []
    signals += [("pdq", h.hex) for h in usable]
    results = _results(signals, banks)
    for result, name in zip(results[3:], pdq.DIHEDRAL if dihedral else (), strict=False):
        result["transform"] = name
    return {"size": len(data), **digests, "pdq": pdq_hex, "pdq_quality": quality, "results": results,
            "pdq_dihedral": dict(zip(pdq.DIHEDRAL, (h.hex for h in turns), strict=True)) if dihedral and turns
            else None}
