"""A body over HOTLINE_MAX_BODY_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE, 20 MiB) gets 413 in every mode: JSON
on the API, plain text elsewhere, the same with DEBUG on or off, for JSON, form and multipart bodies,
and through gunicorn (``test_gunicorn_answers_413_too`` in test_gunicorn_log.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client

from hotline.accounts.models import ClientKind
from hotline.accounts.services import issue_api_client
from hotline.audit.services import SYSTEM

pytestmark = pytest.mark.django_db
TOO_LARGE = 20 * 1024 * 1024 + 1


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request: pytest.FixtureRequest, settings: Any) -> bool:
    settings.DEBUG = request.param
    return bool(request.param)


@pytest.fixture
def auth() -> dict[str, str]:
    token = issue_api_client("Big", ClientKind.PARTNER, actor=SYSTEM, country="NL")[1]
    return {"Authorization": f"Bearer {token}"}


def test_a_json_body_over_the_limit_is_a_json_413(debug: bool, auth: dict[str, str]) -> None:
    """Found by an outside probe: with DEBUG on the API answered 500 with a traceback."""
    response = Client(raise_request_exception=False).post(
        "/api/v1/submissions", data=b" " * TOO_LARGE, content_type="application/json", headers=auth)
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is larger than 20971520 bytes"}


def test_a_multipart_upload_over_the_limit_is_refused_too(debug: bool, auth: dict[str, str]) -> None:
    """Django does not count uploaded files against the limit; the declared length does."""
    upload = io.BytesIO(b"\x89PNG" + b"\x00" * TOO_LARGE)
    upload.name = "big.png"
    response = Client(raise_request_exception=False).post("/api/v1/hashes/match-file", {"file": upload}, headers=auth)
    assert response.status_code == 413 and "larger than" in response.json()["detail"]


def test_a_form_body_over_the_limit_is_a_plain_413(debug: bool) -> None:
    response = Client(raise_request_exception=False).post(
        "/report/", data=b"x" * TOO_LARGE, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and response["Content-Type"].startswith("text/plain")
    assert b"Traceback" not in response.content and "script-src 'self'" in response["Content-Security-Policy"]


def test_a_body_at_the_limit_reaches_the_view(auth: dict[str, str], settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = b'{"submission_id": "s1", "reports": [{"urls": ["http://a.sim.test/"]}]}'
    response = Client().post("/api/v1/submissions", data=body.ljust(4096), content_type="application/json",
                             headers=auth)
    assert response.status_code == 200, response.content
