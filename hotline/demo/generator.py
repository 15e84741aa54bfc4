"""Synthetic, benign demo data: reports over an invented site name space under ``.sim.test``.

Nothing here names a real site. The same generator feeds ``hotline seed-demo``, tests and benchmarks
(``make demo`` runs the simulation instead: docs/simulation.md).
"""

from __future__ import annotations

import random
from typing import Any

from django.db import transaction

from hotline.accounts.models import ApiClient, ClientKind, Role, User
from hotline.accounts.services import create_user, issue_api_client
from hotline.audit.services import SYSTEM, Actor
from hotline.reports.models import Item, Source
from hotline.reports.services import IncomingReport, receive_reports

_WORDS = ["amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
          "juniper", "kestrel", "lumen", "maple", "nimbus", "onyx", "pebble", "quartz", "russet"]
_KINDS = ["gallery", "pics", "board", "files", "share", "blog", "forum", "host"]
_SOURCES = [Source.PUBLIC] * 6 + [Source.PARTNER] * 2 + [Source.INDUSTRY, Source.POLICE, Source.EMAIL]
DEMO_PASSWORD_SUFFIX = "-demo-2026"  # noqa: S105 - printed demo logins on 127.0.0.1
DEMO_USERS = [
    ("analyst", Role.ANALYST), ("analyst2", Role.ANALYST), ("senior", Role.SENIOR_ANALYST),
    ("police", Role.POLICE_LIAISON), ("manager", Role.MANAGER), ("admin", Role.ADMIN),
]


def site_name(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)}-{rng.choice(_KINDS)}-{rng.randrange(1, 400)}.sim.test"


def synthetic_url(rng: random.Random, host: str | None = None) -> str:
    """A URL on the simulated web: mostly pages with media, some direct media, some gone."""
    host = host or site_name(rng)
    roll = rng.random()
    if roll < 0.08:
        return f"http://{host}/status/{rng.choice([404, 410])}?id={rng.randrange(1, 10_000)}"
    if roll < 0.18:
        kind, ext = rng.choice([("png", "png"), ("jpeg", "jpg"), ("webp", "webp"), ("gif", "gif")])
        return f"http://{host}/media/{kind}-{rng.randrange(1, 10_000)}.{ext}"
    kind = rng.choice(["album", "post", "view", "u", "f"])
    path = f"/{kind}/{rng.randrange(1, 10_000)}/{rng.choice(['index.html', 'photo', 'gallery', ''])}"
    query = f"?id={rng.randrange(1, 999)}" if rng.random() < 0.3 else ""
    return f"http://{host}{path}{query}"


def variant(rng: random.Random, url: str) -> str:
    """The same resource written differently, as people and evaders write URLs."""
    scheme, rest = url.split("://", 1)
    host, _, tail = rest.partition("/")
    choice = rng.randrange(6)
    if choice == 0:
        return f"{scheme}://{host.upper()}/{tail}"
    if choice == 1:
        return f"{scheme}://{host}:80/{tail}#top"
    if choice == 2:
        return f"{host}/{tail}"
    if choice == 3:
        return f"  {scheme}://{host}./{tail}\t"
    if choice == 4:
        return f"{scheme}://{host}/%2e/{tail}"
    return f"{scheme}://{host}/{tail}".replace("a", "%61", 1)


def generate_reports(count: int, *, seed: int = 1, duplicate_share: float = 0.3,
                     max_urls: int = 3) -> list[IncomingReport]:
    """``count`` reports; about ``duplicate_share`` of the URLs repeat an earlier one."""
    rng = random.Random(seed)
    seen: list[str] = []
    reports = []
    for _ in range(count):
        urls = []
        for _ in range(rng.randint(1, max_urls)):
            if seen and rng.random() < duplicate_share:
                urls.append(variant(rng, rng.choice(seen)))
            else:
                url = synthetic_url(rng)
                seen.append(url)
                urls.append(url)
        reports.append(IncomingReport(source=rng.choice(_SOURCES), urls=urls,
                                      text="Synthetic demo report.", language=rng.choice(["nl", "fr", "en"])))
    return reports


def ensure_demo_users() -> dict[str, str]:
    logins = {}
    for username, role in DEMO_USERS:
        password = f"{username}{DEMO_PASSWORD_SUFFIX}"
        if not User.objects.filter(username=username).exists():
            create_user(username, password, role, actor=SYSTEM)
        logins[username] = password
    return logins


def ensure_demo_client() -> tuple[ApiClient, str | None]:
    existing = ApiClient.objects.filter(name="Demo partner hotline").first()
    if existing:
        return existing, None
    return issue_api_client("Demo partner hotline", ClientKind.PARTNER, actor=SYSTEM, country="NL")


@transaction.atomic
def seed_demo(reports: int = 60, *, seed: int = 1) -> dict[str, Any]:
    """Demo users, a demo API client and synthetic reports (their items wait for capture)."""
    logins = ensure_demo_users()
    _client, token = ensure_demo_client()
    results = receive_reports(generate_reports(reports, seed=seed), actor=Actor(label="demo"))
    return {"logins": logins, "api_token": token, "reports": len(results), "items": Item.objects.count()}
