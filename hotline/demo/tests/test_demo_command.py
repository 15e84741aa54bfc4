"""``make demo`` as a newcomer runs it: ``hotline demo`` in its own process on a fresh SQLite file, the simulated
history, then the real web server and worker on loopback while new reports arrive; Ctrl-C stops everything; a
second run starts again from a fresh database."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from hotline.demo.blankdb import CACHE_ENV
from hotline.demo.peer import free_port
from hotline.demo.scenario import make_plan

# The demo runs on its own SQLite file whatever DATABASE_URL says (see _env); no test database: SQLite phase only.
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 900.0  # a backstop only: on a loaded machine the history can take minutes


def _env(var: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", CACHE_ENV)}
    # The demo's own settings (DEBUG, development keys, SQLite under HOTLINE_VAR_DIR), not the test suite's.
    return keep | {"HOTLINE_DEBUG": "true", "HOTLINE_VAR_DIR": str(var), "DATABASE_URL": "",
                   "DJANGO_SETTINGS_MODULE": "hotline.settings", "PYTHONPATH": str(ROOT)}


def _wait(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if ready():
            return
        if process.poll() is not None:
            raise AssertionError(f"the demo exited ({process.returncode}) before {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {DEADLINE:.0f} s:\n{log.read_text()[-4000:]}")


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _count(database: Path, sql: str, *params: object) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        return int(db.execute(sql, params).fetchone()[0])


def test_make_demo_runs_a_living_hotline_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env, port, log = _env(tmp_path), free_port(), tmp_path / "demo.log"
    command = [sys.executable, "-m", "hotline.cli", "demo", "--port", str(port), "--history-reports", "8",
               "--history-days", "2", "--feed", "2"]
    with log.open("wb") as out:
        demo = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=True)
    try:
        _wait("the web server", lambda: _answers(port), demo, log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/report/", timeout=60) as page:
            assert page.status == 200 and b"<form" in page.read()
        _wait("the banner", lambda: b"Press Ctrl-C" in log.read_bytes(), demo, log)
        # The web server was started before the history, not after it.
        output = log.read_text()
        assert output.index("serving at") < output.index("simulating the last") < output.index("Press Ctrl-C")
        database = tmp_path / "hotline.sqlite3"
        history = _count(database, "select count(*) from reports_item")
        assert history > 0
        # Live: new reports arrive every 2 s and the worker process captures them from the simulated web.
        _wait("a live report captured by the worker", lambda: _count(
            database, "select count(*) from reports_item where id > ? and status != 'new'", history) > 0, demo, log)
        banner = log.read_text()
        assert f"http://127.0.0.1:{port}/" in banner and "analyst-demo-2026" in banner
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C reaches the demo and its children, as in a terminal
        try:
            code = demo.wait(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            raise
    assert code == 0, log.read_text()[-4000:]
    assert not _answers(port)
    assert "Traceback" not in log.read_text()  # Ctrl-C reaches every process of the demo: none prints one

    # A second run: the simulated web of the first is gone, so the demo starts from a fresh database.
    again = subprocess.run(  # noqa: S603 - our own command line
        [*command[:4], "--setup-only", "--history-reports", "5", "--history-days", "1"],
        env=env, cwd=ROOT, capture_output=True, timeout=DEADLINE, check=False)
    assert again.returncode == 0, again.stderr.decode()[-4000:]
    assert b"starting from a fresh demo database" in again.stdout
    fresh = len(make_plan(5, days=1, seed=1).sites)
    assert _count(tmp_path / "hotline.sqlite3", "select count(*) from reports_item") == fresh


def test_sigterm_stops_the_demo_and_its_children_and_a_restart_keeps_the_keys(tmp_path: Path) -> None:
    env, port, log = _env(tmp_path), free_port(), tmp_path / "demo.log"
    command = [sys.executable, "-m", "hotline.cli", "demo", "--port", str(port), "--history-reports", "5",
               "--history-days", "1", "--feed", "0"]
    with log.open("wb") as out:
        demo = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=True)
    try:
        _wait("the web server", lambda: _answers(port), demo, log)
        _wait("the banner", lambda: b"Press Ctrl-C" in log.read_bytes(), demo, log)
        os.kill(demo.pid, signal.SIGTERM)  # to the demo alone, as a service manager or `kill` sends it
        code = demo.wait(timeout=300)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    assert code == 0, log.read_text()[-4000:]
    assert not _answers(port)
    deadline = time.monotonic() + 30
    while _group_alive(demo.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _group_alive(demo.pid), "a child of the demo outlived it"
    logins = tmp_path / "demo-logins.txt"
    assert logins.stat().st_mode & 0o777 == 0o600 and "analyst-demo-2026" in logins.read_text()
    assert "HOTLINE_DEBUG=true" in (tmp_path / "demo.env").read_text()
    keys = (tmp_path / "demo-authenticator-keys.json").read_text()

    again = subprocess.run([*command[:4], "--setup-only", "--history-reports", "3", "--history-days", "1"],  # noqa: S603
                           env=env, cwd=ROOT, capture_output=True, timeout=DEADLINE, check=False)
    assert again.returncode == 0, again.stderr.decode()[-4000:]
    assert (tmp_path / "demo-authenticator-keys.json").read_text() == keys


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
