"""The access log gunicorn writes with ``-c python:hotline.core.gunicorn_conf`` holds no token or reference."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config

from hotline.core import gunicorn_conf as conf
from hotline.sim.smtp import listening_socket

TOKEN = "eyJwIjoxMn0.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"
API_TOKEN = "hl_0123abcd_" + "s" * 32


class _App(Application):  # type: ignore[misc]
    def init(self, parser: object, opts: object, args: object) -> None:
        return None

    def load_config(self) -> None:
        self.cfg = Config()
        self.load_config_from_module_name_or_filename("python:hotline.core.gunicorn_conf")
        self.cfg.set("accesslog", "-")  # as the unit's --access-logfile -

    def load(self) -> None:
        return None


def _access_line(method: str, raw_uri: str, **headers: str) -> str:
    cfg = _App().cfg
    logger = cfg.logger_class(cfg)
    out = io.StringIO()
    logger.access_log.handlers = [logging.StreamHandler(out)]
    path, _, query = raw_uri.partition("?")
    environ = {"REQUEST_METHOD": method, "RAW_URI": raw_uri, "PATH_INFO": path, "QUERY_STRING": query,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    request = SimpleNamespace(headers=[(k.upper(), v) for k, v in headers.items()])
    response = SimpleNamespace(status="200 OK", sent=12, headers=[])
    logger.access(response, request, environ, timedelta(milliseconds=5))
    return out.getvalue()


def test_the_web_unit_loads_this_configuration() -> None:
    unit = Path(conf.__file__).resolve().parents[2] / "deploy" / "systemd" / "hotline-web.service"
    assert "--config python:hotline.core.gunicorn_conf" in unit.read_text(encoding="utf-8")
    assert _App().cfg.logger_class is conf.RedactingLogger


def test_it_logs_no_query_string_no_referer_and_no_reference_in_the_path() -> None:
    """Found by an outside probe: provider link tokens and reporter codes were in the access log."""
    referer = f"https://hotline.example/takedown/respond/?t={TOKEN}"
    for uri in (f"/takedown/respond/?t={TOKEN}", "/report/status/?code=HL-7Q2M-9XKD-4WFA",
                "/api/v1/reports/HL-7Q2M-9XKD-4WFA", f"/api/v1/x/{API_TOKEN}"):
        line = _access_line("GET", uri, referer=referer, authorization=f"Bearer {API_TOKEN}",
                            user_agent="probe/1")
        assert TOKEN not in line and "7Q2M" not in line and "s" * 32 not in line, line
        assert "?" not in line and "probe/1" in line and line.startswith("127.0.0.1 ")
    assert '"GET /takedown/respond/ HTTP/1.1" 200 12' in _access_line("GET", f"/takedown/respond/?t={TOKEN}")
    assert '"GET /api/v1/reports/[redacted] HTTP/1.1"' in _access_line("GET", "/api/v1/reports/HL-1")


@pytest.mark.slow
@pytest.mark.parametrize("debug", ["false", "true"])
def test_through_gunicorn_the_log_holds_no_token_and_a_large_body_gets_413(tmp_path: Path, debug: str) -> None:
    """The real server with the unit's configuration: the access log, and the 413 for a body over 20 MiB."""
    listener = listening_socket()  # bound here and handed over: no other process can take the port meanwhile
    port = listener.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hotline.settings_test", "HOTLINE_DEBUG": debug,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
           "PYTHONPATH": str(Path(conf.__file__).resolve().parents[2])}
    log = tmp_path / "access.log"
    with log.open("wb") as out, listener:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "gunicorn", "--config", "python:hotline.core.gunicorn_conf",
             "--access-logfile", "-", "--error-logfile", "-", "--bind", f"fd://{listener.fileno()}", "--workers",
             "1", "hotline.wsgi:application"], env=env, stdout=out, stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),))
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(150):
                    try:
                        client.get("/api/openapi.json")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                client.get(f"/takedown/respond/?t={TOKEN}", headers={"Referer": f"/takedown/respond/?t={TOKEN}"})
                client.get("/report/status/?code=HL-7Q2M-9XKD-4WFA")
                response = client.post("/api/v1/submissions", content=b" " * (20 * 1024 * 1024 + 1),
                                       headers={"Content-Type": "application/json"})
                assert response.status_code == 413
                assert response.json() == {"detail": "the request body is larger than 20971520 bytes"}
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert '"GET /takedown/respond/ HTTP/1.1"' in text and '"POST /api/v1/submissions HTTP/1.1" 413' in text, text
    assert TOKEN not in text and "7Q2M" not in text
