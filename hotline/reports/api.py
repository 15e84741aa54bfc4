"""Partner and industry intake API: batch submissions with per-URL results, idempotent by id."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, P, PathEx, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import AfterValidator, BaseModel, BeforeValidator

from hotline.accounts.api import ClientToken, request_client
from hotline.accounts.models import ApiClient
from hotline.audit.services import Actor
from hotline.reports.models import Report, Submission, normalize_reference
from hotline.reports.services import IncomingReport, ReportResult, UrlResult, public_status, receive_reports

router = Router(auth=ClientToken(), tags=["intake"])
# PostgreSQL text and jsonb cannot hold NUL; a constrained string also refuses lone surrogates (not UTF-8).
# Both reached the database and answered 500.
NO_NUL = r"^[^\x00]*$"
# A submission id must name one URL path segment, so the stored answer can be fetched again at
# /submissions/{submission_id}: no "/", "?", "#", "%", space or control character.
SUBMISSION_ID = r"^[A-Za-z0-9._:-]{1,100}$"
SUBMISSION_ID_RULE = "1 to 100 characters from A-Z a-z 0-9 . _ : - (it is a path segment of the look-up URL)"


def _utc(value: datetime) -> datetime:
    """A naive time is UTC (as it was always stored); one that leaves datetime's range in UTC is refused."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall between the years 1 and 9999 in UTC") from None


# The first and the last day datetime can hold: with an offset, a time on them may leave its range in
# UTC. Refused whatever the offset, so that the document can say so (a pattern) and every time it
# allows is stored.
EDGE_DAYS = r"^(?!0001-01-01|9999-12-31)"


def _iso_text(value: object) -> object:
    """The document says an ISO 8601 string; pydantic alone would also take a number as a Unix time."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date and time as a string")
    if isinstance(value, str) and value.lstrip()[:10] in ("0001-01-01", "9999-12-31"):
        raise ValueError("must fall between 0001-01-02 and 9999-12-30")
    return value


class ReportIn(BaseModel):  # plain pydantic: ninja's Schema wraps each of thousands of rows
    urls: list[Annotated[str, Field(pattern=NO_NUL)]] = Field(..., min_length=1, description="URLs the report names")
    external_ref: str = Field("", max_length=200, pattern=NO_NUL, description="your own reference for the report")
    text: str = Field("", max_length=10_000, pattern=NO_NUL)
    language: str = Field("", max_length=8, pattern=NO_NUL)
    received_at: Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_utc)] | None = Field(
        None, description="when you received it (ISO 8601; UTC if it has no offset; "
        "between 0001-01-02 and 9999-12-30)", json_schema_extra={"pattern": EDGE_DAYS})


class SubmissionIn(Schema):
    submission_id: str = Field(..., min_length=1, max_length=100, pattern=SUBMISSION_ID,
                               description="your id; a resend with the same id is answered, not stored again. "
                               + SUBMISSION_ID_RULE)
    reports: list[ReportIn] = Field(..., min_length=1)


class UrlOut(BaseModel):
    index: int
    url: str
    result: Literal["created", "merged", "rejected"]
    item_id: int | None = None
    canonical_url: str | None = None
    code: str | None = None
    reason: str | None = None


class ReportOut(BaseModel):
    reference: str | None
    external_ref: str
    urls: list[UrlOut]


class Counts(Schema):
    created: int
    merged: int
    rejected: int


class SubmissionOut(Schema):
    submission_id: str
    replayed: bool
    counts: Counts
    reports: list[ReportOut]


class StatusOut(Schema):
    reference: str
    status: Literal["received", "in_progress", "handled"]


class ErrorOut(Schema):
    detail: str


def _source(client: ApiClient) -> str:
    return client.kind  # client kinds are a subset of report sources


def _digest(payload: SubmissionIn) -> str:
    """SHA-256 of the validated batch: a resend is the same batch if this matches. The same text as
    ``json.dumps(payload.dict(), sort_keys=True, default=str)`` (a test checks it; stored digests must keep
    matching), from the fields themselves: pydantic's ``dict()`` of thousands of rows cost more."""
    reports = [
        {"external_ref": r.external_ref, "language": r.language, "received_at": r.received_at, "text": r.text,
         "urls": r.urls}
        for r in payload.reports
    ]
    text = json.dumps({"reports": reports, "submission_id": payload.submission_id}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


_NULL = "null"


def _url_json(u: UrlResult, encode: Any = encode_basestring_ascii) -> str:
    """One URL result as ``json.dumps`` writes ``UrlOut`` (every field, absent ones null)."""
    return "".join((
        '{"index": ', str(u.index), ', "url": ', encode(u.url), ', "result": "', u.result, '", "item_id": ',
        _NULL if u.item_id is None else str(u.item_id),
        ', "canonical_url": ', _NULL if u.canonical_url is None else encode(u.canonical_url),
        ', "code": ', _NULL if u.code is None else encode(u.code),
        ', "reason": ', _NULL if u.reason is None else encode(u.reason), "}",
    ))


def _result_texts(submission_id: str, results: list[ReportResult]) -> tuple[str, str]:
    """The answer to a new batch and the result stored for its replays, as JSON text: the same text
    ``json.dumps`` writes for ``SubmissionOut`` (the stored one without ``replayed``), built once per URL
    instead of a dict per URL encoded twice (the answer, the stored result)."""
    counts = {"created": 0, "merged": 0, "rejected": 0}
    parts = []
    for r in results:
        for u in r.urls:
            counts[u.result] += 1
        parts.append("".join((
            '{"reference": ', _NULL if r.reference is None else encode_basestring_ascii(r.reference),
            ', "external_ref": ', encode_basestring_ascii(r.external_ref),
            ', "urls": [', ", ".join([_url_json(u) for u in r.urls]), "]}",
        )))
    reports = ", ".join(parts)
    head = f'{{"submission_id": {encode_basestring_ascii(submission_id)}, '
    tail = f'"counts": {json.dumps(counts)}, "reports": [{reports}]}}'
    return f'{head}"replayed": false, {tail}', head + tail


@router.post("/submissions", response={200: SubmissionOut, 409: ErrorOut, 413: ErrorOut},
             summary="Submit a batch of reports")
def submit(request: HttpRequest, payload: SubmissionIn) -> HttpResponse | Status[dict[str, Any]]:
    client = request_client(request)
    total = sum(len(r.urls) for r in payload.reports)
    limit: int = settings.HOTLINE_MAX_URLS_PER_SUBMISSION
    if total > limit:
        return Status(413, {"detail": f"{total} URLs in one submission; the limit is {limit}: split it"})
    digest = _digest(payload)
    earlier = Submission.objects.filter(api_client=client, submission_id=payload.submission_id).first()
    if earlier is not None:
        return _replay(earlier, digest)
    incoming = [
        IncomingReport(source=_source(client), urls=r.urls, external_ref=r.external_ref, text=r.text,
                       language=r.language, received_at=r.received_at, api_client=client)
        for r in payload.reports
    ]
    try:
        with transaction.atomic():
            results = receive_reports(incoming, actor=Actor(label=f"api:{client.name}"))
            answer, stored = _result_texts(payload.submission_id, results)
            Submission.objects.create(api_client=client, submission_id=payload.submission_id,
                                      body_sha256=digest, received_at=timezone.now(), result=stored)
    except IntegrityError:
        # The same id arrived twice at once; the first one won and the batch above rolled back.
        earlier = Submission.objects.get(api_client=client, submission_id=payload.submission_id)
        return _replay(earlier, digest)
    return HttpResponse(answer, content_type=_JSON)


def _replay(earlier: Submission, digest: str) -> HttpResponse | Status[dict[str, Any]]:
    if earlier.body_sha256 != digest:
        return Status(409, {"detail": "this submission_id was already used for a different batch"})
    return _answer(json.loads(earlier.result), replayed=True)


_URL_KEYS = tuple(UrlOut.model_fields)
_JSON = "application/json; charset=utf-8"


def _answer(body: dict[str, Any], *, replayed: bool) -> HttpResponse:
    """The 200 answer exactly as ninja renders ``SubmissionOut`` (every field of a URL result, absent
    ones as null), written directly: validating thousands of rows of our own output against the schema
    cost a tenth of the batch time (docs/performance.md). A test checks it against the schema."""
    out = {
        "submission_id": body["submission_id"],
        "replayed": replayed,
        "counts": body["counts"],
        "reports": [
            {"reference": r["reference"], "external_ref": r["external_ref"],
             "urls": [{key: u.get(key) for key in _URL_KEYS} for u in r["urls"]]}
            for r in body["reports"]
        ],
    }
    return HttpResponse(json.dumps(out), content_type=_JSON)


@router.get("/submissions/{submission_id}", response={200: SubmissionOut, 404: ErrorOut},
            summary="The stored answer to an earlier submission")
def get_submission(request: HttpRequest, submission_id: PathEx[str, P(pattern=SUBMISSION_ID,
                                                                     description=SUBMISSION_ID_RULE)],
                   ) -> HttpResponse:
    client = request_client(request)
    earlier = Submission.objects.filter(api_client=client, submission_id=submission_id).first()
    if earlier is None:
        raise HttpError(404, "no submission with this id from your organisation")
    return _answer(json.loads(earlier.result), replayed=True)


@router.get("/reports/{reference}", response={200: StatusOut, 404: ErrorOut},
            summary="Coarse status of a report you submitted")
def report_status(request: HttpRequest, reference: PathEx[str, P(pattern=NO_NUL)]) -> Status[dict[str, Any]]:
    client = request_client(request)
    reference = normalize_reference(reference)
    if not Report.objects.filter(reference=reference, api_client=client).exists():
        raise HttpError(404, "no report with this reference from your organisation")
    return Status(200, {"reference": reference, "status": public_status(reference)})
