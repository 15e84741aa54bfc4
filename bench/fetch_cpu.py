"""CPU of one safe fetch against the simulated web, in the calling thread, against a bare socket doing the same GET.

    .venv/bin/python bench/fetch_cpu.py [--fetches 400]

The simulated web (plain HTTP, as in ``hotline simulate``) runs in threads of this process; only the calling
thread's CPU is measured (``time.thread_time``), best of three rounds. Prints the CPU per ``lib.http.fetch``,
per ``_parse_target`` and per bare socket GET (connect, send, read to the close): what the HTTP client costs
above the system calls.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fetches", type=int, default=400)
    count = parser.parse_args().fetches
    from hotline.lib import http
    from hotline.sim.web import SimWeb

    with SimWeb(suffixes=(".sim.test",)) as web:
        for n in range(20):
            web.set_page(f"site-{n}.sim.test", "/p", "<!doctype html><img src='/m/1.png'>")
        policy = web.fetch_policy(total_timeout=5.0, connect_timeout=2.0)
        urls = [web.url(f"site-{n % 20}.sim.test", "/p") for n in range(count)]
        request = (b"GET /p HTTP/1.1\r\nHost: site-1.sim.test\r\nUser-Agent: x\r\nAccept: */*\r\n"
                   b"Accept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n")

        def bare(_url: str) -> None:
            sock = socket.socket()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", web.port))
            sock.sendall(request)
            while sock.recv(65536):
                pass
            sock.close()

        for label, run in (("lib.http.fetch", lambda url: http.fetch(url, policy=policy)),
                           ("lib.http._parse_target", http._parse_target), ("bare socket GET", bare)):
            for url in urls[:20]:
                run(url)
            best = float("inf")
            for _ in range(3):
                began = time.thread_time()
                for url in urls:
                    run(url)
                best = min(best, (time.thread_time() - began) / count * 1000)
            print(f"{label:24} {best:7.3f} ms CPU per call")


if __name__ == "__main__":
    main()
