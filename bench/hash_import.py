"""Import of a large signal file into a bank, against parsing the same file alone.

    .venv/bin/python bench/hash_import.py --lines 10000000 --database postgres://postgres@127.0.0.1:5432/test

Writes a synthetic signal file (random PDQ and MD5 values, 1 % malformed lines) if it is not there
yet, times the streaming parser alone (the floor), then imports the file into a new bank in a
scratch database through the same service the `hotline hashes import` command uses, and prints
lines/s, the ratio, and the process's peak memory (flat memory: it does not grow with the file).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_file(path: Path, lines: int) -> None:
    rng = random.Random(5)
    with path.open("w", encoding="ascii") as out:
        for n in range(lines):
            if n % 100 == 99:
                out.write("pdq not-a-hash\n")
            elif n % 2:
                out.write(f"md5 {rng.getrandbits(128):032x}\n")
            else:
                out.write(f"pdq {rng.getrandbits(256):064x}\n")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--file", default="")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    path = Path(args.file or f"/tmp/hotline-bench-signals-{args.lines}.txt")
    if not path.exists():
        make_file(path, args.lines)
    from intake_throughput import scratch_database

    os.environ["DATABASE_URL"] = scratch_database(args.database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from hotline.audit.services import SYSTEM
    from hotline.hashes.models import Bank
    from hotline.hashes.services import import_records
    from hotline.lib.hashlists import LineError, parse_signal_file

    started = time.perf_counter()
    with path.open(encoding="ascii") as handle:
        parsed = sum(1 for r in parse_signal_file(handle) if not isinstance(r, LineError))
    parse_seconds = time.perf_counter() - started
    memory_after_parse = peak_mib()
    bank = Bank.objects.create(name="bench", kind="import")
    started = time.perf_counter()
    with path.open(encoding="ascii") as handle:
        summary = import_records(bank, parse_signal_file(handle), actor=SYSTEM)
    import_seconds = time.perf_counter() - started
    print(f"file:                 {path} ({path.stat().st_size / 2**20:,.0f} MiB, {args.lines:,} lines)")
    print(f"parse only (floor):   {parse_seconds:7.1f} s = {args.lines / parse_seconds:10,.0f} lines/s "
          f"({parsed:,} valid)")
    print(f"import into a bank:   {import_seconds:7.1f} s = {args.lines / import_seconds:10,.0f} lines/s "
          f"({summary.added:,} added, {summary.error_count:,} line errors)")
    print(f"ratio import / parse: {import_seconds / parse_seconds:7.1f}x")
    print(f"peak memory:          {memory_after_parse:,.0f} MiB after parsing, {peak_mib():,.0f} MiB after import")


if __name__ == "__main__":
    main()
