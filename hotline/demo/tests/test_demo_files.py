"""The files the demo leaves under var/: the logins, the authenticator keys kept across restarts, demo.env."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.accounts.models import TOTPDevice
from hotline.core.management.commands.demo import enrol_demo_users, write_logins
from hotline.demo.generator import ensure_demo_users

pytestmark = pytest.mark.django_db


def test_it_keeps_the_authenticator_keys_across_restarts_unless_fresh(tmp_path: Path) -> None:
    logins = ensure_demo_users()
    first = enrol_demo_users(logins, tmp_path, fresh=False)
    assert (tmp_path / "demo-authenticator-keys.json").stat().st_mode & 0o777 == 0o600
    TOTPDevice.objects.all().delete()  # a restart: the demo database is new, the phone's app is not
    assert enrol_demo_users(logins, tmp_path, fresh=False) == first
    TOTPDevice.objects.all().delete()
    fresh = enrol_demo_users(logins, tmp_path, fresh=True)
    assert set(fresh) == set(first) and all(fresh[name] != first[name] for name in first)
    TOTPDevice.objects.all().delete()
    assert enrol_demo_users(logins, tmp_path, fresh=False) == fresh


def test_a_damaged_key_file_means_new_keys(tmp_path: Path) -> None:
    (tmp_path / "demo-authenticator-keys.json").write_text("not json")
    keys = enrol_demo_users(ensure_demo_users(), tmp_path, fresh=False)
    assert len(keys) == 6 and all(keys.values())


def test_it_writes_the_logins_to_a_private_file(tmp_path: Path) -> None:
    logins = ensure_demo_users()
    keys = enrol_demo_users(logins, tmp_path, fresh=False)
    path = write_logins(tmp_path, logins, keys)
    assert path == tmp_path / "demo-logins.txt" and path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert f"analyst / analyst-demo-2026 / {keys['analyst']}" in text and text.count("-demo-2026") == 6
