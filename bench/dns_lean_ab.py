"""CPU of one host's resolution (``dnsresolve.resolve_host``: A and AAAA) with the lean read (``dnslean``) against
dnspython's resolver alone, in one process, on a loopback ``SimDns`` (its server threads not counted: the CPU
is the calling thread's, ``time.thread_time``).

    PYTHONPATH=$PWD python bench/dns_lean_ab.py --calls 2000 --rounds 5

Prints the median over alternating rounds of each, in µs per resolution, and the ratio (lean / dnspython).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from hotline.lib import dnslean
from hotline.lib.dnsresolve import ResolverConfig, resolve_host
from hotline.sim.dns import SimDns

ZONE: dict[str, dict[str, Any]] = {"www.shop.sim.test": {"CNAME": "edge.cdn.sim.test"},
        "edge.cdn.sim.test": {"A": ["104.16.1.1", "104.16.1.2"], "AAAA": ["2606:4700::1"]},
        "plain.sim.test": {"A": ["198.51.100.7"]}}
HOSTS = ("www.shop.sim.test", "plain.sim.test", "gone.sim.test")


def per_call(calls: int, config: ResolverConfig) -> float:
    began = time.thread_time()
    for number in range(calls):
        resolve_host(HOSTS[number % len(HOSTS)], config=config)
    return (time.thread_time() - began) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    original: Callable[..., dnslean.Lean | None] = dnslean.ask
    lean, alone = [], []
    with SimDns(ZONE) as server:
        config = ResolverConfig(nameservers=(server.nameserver,))
        for _ in range(args.rounds):
            lean.append(per_call(args.calls, config))
            dnslean.ask = lambda *a, **k: None
            try:
                alone.append(per_call(args.calls, config))
            finally:
                dnslean.ask = original
    a, b = statistics.median(alone), statistics.median(lean)
    print(f"dnspython alone {a:.1f} µs, lean {b:.1f} µs per resolution (median of {args.rounds}); ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
