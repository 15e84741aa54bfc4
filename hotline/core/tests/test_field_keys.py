from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from hotline.audit.services import SYSTEM
from hotline.reports.models import Report
from hotline.reports.services import IncomingReport, receive_reports

pytestmark = pytest.mark.django_db

OLD = "test1:" + "A" * 43  # the key of hotline.settings_test
NEW = "fresh2:" + "Z" * 43


def _raw() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_contact FROM reports_report WHERE reporter_contact <> '' ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def test_rotation_re_encrypts_every_value_under_the_new_key(capsys: pytest.CaptureFixture[str]) -> None:
    batch = [IncomingReport(source="public", urls=[f"http://k{i}.sim.test/"], reporter_contact=f"r{i}@mail.example")
             for i in range(3)]
    receive_reports([*batch, IncomingReport(source="public", urls=["http://k9.sim.test/"])], actor=SYSTEM)
    assert all(token.startswith("v1:test1:") for token in _raw())
    with override_settings(HOTLINE_FIELD_KEYS=f"{NEW},{OLD}"):
        call_command("field_keys", "rotate")
        assert "re-encrypted 3 values under key fresh2" in capsys.readouterr().out
        assert all(token.startswith("v1:fresh2:") for token in _raw())
        call_command("field_keys", "rotate")
        assert "re-encrypted 0 values" in capsys.readouterr().out
    with override_settings(HOTLINE_FIELD_KEYS=NEW):  # the old key is gone: everything still reads
        assert sorted(Report.objects.exclude(url_count=0).values_list("reporter_contact", flat=True)) == [
            "", "r0@mail.example", "r1@mail.example", "r2@mail.example"]
        call_command("field_keys", "status")
        assert "fresh2: 3 values" in capsys.readouterr().out
