"""Scale-out on PostgreSQL: four `hotline worker` processes and a three-worker gunicorn share one database
while an analyst assesses and a partner posts batches; every piece of work happens exactly once.

Everything runs on loopback: the simulated web (capture), the demo DNS stub and RDAP (tracing), an SMTP
sink (police referrals and provider notices). The URLs are invented `*.sim.test` names. The workers skip
the exchange step: no partner installation runs here (partners/tests covers it with a second process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count

from hotline.accounts.models import ClientKind, User
from hotline.accounts.services import issue_api_client
from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Verdict
from hotline.assessment.services import AssessmentData, WorkflowError, assess_item, claim_item
from hotline.audit.services import SYSTEM, Actor
from hotline.core.management.commands.worker import select_steps, step_name
from hotline.demo.hosting import DemoHosting, seed_directory
from hotline.evidence.models import Capture
from hotline.reports.models import AWAITING_ASSESSMENT, Item, ItemStatus, Report, Source
from hotline.reports.services import IncomingReport, receive_reports
from hotline.routing.models import Decision, Referral, ReferralStatus
from hotline.routing.services import message_id as referral_message_id
from hotline.sim.smtp import SmtpSink, listening_socket
from hotline.sim.web import SimWeb
from hotline.takedown.models import Notice, NoticeItem, NoticeState
from hotline.takedown.render import message_id as notice_message_id
from hotline.tracing.models import Trace

ROOT = Path(__file__).resolve().parents[3]
SEEDED, API_BATCHES, API_PER_BATCH, WORKERS = 140, 8, 5, 4
DEADLINE = 600.0  # a generous bound, not a speed check: about a minute on 2 shared cores, far more under load
BASELINE = AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                          content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT)


@dataclass
class Stack:
    env: dict[str, str]
    sink: SmtpSink
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
        """Start a process; its stderr goes to a file (a pipe nobody reads could fill up and block it)."""
        with (self.log_dir / f"process-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(args, cwd=ROOT, env=self.env,  # noqa: S603 - our own commands
                                       stdout=subprocess.DEVNULL, stderr=log, pass_fds=pass_fds)
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-1500:] for path in sorted(self.log_dir.glob("*.log")))


def _process_env(tmp_path: Path, web: SimWeb, hosting: DemoHosting, sink: SmtpSink) -> dict[str, str]:
    """Production settings module, this test's database and keys, the loopback simulations."""
    db = connection.settings_dict
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return keep | {
        "DJANGO_SETTINGS_MODULE": "hotline.settings", "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "HOTLINE_DEBUG": "false", "HOTLINE_SSL_REDIRECT": "false", "HOTLINE_ALLOWED_HOSTS": "127.0.0.1",
        "HOTLINE_SECRET_KEY": settings.SECRET_KEY, "HOTLINE_FIELD_KEYS": settings.HOTLINE_FIELD_KEYS,
        "HOTLINE_STORE_KEYS": settings.HOTLINE_STORE_KEYS,
        "HOTLINE_EVIDENCE_SIGNING_KEY": settings.HOTLINE_EVIDENCE_SIGNING_KEY,
        "HOTLINE_EXCHANGE_SIGNING_KEY": settings.HOTLINE_EXCHANGE_SIGNING_KEY,
        "HOTLINE_VAR_DIR": str(tmp_path / "var"), "HOTLINE_STORE_ROOT": str(tmp_path / "store"),
        "HOTLINE_REFERRAL_DIR": str(tmp_path / "referrals"), "HOTLINE_LOG_LEVEL": "WARNING",
        "HOTLINE_FETCH_ALLOW_LOOPBACK": "true", "HOTLINE_SIM_HOSTS": json.dumps(web.host_map),
        "HOTLINE_SIM_PORTS": json.dumps({"80": web.port}),
        "HOTLINE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "HOTLINE_SMTP_HOST": sink.host, "HOTLINE_SMTP_PORT": str(sink.port),
        "HOTLINE_POLICE_HOLD_HOURS": "0", "HOTLINE_TAKEDOWN_BATCH_MINUTES": "0",
        "HOTLINE_API_RATE": "100000/m", **hosting.env,
    }


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if connection.vendor != "postgresql":
        pytest.skip("worker and web processes share the test database only on PostgreSQL")
    with SimWeb(suffixes=(".sim.test",), catch_all=True) as web, DemoHosting() as hosting, SmtpSink() as sink:
        built = Stack(_process_env(tmp_path, web, hosting, sink), sink, tmp_path)
        try:
            yield built
        finally:
            for process in built.processes:
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=10)


def _seed(count: int) -> None:
    seed_directory()
    batch = [IncomingReport(source=Source.PUBLIC, urls=[f"http://scale-{n}.sim.test/page/{n}"]) for n in range(count)]
    receive_reports(batch, actor=Actor(label="scale-out test"))


def _wait_for_port(port: int, process: subprocess.Popen[bytes], stack: Stack, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, stack.logs()
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start listening")


def _submit(port: int, token: str, accepted: list[str], errors: list[str]) -> None:
    """The partner: batches of fresh URLs; every reference the API accepts is remembered."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
        for b in range(API_BATCHES):
            reports = [{"urls": [f"http://api-{b}-{n}.sim.test/page/{n}"], "external_ref": f"s{b}-{n}"}
                       for n in range(API_PER_BATCH)]
            response = client.post("/api/v1/submissions", json={"submission_id": f"scale-{b}", "reports": reports})
            if response.status_code != 200:
                errors.append(f"{response.status_code}: {response.text[:200]}")
                continue
            accepted.extend(r["reference"] for r in response.json()["reports"] if r.get("reference"))


def _assess_ready(analyst: User) -> int:
    """The analyst: take every captured item and record a verdict (a label on synthetic data)."""
    done = 0
    for item in Item.objects.filter(status__in=AWAITING_ASSESSMENT).order_by("pk")[:20]:
        try:
            claim_item(item, user=analyst)
        except WorkflowError:
            continue
        assess_item(item, BASELINE, user=analyst)
        done += 1
    return done


def _pipeline_done(expected_items: int) -> bool:
    items = Item.objects.all()
    if items.count() < expected_items or items.exclude(status=ItemStatus.ASSESSED).exists():
        return False
    if Decision.objects.current().count() < expected_items or Decision.objects.filter(
            notice_due_at__isnull=False, superseded_at__isnull=True).exists():
        return False
    if Referral.objects.exclude(status=ReferralStatus.SENT).exists():
        return False
    return not Notice.objects.exclude(state=NoticeState.SENT).exists()


def _run_until(done: Callable[[], bool], tick: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if done():
            return
        time.sleep(0.3)
    raise AssertionError("the pipeline did not finish in time: " + _progress())


def _progress() -> str:
    statuses = dict(Counter(Item.objects.values_list("status", flat=True)))
    return (f"items {statuses}, decisions {Decision.objects.count()}, referrals "
            f"{dict(Counter(Referral.objects.values_list('status', flat=True)))}, notices "
            f"{dict(Counter(Notice.objects.values_list('state', flat=True)))}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> list[int]:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    return [process.wait(timeout=60) for process in processes]


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_it_processes_every_item_once_with_four_workers_and_three_web_processes(stack: Stack, analyst: User) -> None:
    _seed(SEEDED)
    _client, token = issue_api_client("Scale partner", ClientKind.PARTNER, actor=SYSTEM, country="NL")
    assert token is not None
    listener = listening_socket()  # bound here and handed to gunicorn: no other process can take the port
    port = listener.getsockname()[1]
    python = sys.executable
    web = stack.start(python, "-m", "gunicorn", "hotline.wsgi:application", "--workers", "3",
                      "--bind", f"fd://{listener.fileno()}", "--log-level", "warning",
                      pass_fds=(listener.fileno(),))
    listener.close()  # gunicorn holds its own copy
    workers = [stack.start(python, "-m", "hotline.cli", "worker", "--skip", "exchange", "--sleep", "0.3")
               for _ in range(WORKERS)]
    _wait_for_port(port, web, stack)
    accepted: list[str] = []
    errors: list[str] = []
    client = threading.Thread(target=_submit, args=(port, token, accepted, errors))
    client.start()

    expected = SEEDED + API_BATCHES * API_PER_BATCH
    try:
        _run_until(lambda: not client.is_alive() and _pipeline_done(expected), lambda: _assess_ready(analyst),
                   DEADLINE)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from exc
    client.join()
    exits = _stop([*workers, web])

    assert exits == [0] * (WORKERS + 1), stack.logs()
    assert errors == [] and len(accepted) == API_BATCHES * API_PER_BATCH
    assert Report.objects.filter(reference__in=accepted).count() == len(accepted)
    _assert_exactly_once(expected, stack.sink)


def _once_per_item(queryset: Any) -> None:
    counts = Counter(dict(queryset.values_list("item_id").annotate(n=Count("pk")).values_list("item_id", "n")))
    assert set(counts.values()) == {1}, {pk: n for pk, n in counts.items() if n != 1}


def _assert_exactly_once(expected: int, sink: SmtpSink) -> None:
    assert Item.objects.count() == expected
    assert Capture.objects.count() == expected
    _once_per_item(Capture.objects.all())
    assert Decision.objects.count() == Decision.objects.current().count() == expected
    _once_per_item(Decision.objects.all())
    # The trace worker traced each item once (the trace routing used); besides it, only takedown's
    # re-trace just before a notice goes out adds one more snapshot per noticed item.
    routed = Counter(Decision.objects.values_list("trace_id", flat=True))
    assert None not in routed and len(routed) == expected
    noticed = Counter(Notice.items.through.objects.values_list("item_id", flat=True))
    traces = Counter(Trace.objects.values_list("item_id", flat=True))
    assert traces == Counter({pk: 1 + noticed[pk] for pk in Item.objects.values_list("pk", flat=True)})

    referred = Counter(Referral.items.through.objects.values_list("item_id", flat=True))
    with_police = set(Decision.objects.filter(police__isnull=False).values_list("item_id", flat=True))
    assert set(referred) == with_police and set(referred.values()) == {1}
    domestic = set(Decision.objects.filter(route="domestic").values_list("item_id", flat=True))
    assert domestic and set(noticed) == domestic and set(noticed.values()) == {1}

    ids = Counter(sink.message_ids())
    assert set(ids.values()) == {1}, [mid for mid, n in ids.items() if n > 1]
    notices = {notice_message_id(notice) for notice in Notice.objects.all()}
    referrals = {referral_message_id(referral) for referral in Referral.objects.all()}
    assert {mid for mid in ids if mid.startswith("<notice-")} == notices
    assert {mid for mid in ids if mid.startswith("<referral-")} == referrals
    bodies = {received.message_id: received.text() for received in sink.messages()}
    missing = [(line.notice_id, line.url) for line in NoticeItem.objects.filter(dropped_at__isnull=True)
               if line.url not in bodies[notice_message_id(line.notice)]]
    assert missing == [], "items recorded in a sent notice but absent from the message sent"


# --- worker process types (--only / --skip) --------------------------------------------------------------


def test_it_runs_only_the_named_steps_in_settings_order(settings: Any) -> None:
    paths = select_steps(list(settings.HOTLINE_WORKER_STEPS), only="notice_step, capture", skip=None)
    assert paths == ["hotline.evidence.steps.capture_step", "hotline.takedown.steps.notice_step"]


def test_it_skips_the_named_steps(settings: Any) -> None:
    paths = select_steps(list(settings.HOTLINE_WORKER_STEPS), only=None, skip="exchange,retention")
    assert len(paths) == len(settings.HOTLINE_WORKER_STEPS) - 2
    assert {step_name(p) for p in paths}.isdisjoint({"exchange", "retention"})


def test_it_refuses_an_unknown_step_by_name() -> None:
    with pytest.raises(CommandError, match=r"unknown worker step.*captur.*known: .*capture"):
        call_command("worker", "--once", "--only", "captur")
    with pytest.raises(CommandError, match="no step to run"):
        call_command("worker", "--once", "--only", "capture", "--skip", "capture")


@pytest.mark.django_db
def test_it_runs_one_worker_type_once(capsys: pytest.CaptureFixture[str]) -> None:
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=["http://type-1.sim.test/page/1"])],
                    actor=Actor(label="test"))
    call_command("worker", "--once", "--only", "trace,notice")
    assert capsys.readouterr().out.strip() == "nothing to do"  # a new item is capture's work, not theirs
    assert Item.objects.get().status == ItemStatus.NEW
