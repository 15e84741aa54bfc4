"""Talking to ICCAM (api3) over mutual TLS, through the project's one outbound client (``lib/http``).

An :class:`IccamSession` logs in on first use (``POST Authentication``), waits the short time ICCAM needs
before a new token works, and logs in again once on a 401. The worker steps share one per thread and
configuration between calls (:func:`kept_session`): its token and its mutual-TLS connection (HTTP/1.1
keep-alive) serve the next step too, so a step does not pay a TLS handshake and a log-in each time (most of
what an idle pull or a push of one write cost). Answers are sorted into one exception, :class:`IccamError`,
that says whether retrying can help:

* 2xx: success (JSON body decoded when there is one);
* 400, 403, 404, 422: ICCAM refuses the write (``refused``): final, never retried;
* 409: not yet in a phase that accepts it: retried;
* 429 and 5xx, and transport failures: retried, after ``Retry-After`` when ICCAM sends one.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

from hotline.iccam.conf import IccamConfig
from hotline.lib.http import FetchError, OutboundClient, outbound_policy, printable_excerpt

REFUSED_STATUSES = frozenset({400, 403, 404, 422})
TIMEOUT_SECONDS = 10.0  # the connect timeout the reference client uses


class IccamError(Exception):
    """A failed call. ``retry``: another attempt may succeed; ``refused``: ICCAM said no to this write;
    ``retry_after``: seconds ICCAM asked us to wait (429)."""

    def __init__(self, message: str, *, retry: bool, refused: bool = False, status: int = 0,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry, self.refused, self.status, self.retry_after = retry, refused, status, retry_after


def _errors_text(status: int, body: bytes) -> str:
    """``HTTP 400: [ICCAM Key] message, …`` from ICCAM's ``errors`` object, or a printable excerpt."""
    try:
        errors = json.loads(body).get("errors") or {}
        text = "; ".join(f"[ICCAM {key}] {', '.join(map(str, msgs))}" for key, msgs in errors.items())
    except (ValueError, AttributeError):
        text = ""
    return f"HTTP {status}: {printable_excerpt(text or body, 300)}"


def _retry_after(value: str | None) -> int | None:
    try:
        return max(0, min(int(value or ""), 3600))
    except ValueError:
        return None


class IccamSession:
    def __init__(self, config: IccamConfig) -> None:
        self.config = config
        policy = dataclasses.replace(outbound_policy(timeout=TIMEOUT_SECONDS, max_body_bytes=8 * 1024 * 1024),
                                     ca_bundle=config.ca_bundle, verify_tls=True,
                                     client_certificate=config.certificate)
        self._client = OutboundClient(policy, max_connections=2)
        self._token: str | None = None

    def __enter__(self) -> IccamSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    # ------------------------------------------------------------------ calls

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, query=query)

    def put(self, path: str, body: Any = None, **query: Any) -> Any:
        return self.call("PUT", path, body=body, query=query)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, body=body)

    def call(self, method: str, path: str, *, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        if self._token is None:
            self.login()
        try:
            return self._send(method, path, body, query)
        except IccamError as exc:
            if exc.status != 401:
                raise
        self.login()  # the token expired or was revoked: one new login, then the call once more
        return self._send(method, path, body, query)

    def login(self) -> None:
        self._token = None
        answer = self._send("POST", "Authentication",
                            {"username": self.config.username, "password": self.config.password}, None, auth=False)
        token = answer.get("bearerToken") if isinstance(answer, dict) else None
        if not token:
            raise IccamError("login answered without a bearer token", retry=True)
        self._token = str(token)
        if self.config.login_wait:
            time.sleep(self.config.login_wait)  # ICCAM needs a moment before a new token works

    def _send(self, method: str, path: str, body: Any, query: dict[str, Any] | None, *, auth: bool = True) -> Any:
        url = self.config.base_url + quote(path, safe="/")
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        content = b"" if body is None and method != "GET" else (None if body is None else json.dumps(body).encode())
        try:
            result = self._client.request(method, url, content=content, headers=headers)
        except FetchError as exc:
            raise IccamError(f"{exc.code}: {exc.message}", retry=exc.retryable) from exc
        status = result.status_code
        if 200 <= status < 300:
            return json.loads(result.body) if result.body.strip() else None
        text = _errors_text(status, result.body)
        if status in REFUSED_STATUSES:
            raise IccamError(text, retry=False, refused=True, status=status)
        raise IccamError(text, retry=True, status=status, retry_after=_retry_after(result.header("Retry-After")))


_kept = threading.local()


@contextmanager
def kept_session(config: IccamConfig) -> Iterator[IccamSession]:
    """This thread's session for ``config``, kept open for the next call (a worker runs its steps one after
    the other in one thread). A new configuration gets a new session; a failure other than ICCAM's answer
    (a bug, an interrupted step) closes it, so the next step starts clean. An expired token costs one 401
    and a new log-in (:meth:`IccamSession.call`); a connection the server closed is replaced by the pool."""
    session: IccamSession | None = getattr(_kept, "session", None)
    if session is None or session.config != config:
        if session is not None:
            session.__exit__(None, None, None)
        session = _kept.session = IccamSession(config)
    try:
        yield session
    except IccamError:
        raise
    except BaseException:
        _kept.session = None
        session.__exit__(None, None, None)
        raise
