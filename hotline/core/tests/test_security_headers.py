"""The Content-Security-Policy is on every answer but the API documentation page itself."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docsx", "/api/docs/", "/api/docs/x", "/api/docs%2F..%2F", "/api/docs.json",
                                  "/report/", "/api/openapi.json"])
def test_every_other_path_gets_the_csp(path: str) -> None:
    """Found by an outside probe: the exemption matched the prefix /api/docs."""
    response = Client().get(path)
    assert "script-src 'self'" in response["Content-Security-Policy"], (path, response.status_code)


@pytest.mark.django_db
def test_the_api_docs_page_alone_is_exempt() -> None:
    response = Client().get("/api/docs")
    assert response.status_code == 200 and "Content-Security-Policy" not in response
