"""Load test: gunicorn on loopback, public-form and batch-API clients at once, workers running meanwhile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/load.py --seconds 30

Creates a scratch database (``<name>_load``), starts the simulated web, demo DNS/RDAP and an SMTP sink,
``--web-workers`` gunicorn processes and ``--workers`` ``hotline worker`` processes, then for
``--seconds`` runs threads of clients:

* form clients: GET /report/ (CSRF token), POST a report; each "person" sends a few reports from its own
  address (X-Forwarded-For behind one trusted proxy), then a new person takes over, so they stay under
  ``HOTLINE_PUBLIC_RATE``;
* one abusive form client that keeps posting from one address: the rate limiter must answer 429 after
  ``HOTLINE_PUBLIC_RATE`` accepted reports;
* API clients: POST /api/v1/submissions with a bearer token, ``--batch`` reports per request.

Prints requests/s, p50/p95/p99 latency per endpoint and status code counts (target: no 5xx), then checks
that every accepted report (2xx, by reference) is in the database. The baseline for the latencies is the
same endpoint measured with one client and no workers at the start of the run. Nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_workers import ROOT, Simulations, base_env, scratch_database, setup_django, stop

REFERENCE = re.compile(r'<p class="reference">([^<]+)</p>')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PUBLIC_RATE = 10


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    accepted: list[str] = field(default_factory=list)
    abuser: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started_hour: int = field(default_factory=lambda: int(time.time()) // 3600)

    def record(self, endpoint: str, started: float, status: int) -> None:
        with self.lock:
            self.latencies[endpoint].append(time.perf_counter() - started)
            self.statuses[endpoint][status] += 1


def _request(client: httpx.Client, results: Results, endpoint: str, method: str, url: str,
             **kwargs: object) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        with results.lock:
            results.errors[f"{endpoint}: {type(exc).__name__}"] += 1
        return None
    results.record(endpoint, started, response.status_code)
    return response


def post_report(client: httpx.Client, results: Results, address: str, n: int) -> int:
    """One person's visit: GET the form (CSRF cookie and token), POST one report. Returns the POST status."""
    headers = {"X-Forwarded-For": address}
    page = _request(client, results, "form GET", "GET", "/report/", headers=headers)
    if page is None or page.status_code != 200 or not (token := CSRF.search(page.text)):
        return 0
    # The CSRF cookie is Secure (production settings); on plain loopback HTTP we hand it back ourselves.
    cookie = f"csrftoken={page.cookies.get('csrftoken', '')}"
    data = {"csrfmiddlewaretoken": token.group(1), "urls": f"http://load-{address}-{n}.sim.test/page/{n}",
            "description": "Synthetic load-test report."}
    response = _request(client, results, "form POST", "POST", "/report/", data=data,
                        headers=headers | {"Cookie": cookie})
    if response is None:
        return 0
    if response.status_code == 200 and (match := REFERENCE.search(response.text)):
        with results.lock:
            results.accepted.append(match.group(1).strip())
    return response.status_code


def form_client(base: str, results: Results, until: float, index: int) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        person, n = 0, 0
        while time.monotonic() < until:
            address = f"198.18.{index}.{person % 250 + 1}"  # benchmark range (RFC 2544), never routed
            post_report(client, results, address, n)
            n += 1
            if n % (PUBLIC_RATE // 2) == 0:
                person += 1


def abusive_client(base: str, results: Results, until: float) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        n = 0
        while time.monotonic() < until:
            status = post_report(client, results, "198.19.0.1", n)
            with results.lock:
                results.abuser[status] += 1
            n += 1
            time.sleep(0.05)


def api_client(base: str, token: str, results: Results, until: float, index: int, batch: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        n = 0
        while time.monotonic() < until:
            reports = [{"urls": [f"http://api-{index}-{n}-{r}.sim.test/page/{r}"], "external_ref": f"{n}-{r}"}
                       for r in range(batch)]
            body = {"submission_id": f"load-{index}-{n}", "reports": reports}
            response = _request(client, results, "api POST", "POST", "/api/v1/submissions", json=body)
            if response is not None and response.status_code == 200:
                with results.lock:
                    results.accepted.extend(r["reference"] for r in response.json()["reports"] if r["reference"])
            n += 1


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "hotline.wsgi:application", "--workers", str(workers),
               "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop([process])
    raise SystemExit("gunicorn did not start")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def baseline(base: str, token: str) -> dict[str, float]:
    """Median latency per endpoint with one client and no workers: what the load is compared against."""
    results = Results()
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(8):
            post_report(client, results, f"198.18.255.{n + 1}", n)
    api_client(base, token, results, time.monotonic() + 3, 255, 20)
    return {name: percentile(values, 0.5) for name, values in results.latencies.items()}


def run_clients(base: str, token: str, args: argparse.Namespace) -> tuple[Results, float]:
    results = Results()
    until = time.monotonic() + args.seconds
    threads = [threading.Thread(target=form_client, args=(base, results, until, i)) for i in range(args.form_clients)]
    threads += [threading.Thread(target=api_client, args=(base, token, results, until, i, args.batch))
                for i in range(args.api_clients)]
    threads.append(threading.Thread(target=abusive_client, args=(base, results, until)))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


def report(results: Results, elapsed: float, base_latency: dict[str, float], args: argparse.Namespace) -> bool:
    from hotline.reports.models import Report

    print(f"{args.seconds}s, {args.form_clients} form + {args.api_clients} API clients + 1 abusive client, "
          f"gunicorn {args.web_workers}x{args.threads} threads, {args.workers} hotline workers, {os.cpu_count()} cores")
    print(f"{'endpoint':<10}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'1-client p50':>14}  statuses")
    for name in ("form GET", "form POST", "api POST"):
        values = results.latencies[name]
        print(f"{name:<10}{len(values):>9}{len(values) / elapsed:>8.1f}{percentile(values, .5):>9.0f}"
              f"{percentile(values, .95):>9.0f}{percentile(values, .99):>9.0f}{base_latency.get(name, 0):>14.0f}"
              f"  {dict(sorted(results.statuses[name].items()))}")
    server_errors = sum(n for c in results.statuses.values() for s, n in c.items() if s >= 500)
    stored = Report.objects.filter(reference__in=results.accepted).count()
    windows = 1 + (int(time.time()) // 3600 != results.started_hour)  # a fixed window may roll over mid-run
    limited_ok = PUBLIC_RATE <= results.abuser[200] <= PUBLIC_RATE * windows and results.abuser[429] > 0
    print(f"5xx: {server_errors}; transport errors: {dict(results.errors) or 0}")
    print(f"nothing lost: {stored} of {len(results.accepted)} accepted reports are in the database "
          f"({len(results.accepted) / elapsed:.1f} accepted reports/s)")
    polite_429 = results.statuses["form POST"][429] - results.abuser[429]
    print(f"rate limit: the abusive client got {results.abuser[200]} accepted (limit {PUBLIC_RATE}/h) and "
          f"{results.abuser[429]} x 429: {'holds' if limited_ok else 'BROKEN'}; clients under the limit got "
          f"{polite_429} x 429")
    return server_errors == 0 and stored == len(results.accepted) and limited_ok and polite_429 == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--form-clients", type=int, default=6)
    parser.add_argument("--api-clients", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20, help="reports per API request")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per web worker")
    parser.add_argument("--workers", type=int, default=2, help="hotline worker processes")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (the bench creates its own scratch database)")
    env = base_env(scratch_database(base_url, "load"), ROOT / "var" / "bench-load")
    env |= {"HOTLINE_TRUSTED_PROXY_COUNT": "1", "HOTLINE_PUBLIC_RATE": f"{PUBLIC_RATE}/h"}
    setup_django(env)
    from hotline.accounts.models import ClientKind
    from hotline.accounts.services import issue_api_client
    from hotline.audit.services import SYSTEM
    from hotline.demo.hosting import seed_directory
    from hotline.sim.smtp import free_port

    seed_directory()
    _client, token = issue_api_client("Load partner", ClientKind.PARTNER, actor=SYSTEM, country="NL")
    assert token is not None
    with Simulations() as sims:
        env |= sims.env
        port = free_port()
        web = start_gunicorn(env, port, args.web_workers, args.threads)
        base = f"http://127.0.0.1:{port}"
        try:
            base_latency = baseline(base, token)
            command = [sys.executable, "-m", "hotline.cli", "worker", "--skip", "exchange"]
            workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(args.workers)]
            try:
                results, elapsed = run_clients(base, token, args)
            finally:
                stop(workers)
        finally:
            stop([web])
    sys.exit(0 if report(results, elapsed, base_latency, args) else 1)


if __name__ == "__main__":
    main()
