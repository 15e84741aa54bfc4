"""The police's outcome CSV: bad lines named by line and field, valid lines kept, re-imports idempotent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, Actor
from hotline.cases.models import Case, Outcome, OutcomeImport
from hotline.cases.services import ImportFileError, import_outcomes, record_outcome
from hotline.cases.tests.conftest import NOW, errors_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(make_item: Any, make_case: Callable[..., Case]) -> list[Case]:
    item = make_item()
    return [make_case([item]), make_case([item])]  # CASE-2026-0001, CASE-2026-0002


def run(text: str, *, actor: Actor = SYSTEM, **kwargs: Any) -> OutcomeImport:
    return import_outcomes(text.encode("utf-8"), filename="politie.csv", actor=actor, now=NOW, **kwargs)


MIXED = """case_reference,outcome,date,reason,note
CASE-2026-0001,received,2026-01-10,,
CASE-2026-0001,investigation,2026-01-20,,pv 123
CASE-2026-0009,received,2026-01-10,,
CASE-2026-0002,archived,2026-01-10,,
CASE-2026-0002,received,10-01-2026x,,
CASE-2026-0002,dismissed,2026-02-01,,
CASE-2026-0002,convicted,2026-02-01,other,
,received,2026-01-10,,
CASE-2026-0002,received,2099-01-01,,
CASE-2026-0002,received
"CASE-2026-0002",dismissed,01/02/2026,insufficient_evidence,"note, with comma"
"""


def test_it_keeps_the_valid_lines_and_names_line_and_field_of_each_bad_one(cases: list[Case]) -> None:
    batch = run(MIXED)
    assert errors_of(batch) == [(4, "case_reference"), (5, "outcome"), (6, "date"), (7, "reason"), (8, "reason"),
                                (9, "case_reference"), (10, "date"), (11, "*")]
    assert (batch.lines, batch.created, batch.existing, batch.error_count) == (11, 3, 0, 8)
    assert "no case CASE-2026-0009" in batch.errors[0]["message"]
    assert list(cases[0].outcomes.values_list("code", "decided_on", "note")) == [
        ("received", date(2026, 1, 10), ""), ("investigation", date(2026, 1, 20), "pv 123")]
    dismissal = cases[1].outcomes.get()
    assert (dismissal.code, dismissal.reason, dismissal.decided_on, dismissal.note, dismissal.source,
            dismissal.import_batch) == ("dismissed", "insufficient_evidence", date(2026, 2, 1), "note, with comma",
                                        "csv", batch)


def test_a_reimport_of_the_same_file_creates_nothing_twice(cases: list[Case]) -> None:
    first = run(MIXED)
    again = run(MIXED)
    assert (again.created, again.existing, again.error_count) == (0, 3, 8)
    assert Outcome.objects.count() == first.created == 3
    assert AuditEvent.objects.filter(action="cases.outcome_recorded").count() == 3
    assert AuditEvent.objects.filter(action="cases.outcomes_imported").count() == 2
    assert first.sha256 == again.sha256


def test_a_line_repeated_within_one_file_counts_once(cases: list[Case]) -> None:
    batch = run("case_reference,outcome,date\nCASE-2026-0001,received,2026-01-10\ncase-2026-0001,Received by the "
                "police,10/01/2026\n")
    assert (batch.created, batch.existing, batch.error_count) == (1, 1, 0)


def test_it_agrees_with_an_outcome_recorded_by_hand_and_flags_a_different_reason(cases: list[Case]) -> None:
    record_outcome(cases[0], "received", date(2026, 1, 10), actor=SYSTEM, now=NOW)
    record_outcome(cases[0], "dismissed", date(2026, 2, 1), actor=SYSTEM, now=NOW, reason="offender_unknown")
    batch = run("case_reference,outcome,date,reason\nCASE-2026-0001,received,2026-01-10,\n"
                "CASE-2026-0001,dismissed,2026-02-01,not_punishable\n")
    assert (batch.created, batch.existing) == (0, 1)
    assert errors_of(batch) == [(3, "reason")]
    assert "already recorded for CASE-2026-0001 with reason offender_unknown" in batch.errors[0]["message"]
    assert cases[0].outcomes.get(code="dismissed").reason == "offender_unknown"


def test_it_reads_a_semicolon_file_with_bom_and_dutch_or_french_labels(cases: list[Case]) -> None:
    text = ("\ufeffDate;Case_Reference;Outcome;Reason;Extra\n"
            "15.01.2026;CASE-2026-0001;Seponering;Dader onbekend;x\n"
            "2026-01-16;CASE-2026-0002;Classement sans suite;Charges insuffisantes;y\n")
    batch = run(text)
    assert (batch.created, batch.error_count) == (2, 0), batch.errors
    assert cases[0].outcomes.get().reason == "offender_unknown"
    assert cases[1].outcomes.get().decided_on == date(2026, 1, 16)


@pytest.mark.parametrize(("data", "message"), [
    (b"case_reference,outcome\nCASE-2026-0001,received\n", "header: missing column(s) date"),
    (b"", "header: missing column(s) case_reference, outcome, date"),
    ("case_reference,outcome,date,note\nCASE-2026-0001,received,2026-01-10,caf\xe9\n".encode("latin-1"),
     "not UTF-8 text (line 2)")])
def test_a_file_it_cannot_read_imports_nothing_and_says_why(cases: list[Case], data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_outcomes(data, filename="f.csv", actor=SYSTEM, now=NOW)
    assert not OutcomeImport.objects.exists() and not Outcome.objects.exists()


def test_it_refuses_a_file_over_the_size_limit(cases: list[Case], settings: Any) -> None:
    settings.HOTLINE_CASES_IMPORT_MAX_BYTES = 1024
    with pytest.raises(ImportFileError, match="larger than 1024 bytes"):
        run("case_reference,outcome,date\n" + "CASE-2026-0001,received,2026-01-10\n" * 40)


def test_a_broken_quote_is_one_bad_line_not_a_lost_file(cases: list[Case]) -> None:
    batch = run('case_reference,outcome,date,note\nCASE-2026-0001,received,2026-01-10,"a"b\n'
                "CASE-2026-0002,received,2026-01-10,\n")
    assert errors_of(batch) == [(2, "*")] and batch.created == 1


def test_lines_naming_a_case_outside_the_allowed_set_read_as_unknown(cases: list[Case]) -> None:
    batch = run("case_reference,outcome,date\nCASE-2026-0001,received,2026-01-10\n"
                "CASE-2026-0002,received,2026-01-10\n", within=Case.objects.filter(pk=cases[0].pk))
    assert errors_of(batch) == [(3, "case_reference")] and batch.errors[0]["message"] == "no case CASE-2026-0002"
    assert not cases[1].outcomes.exists()


def test_it_records_who_imported(cases: list[Case], police: User) -> None:
    batch = run("case_reference,outcome,date\nCASE-2026-0001,received,2026-01-10\n", actor=Actor.of_user(police))
    outcome = Outcome.objects.get()
    assert (batch.imported_by, batch.actor_label, outcome.recorded_by, outcome.recorded_at) == (
        police, "user:piet", police, NOW)
    event = AuditEvent.objects.get(action="cases.outcomes_imported")
    assert event.after is not None and (event.after["created"], event.after["errors"]) == (1, 0)


def test_the_command_imports_and_fails_loudly_on_refused_lines(cases: list[Case], tmp_path: Path, police: User,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text("case_reference,outcome,date\nCASE-2026-0001,received,2026-01-10\nCASE-2026-0002,nope,2026-01-10\n",
                    encoding="utf-8")
    with pytest.raises(CommandError, match="1 lines refused"):
        call_command("cases", "import-outcomes", str(path), "--user", "piet")
    out, err = capsys.readouterr()
    assert "line 3: field 'outcome': unknown value 'nope'" in err
    assert "2 lines: 1 outcomes added, 0 already recorded, 1 refused" in out
    assert Outcome.objects.get().recorded_by == police
    path.write_text("case_reference,outcome,date\nCASE-2026-0001,received,2026-01-10\n", encoding="utf-8")
    call_command("cases", "import-outcomes", str(path))
    assert "1 lines: 0 outcomes added, 1 already recorded, 0 refused" in capsys.readouterr().out


def test_the_command_refuses_a_user_who_is_not_a_police_liaison(cases: list[Case], tmp_path: Path,
                                                                analyst: User) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text("case_reference,outcome,date\n", encoding="utf-8")
    with pytest.raises(CommandError, match="--user: no active police liaison named 'ana'"):
        call_command("cases", "import-outcomes", str(path), "--user", "ana")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("cases", "import-outcomes", str(tmp_path / "missing.csv"))
