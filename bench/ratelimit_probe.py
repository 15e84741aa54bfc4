"""The rate-limit probe of issue 19: how many requests each limit accepts per hour from parallel clients.

    python bench/ratelimit_probe.py                      # this tree, SQLite in a temporary directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/ratelimit_probe.py
    HOTLINE_SOURCE=/path/to/other/checkout python bench/ratelimit_probe.py   # e.g. the code before a fix
    python bench/ratelimit_probe.py --redis redis://127.0.0.1:6379/15

Over 2 simulated hours, rounds at minutes 0, 7, 20, 41 and 59 (idle gaps longer than 5 minutes),
each round parallel clients from one address: 120 login attempts, 120 public-form posts and 300
status look-ups an hour, through the real views (Django test client). Prints accepted per hour against
the configured limit; a line is "exact" when every hour accepted exactly the limit.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("HOTLINE_SOURCE") or str(HERE))


def scratch_database(url: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_ratelimit_probe"
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def load_probe() -> object:
    """The probe module of this tree, loaded by path: it imports no hotline code, so it works on any checkout."""
    spec = importlib.util.spec_from_file_location("ratelimit_probe_module", HERE / "hotline/lib/tests/probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="", help="count in Redis at this URL (HOTLINE_RATELIMIT_REDIS_URL)")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    os.environ["DATABASE_URL"] = (scratch_database(base_url) if base_url.startswith("postgres")
                                  else f"sqlite:///{tempfile.mkdtemp(prefix='ratelimit-probe-')}/probe.sqlite3")
    if args.redis:
        os.environ["HOTLINE_RATELIMIT_REDIS_URL"] = args.redis
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # one warning per 429
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the code before issue 19 counted in the cache table
    probe = load_probe()
    start = probe.START + timedelta(days=random.randrange(1, 3650))  # type: ignore[attr-defined]  # fresh Redis keys
    cases = [
        ("login", "HOTLINE_LOGIN_RATE", 8, 3,
         lambda c, n: c.post("/accounts/login/", {"username": f"nobody{n}", "password": "nope"}).status_code),
        ("public form", "HOTLINE_PUBLIC_RATE", 8, 3,
         lambda c, n: c.post("/report/", {"urls": f"http://probe.sim.test/{n}"}).status_code),
        ("status look-up", "HOTLINE_STATUS_RATE", 12, 5,
         lambda c, n: c.get("/report/status/", {"code": f"ZZ{n:08d}"}).status_code),
    ]
    source = os.environ.get("HOTLINE_SOURCE") or str(HERE)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"code: {source}; database: {engine}; redis: {args.redis or 'no'}")
    for index, (name, setting, clients, attempts, send) in enumerate(cases):
        limit = int(getattr(settings, setting).split("/")[0])
        per_hour = probe.accepted_per_hour(  # type: ignore[attr-defined]
            send, address=f"192.0.2.{index + 1}", clients=clients, attempts=attempts, start=start)
        tried = len(probe.ROUNDS) * clients * attempts  # type: ignore[attr-defined]
        verdict = "exact" if per_hour == [limit] * len(per_hour) else f"{max(per_hour) / limit:.1f}x the limit"
        print(f"{name:15} limit {limit:3}/h, {tried} tried/h from {clients} parallel clients: "
              f"accepted {' / '.join(str(n) for n in per_hour)} per hour ({verdict})")


if __name__ == "__main__":
    main()
