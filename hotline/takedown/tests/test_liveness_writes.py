"""What a liveness pass writes, and with how many statements: the quiet hits of a batch in one UPDATE whatever
their outcome and rhythm, an audited result's takedown written as ``save(update_fields=…)`` writes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hotline.lib import prepared
from hotline.reports.models import Item
from hotline.sim.web import SimWeb
from hotline.takedown.models import Takedown, TakedownState
from hotline.takedown.services import LivenessConfig, checks, next_check_time
from hotline.takedown.services.checks import record_checks
from hotline.takedown.steps import liveness_step
from hotline.takedown.tests.test_liveness_record import CASES, _what_was_written

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)
# First notice this long ago: checked every 15 minutes, hourly, daily.
AGES = [30 * MIN, 5 * 60 * MIN, 3 * 24 * 60 * MIN]


def _statements(context: CaptureQueriesContext) -> int:  # the test's transaction adds savepoints
    return sum(1 for query in context.captured_queries if "SAVEPOINT" not in query["sql"])


@pytest.mark.parametrize("size", [3, 9])
def test_a_pass_of_quiet_hits_is_five_statements_whatever_their_number_and_rhythms(
        size: int, sim: SimWeb, make_item: Callable[..., Item], liveness_config: LivenessConfig) -> None:
    """The probe, the claim's read and lease, what was captured, and one UPDATE for every quiet hit of the batch
    (on main: an UPDATE per outcome and next check time)."""
    now = timezone.now()
    made = []
    for n in range(size):
        sim.set_page(f"quiet{n}.sim.test", f"/page/{n}", b"<p>still here</p>")
        item = make_item(sim.url(f"quiet{n}.sim.test", f"/page/{n}"))
        made.append(Takedown.objects.create(
            item=item, state_changed_at=now, opened_at=now - AGES[n % 3], reported_at=now, next_check_at=now,
            first_notice_at=now - AGES[n % 3], checks=n))
    liveness_step(now=now - 60 * MIN, config=liveness_config)  # nothing due yet; compiles the probe
    with CaptureQueriesContext(connection) as context:
        assert liveness_step(now=now, config=liveness_config) is True
    for takedown in made:
        stored = Takedown.objects.get(pk=takedown.pk)
        assert (stored.checks, stored.last_check_at, stored.last_check_outcome, stored.state) == (
            takedown.checks + 1, now, "hit:online", TakedownState.ONLINE)
        assert stored.next_check_at == next_check_time(takedown, now)
    assert len({t.next_check_at for t in Takedown.objects.all()}) == 3
    assert _statements(context) == 5


def test_quiet_hits_of_several_outcomes_and_rhythms_each_get_their_own(make_item: Callable[..., Item]) -> None:
    from hotline.takedown.checker import HIT, CheckResult
    from hotline.takedown.services.liveness import record_results

    now = timezone.now()
    rows = [Takedown.objects.create(item=make_item(), state_changed_at=now, opened_at=now - age, reported_at=now,
                                    first_notice_at=now - age, next_check_at=now, checks=2,
                                    state=TakedownState.REAPPEARED if n == 4 else TakedownState.ONLINE)
            for n, age in enumerate(AGES * 2)]
    codes = ["media_present", "same_file", "media_reembedded", "online", "media_present", "same_file"]
    with CaptureQueriesContext(connection) as context:
        record_results([(t, CheckResult(HIT, code)) for t, code in zip(rows, codes, strict=True)], now=now)
    assert _statements(context) == 1
    for takedown, code in zip(rows, codes, strict=True):
        stored = Takedown.objects.get(pk=takedown.pk)
        assert (stored.checks, stored.last_check_at, stored.last_check_outcome, stored.next_check_at) == (
            3, now, f"hit:{code}", next_check_time(takedown, now))


def test_an_audited_result_writes_its_takedown_as_save_does_with_sql_compiled_once(
        make_takedowns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each kind of result (fields set, fields set to None) written by the compiled UPDATE leaves the rows and
    events that ``save(update_fields=…)`` left; a second batch of the same kinds compiles nothing new."""
    now = timezone.now()
    results = [result for _s, _m, result in CASES]
    reference = make_takedowns(now)
    mark = max(_seqs(), default=0)
    with monkeypatch.context() as patched:
        patched.setattr(checks, "_save", lambda takedown, fields: takedown.save(update_fields=fields))
        record_checks([(t.pk, r) for t, r in zip(reference, results, strict=True)], now=now)
    expected = _what_was_written(reference, mark)
    compiled = make_takedowns(now)
    mark = max(_seqs(), default=0)
    record_checks([(t.pk, r) for t, r in zip(compiled, results, strict=True)], now=now)
    assert _what_was_written(compiled, mark) == expected
    known = len(prepared._COMPILED)
    again = make_takedowns(now)
    record_checks([(t.pk, r) for t, r in zip(again, results, strict=True)], now=now)
    assert len(prepared._COMPILED) == known
    assert {key[2] for key in prepared._COMPILED} >= {"takedown.check_recorded"}


def test_a_takedown_gone_before_its_write_fails_the_batch_as_save_did(make_takedowns: Any) -> None:
    from django.db import DatabaseError

    now = timezone.now()
    takedown = make_takedowns(now)[3]
    Takedown.objects.filter(pk=takedown.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        checks._save(takedown, ["checks", "last_check_at"])


def _seqs() -> list[int]:
    from hotline.audit.models import AuditEvent

    return list(AuditEvent.objects.values_list("seq", flat=True))


@pytest.fixture
def make_takedowns(traced_item: Any, contact: Any) -> Callable[[datetime], list[Takedown]]:
    from hotline.takedown.tests import test_liveness_record

    return test_liveness_record.make_takedowns.__wrapped__(traced_item, contact)  # type: ignore[attr-defined,no-any-return]
