"""The harness in front of installation B: its own calls need the token, and every request of the product
runs on the harness clock (the last tick's moment plus the real time since)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from hotline.demo.peer import FACTS, TICK, Harness

MOMENT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _clock_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(time.time()).encode()]


def _call(harness: Harness, path: str, *, method: str = "GET", body: bytes = b"", token: str = "") -> tuple[str, bytes]:
    seen: list[str] = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "HTTP_AUTHORIZATION": f"Bearer {token}" if token else ""}
    answer = b"".join(harness(environ, lambda status, headers: seen.append(status)))  # type: ignore[arg-type]
    return seen[0], answer


def test_it_refuses_its_own_calls_without_the_token() -> None:
    harness = Harness(_clock_app, "right-token")
    for token in ("", "wrong-token", "right-token-and-more"):
        assert _call(harness, FACTS, token=token)[0].startswith("403")
        assert _call(harness, TICK, method="POST", body=b'{"now": "2026-03-02T12:00:00+00:00"}',
                     token=token)[0].startswith("403")
    assert harness.moment is None


def test_it_refuses_a_tick_without_an_aware_time() -> None:
    harness = Harness(_clock_app, "t")
    for body in (b"", b"{}", b'{"now": "yesterday"}', b'{"now": "2026-03-02T12:00:00"}'):
        status, answer = _call(harness, TICK, method="POST", body=body, token="t")
        assert status.startswith("400") and "error" in json.loads(answer)
    assert harness.moment is None


def test_it_serves_the_product_on_the_harness_clock() -> None:
    harness = Harness(_clock_app, "t")
    assert abs(float(_call(harness, "/api/v1/exchange/messages")[1]) - time.time()) < 60  # no tick yet: real time
    harness.moment, harness.set_at = MOMENT, time.monotonic()
    served = float(_call(harness, "/api/v1/exchange/messages")[1])
    assert MOMENT.timestamp() <= served < MOMENT.timestamp() + 60
