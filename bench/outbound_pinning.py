"""Cost of pinning: the partner exchange's transport before and after it moved onto the pinned client.

    .venv/bin/python bench/outbound_pinning.py [--requests 2000] [--threads 4] [--rounds 3]

A keep-alive HTTP/1.1 receiver runs in its own process on loopback and answers each POST with a small
JSON body. Three clients POST the same 1 KiB body, ``--threads`` at a time, rounds interleaved so machine
load hits all of them alike (the median round counts):

* baseline: the exchange's previous transport, an ``httpx.Client`` (TCP_NODELAY, keep-alive) after a
  ``getaddrinfo`` address check, which then resolves the name again itself (the rebinding gap);
* pooled: ``OutboundClient`` as the exchange uses it now (resolve once, check, connect to the checked
  address, keep-alive per checked address);
* one-shot: ``request()``, a fresh connection per request, as police referrals and provider API notices
  use it (rare messages).

Prints requests/s and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import http.server
import multiprocessing
import socket
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BODY = b'{"pad":"' + b"x" * 1000 + b'"}'


def _receiver(queue: multiprocessing.Queue[int]) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            answer = b'{"outcome":"accepted"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    queue.put(server.server_address[1])
    server.serve_forever()


def _baseline(url: str) -> tuple[Callable[[], int], Callable[[], None]]:
    import httpx

    from hotline.lib.netguard import blocked_reason

    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    client = httpx.Client(timeout=httpx.Timeout(10), follow_redirects=False, trust_env=False, transport=transport)

    def post() -> int:
        for info in socket.getaddrinfo("127.0.0.1", 0, type=socket.SOCK_STREAM):  # the old check
            assert blocked_reason(str(info[4][0]), allow_loopback=True) is None
        with client.stream("POST", url, content=BODY, headers={"Content-Type": "application/json"}) as response:
            data = b"".join(response.iter_bytes())
            assert data
            return response.status_code

    return post, client.close


def _pooled(url: str) -> tuple[Callable[[], int], Callable[[], None]]:
    from hotline.lib.http import FetchPolicy, OutboundClient

    client = OutboundClient(FetchPolicy(allow_loopback=True, max_redirects=0, max_body_bytes=256 * 1024))

    def post() -> int:
        return client.request("POST", url, content=BODY, headers={"Content-Type": "application/json"}).status_code

    return post, client.close


def _one_shot(url: str) -> tuple[Callable[[], int], Callable[[], None]]:
    from hotline.lib.http import FetchPolicy, request

    policy = FetchPolicy(allow_loopback=True, max_redirects=0, max_body_bytes=256 * 1024)

    def post() -> int:
        return request("POST", url, policy=policy, content=BODY,
                       headers={"Content-Type": "application/json"}).status_code

    return post, lambda: None


def _run(make: Callable[[str], tuple[Callable[[], int], Callable[[], None]]], url: str, n: int,
         threads: int) -> float:
    post, close = make(url)
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            statuses = list(pool.map(lambda _: post(), range(n)))
        elapsed = time.perf_counter() - started
    finally:
        close()
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected answers: {set(statuses)}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_receiver, args=(queue,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{queue.get(timeout=30)}/in"
    clients = {"baseline (httpx, unpinned)": _baseline, "pooled OutboundClient": _pooled,
               "one-shot request()": _one_shot}
    times: dict[str, list[float]] = {name: [] for name in clients}
    try:
        for make in clients.values():  # warm-up: imports, SSL contexts
            _run(make, url, 50, args.threads)
        for _ in range(args.rounds):
            for name, make in clients.items():
                times[name].append(_run(make, url, args.requests, args.threads))
    finally:
        server.terminate()
    base = statistics.median(times["baseline (httpx, unpinned)"])
    print(f"{args.requests} POSTs of {len(BODY)} bytes, {args.threads} in flight, loopback, median of {args.rounds}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:28s} {median:6.2f} s = {args.requests / median:7.0f} requests/s  "
              f"ratio to baseline {base / median:5.2f}x the throughput")


if __name__ == "__main__":
    main()
