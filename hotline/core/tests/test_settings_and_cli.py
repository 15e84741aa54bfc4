from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.services import claim_item
from hotline.core.checks import unsafe_production_settings
from hotline.demo.blankdb import CACHE_ENV
from hotline.lib import env
from hotline.reports.models import Item, Report

ROOT = Path(__file__).resolve().parents[3]


def test_env_helpers_fail_loudly_and_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HL_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="HL_FLAG='maybe' is not a boolean"):
        env.boolean("HL_FLAG", False)
    monkeypatch.setenv("HL_NUM", "12x")
    with pytest.raises(ImproperlyConfigured, match="HL_NUM='12x' is not an integer"):
        env.integer("HL_NUM", 1)
    monkeypatch.setenv("HL_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 5"):
        env.integer("HL_NUM", 10, minimum=5)
    monkeypatch.setenv("HL_AGE", "0.5")
    assert env.number("HL_AGE", 1.0, minimum=0) == 0.5
    for bad, message in (("soon", "is not a number"), ("-1", "at least 0"), ("nan", "is not a number")):
        monkeypatch.setenv("HL_AGE", bad)
        with pytest.raises(ImproperlyConfigured, match=message):
            env.number("HL_AGE", 1.0, minimum=0)
    with pytest.raises(ImproperlyConfigured, match="HL_MISSING"):
        env.required("HL_MISSING")


def test_secrets_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("HL_SECRET_FILE", str(secret))
    assert env.text("HL_SECRET") == "s3cr3t"
    monkeypatch.setenv("HL_SECRET", "also")
    with pytest.raises(ImproperlyConfigured, match="both set"):
        env.text("HL_SECRET")
    monkeypatch.delenv("HL_SECRET")
    monkeypatch.setenv("HL_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.text("HL_SECRET")


def _run_cli(*args: str, extra_env: dict[str, str] | None = None, drop: tuple[str, ...] = (),
             module: str = "hotline.cli") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DJANGO_")) and k not in drop}
    clean |= {"DJANGO_SETTINGS_MODULE": "hotline.settings", "HOTLINE_DEMO_ENV": "", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=clean,  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)


def test_production_settings_refuse_to_start_without_keys() -> None:
    result = _run_cli("check")
    assert result.returncode == 2
    assert result.stderr.startswith("hotline: configuration error: HOTLINE_SECRET_KEY (or HOTLINE_SECRET_KEY_FILE)")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    for words in (["import-csv", "x.csv"], ["--help"], ["help", "audit"]):
        again = _run_cli(*words)
        assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr


def test_the_cli_uses_the_demo_settings_when_no_hotline_variable_is_set(tmp_path: Path) -> None:
    demo_env = tmp_path / "demo.env"
    demo_env.write_text(f"# written by the demo\nHOTLINE_DEBUG=true\nHOTLINE_VAR_DIR={tmp_path}\n"
                        f"DATABASE_URL=sqlite:///{tmp_path / 'demo.sqlite3'}\n")
    result = _run_cli("migrate", "-v0", extra_env={"HOTLINE_DEMO_ENV": str(demo_env)}, drop=("DATABASE_URL",))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"hotline: using the demo's settings from {demo_env} (HOTLINE_DEBUG=true); "
                             "set HOTLINE_* variables to use others\n")
    assert (tmp_path / "demo.sqlite3").exists() and (tmp_path / "dev-secrets.json").exists()
    # Any HOTLINE_* variable of one's own: the demo file is left alone.
    own = _run_cli("check", extra_env={"HOTLINE_DEMO_ENV": str(demo_env), "HOTLINE_ALLOWED_HOSTS": "x.example"},
                   drop=("DATABASE_URL",))
    assert own.returncode == 2 and "using the demo's settings" not in own.stderr


def test_the_demo_writes_the_settings_file_the_cli_reads(tmp_path: Path) -> None:
    from hotline.cli import read_env_file
    from hotline.core.management.commands.demo import write_demo_env

    path = write_demo_env(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    values = read_env_file(path)
    assert values["HOTLINE_DEBUG"] == "true" and values["HOTLINE_VAR_DIR"] == str(tmp_path)
    assert values["DATABASE_URL"]


def test_help_lists_the_product_commands_first_with_one_line_each() -> None:
    result = _run_cli("--help", extra_env={"HOTLINE_DEBUG": "true", "HOTLINE_VAR_DIR": "/tmp/hotline-cli-test"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("Hotline commands:") < out.index("Django commands:")
    ours = out[out.index("Hotline commands:"):out.index("Django commands:")]
    assert "  import-csv  Import reported URLs from a CSV file" in ours and "\n  migrate " not in ours
    assert "  audit " in ours and "  worker " in ours
    assert _run_cli("help", extra_env={"HOTLINE_DEBUG": "true",
                                       "HOTLINE_VAR_DIR": "/tmp/hotline-cli-test"}).stdout == out
    one = _run_cli("help", "import-csv", extra_env={"HOTLINE_DEBUG": "true",
                                                    "HOTLINE_VAR_DIR": "/tmp/hotline-cli-test"})
    assert one.returncode == 0 and "--errors" in one.stdout


def test_a_closed_output_ends_the_command_quietly() -> None:
    """``hotline ... | head``: the reader goes away; no traceback, the SIGPIPE exit code, as other tools."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DJANGO_"))}
    clean |= {"HOTLINE_DEBUG": "true", "HOTLINE_VAR_DIR": "/tmp/hotline-cli-test", "HOTLINE_DEMO_ENV": ""}
    for words in (["--help"], ["diffsettings", "--all"]):
        read, write = os.pipe()
        os.close(read)  # nobody reads: the first write fails with EPIPE
        try:
            result = subprocess.run([sys.executable, "-m", "hotline.cli", *words], cwd=ROOT, env=clean,  # noqa: S603
                                    stdout=write, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
        finally:
            os.close(write)
        assert result.returncode == 141, (words, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_every_option_of_the_product_commands_has_help_text() -> None:
    import argparse

    from django.core.management import get_commands, load_command_class

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    ours = {name: app for name, app in get_commands().items() if app.startswith("hotline.")}
    assert "import_csv" in ours and "demo" in ours
    for name, app in ours.items():
        walk(load_command_class(app, name).create_parser("hotline", name), name)
    assert missing == []


def test_a_bad_database_url_is_named() -> None:
    result = _run_cli("check", extra_env={"HOTLINE_DEBUG": "true", "DATABASE_URL": "mysql://x/y",
                                          "HOTLINE_VAR_DIR": "/tmp/hotline-cli-test"})
    assert result.returncode != 0 and "is not supported (sqlite, postgres)" in result.stderr


def test_the_cli_maps_words_to_commands(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite3"
    base = {"HOTLINE_DEBUG": "true", "HOTLINE_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{db}"}
    # Migrated from the run's kept copy (hotline.demo.blankdb); `hotline migrate` itself: the test above.
    prepared = _run_cli(extra_env=base | {CACHE_ENV: os.environ.get(CACHE_ENV, "")}, module="hotline.demo.blankdb")
    assert prepared.returncode == 0, prepared.stderr
    csv = tmp_path / "in.csv"
    csv.write_text("url\nhttp://cli.sim.test/a\nnot a url\n")
    result = _run_cli("import-csv", str(csv), "--quiet", extra_env=base)
    assert result.returncode == 1, result.stderr
    assert "2 lines: 1 new items, 0 merged, 1 errors" in result.stdout
    verify = _run_cli("audit", "verify", extra_env=base)
    assert verify.returncode == 0 and "audit chain intact: 2 events" in verify.stdout


@pytest.mark.vendor_dependent  # no test database, but the SQLite warning depends on DATABASE_URL
@override_settings(DEBUG=False, HOTLINE_FETCH_ALLOW_LOOPBACK=True, ALLOWED_HOSTS=["*"])
def test_system_checks_refuse_unsafe_production_settings() -> None:
    ids = {message.id for message in unsafe_production_settings()}
    assert {"hotline.E001", "hotline.E002"} <= ids
    assert ("hotline.W001" in ids) == (connection.vendor == "sqlite")


@pytest.mark.django_db
def test_the_demo_seed_and_a_worker_pass(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("seed_demo", "--reports", "40")
    out = capsys.readouterr().out
    assert "40 reports" in out and "demo API token (shown once): hl_" in out
    assert Report.objects.count() == 40
    assert set(Item.objects.values_list("status", flat=True)) == {"new"}
    Item.objects.update(status="captured", next_capture_at=None)
    call_command("seed_demo")
    assert "already present" in capsys.readouterr().out
    item = Item.objects.filter(status="captured").first()
    assert item is not None
    claim_item(item, user=User.objects.get(username="analyst"), now=timezone.now() - timedelta(hours=2))
    call_command("worker", "--once")
    assert capsys.readouterr().out.strip() == "worked"
    assert Item.objects.get(pk=item.pk).claimed_by_id is None
    call_command("worker", "--once")
    assert capsys.readouterr().out.strip() == "nothing to do"


@pytest.mark.django_db
def test_api_clients_are_issued_listed_and_revoked(capsys: pytest.CaptureFixture[str]) -> None:
    from django.core.management.base import CommandError

    from hotline.accounts.models import ApiClient
    from hotline.accounts.services import client_for_token

    call_command("api_client", "add", "Partner BE", "--kind", "partner", "--country", "be")
    token = capsys.readouterr().out.split("token ")[1].split()[0]
    client = client_for_token(token)
    assert client is not None and client.country == "BE"
    with pytest.raises(CommandError, match="exists already"):
        call_command("api_client", "add", "Partner BE", "--kind", "partner")
    call_command("api_client", "list")
    assert "Partner BE" in capsys.readouterr().out and token not in capsys.readouterr().out
    call_command("api_client", "revoke", "Partner BE")
    assert client_for_token(token) is None and not ApiClient.objects.get().is_active
