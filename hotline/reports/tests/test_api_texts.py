"""The batch API writes its answer, its stored result and its digest as text; they must be what the dicts gave."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.test import Client

from hotline.accounts.models import ApiClient
from hotline.audit.services import SYSTEM
from hotline.reports.api import SubmissionIn, _digest, _result_texts
from hotline.reports.models import Submission
from hotline.reports.services import IncomingReport, ReportResult, receive_reports

pytestmark = pytest.mark.django_db

URLS = [
    "http://new.sim.test/p",
    "http://NEW.sim.test/p",
    "mailto:x@y.example",
    'http://é.sim.test/"q\\',
    "http://a.sim.test/\u2028x",
    "",
]


def _as_dicts(submission_id: str, results: list[ReportResult]) -> dict[str, Any]:
    """The answer as the API built it before it wrote text: a dict per URL result, json.dumps'd."""
    keys = ("index", "url", "result", "item_id", "canonical_url", "code", "reason")
    return {
        "submission_id": submission_id,
        "replayed": False,
        "counts": {k: sum(u.result == k for r in results for u in r.urls) for k in ("created", "merged", "rejected")},
        "reports": [
            {
                "reference": r.reference,
                "external_ref": r.external_ref,
                "urls": [{key: getattr(u, key) for key in keys} for u in r.urls],
            }
            for r in results
        ],
    }


def test_the_answer_text_is_json_dumps_of_the_result() -> None:
    results = receive_reports(
        [
            IncomingReport(source="partner", urls=URLS, external_ref='ref "1" é'),
            IncomingReport(source="partner", urls=["mailto:only@bad.example"]),
        ],
        actor=SYSTEM,
    )
    answer, stored = _result_texts("s:1.é", results)
    expected = _as_dicts("s:1.é", results)
    assert answer == json.dumps(expected)
    del expected["replayed"]
    assert stored == json.dumps(expected)


def test_the_digest_is_the_one_of_the_validated_payload() -> None:
    payload = SubmissionIn.model_validate(
        {
            "submission_id": "d1",
            "reports": [
                {"urls": URLS[:2], "external_ref": "é", "text": "t\n", "received_at": "2026-03-01T10:00:00+02:00"},
                {"urls": ["x"], "received_at": "2026-03-01T10:00:00"},
                {"urls": ["y"], "language": "nl"},
            ],
        }
    )
    old = hashlib.sha256(json.dumps(payload.dict(), sort_keys=True, default=str).encode()).hexdigest()
    assert _digest(payload) == old


def test_the_stored_result_replays_the_same_answer(partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    body = {"submission_id": "s1", "reports": [{"urls": URLS, "external_ref": "P-1"}]}

    def post() -> Any:
        return Client().post(
            "/api/v1/submissions",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    first, again = post().json(), post().json()
    assert (first.pop("replayed"), again.pop("replayed")) == (False, True)
    assert first == again
    assert json.loads(Submission.objects.get(submission_id="s1").result) == first
