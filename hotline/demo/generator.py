"""Synthetic, benign demo data: reports over an invented site name space under ``.sim.test``.

Nothing here names a real site. The same generator feeds ``make demo``, tests and benchmarks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction

from hotline.accounts.models import ApiClient, ClientKind, Role, User
from hotline.accounts.services import create_user, issue_api_client
from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Reason, SiteType, Verdict
from hotline.assessment.services import AssessmentData, assess_item, claim_item, inherit_known_step
from hotline.audit.services import SYSTEM, Actor
from hotline.evidence.models import Media
from hotline.evidence.services import CaptureConfig, capture_step
from hotline.hashes.models import BankKind, Entry
from hotline.hashes.services import ensure_bank, import_records, match_step
from hotline.lib.hashlists import HashRecord
from hotline.reports.models import AWAITING_ASSESSMENT, Item, Source
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


_SCRIPT: list[AssessmentData] = [
    AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR, content_type=ContentType.IMAGE,
                   age_group=AgeGroup.PREPUBESCENT, site_type=SiteType.IMAGE_HOST),
    AssessmentData(verdict=Verdict.NOT_ILLEGAL, reason=Reason.ADULT_PORNOGRAPHY, site_type=SiteType.WEBSITE),
    AssessmentData(verdict=Verdict.UNREACHABLE, reason=Reason.SITE_DOWN),
    AssessmentData(verdict=Verdict.NATIONAL, legal_limb=LegalLimb.NON_EXISTENT_MINOR,
                   content_type=ContentType.DRAWING, age_group=AgeGroup.PUBESCENT, is_virtual=True),
]


def capture_all(config: CaptureConfig, *, concurrency: int = 8) -> int:
    """Run the capture, match and inheritance steps until nothing is due (the demo's first minute)."""
    steps = 0
    while capture_step(config=config, concurrency=concurrency):
        steps += 1
    while match_step():
        steps += 1
    inherit_known_step()
    return steps


def report_reuploads(count: int = 4) -> int:
    """Report known files again on new hosts (the same bytes at a new URL): re-uploads."""
    known = Media.objects.filter(inherited_verdict="", is_bad=False, kind="image",
                                 sha256__in=Entry.objects.values("value")).order_by("pk")[:count]
    urls = [f"http://mirror-{n}.sim.test/{m.url.split('/', 3)[3]}" for n, m in enumerate(known)]
    if urls:
        receive_reports([IncomingReport(source=Source.INDUSTRY, urls=[u]) for u in urls], actor=Actor(label="demo"))
    return len(urls)


def seed_known_content(items: int = 3) -> int:
    """A demo partner list that already knows every file of a few captured pages (labels only)."""
    bank, _ = ensure_bank("Demo partner list", kind=BankKind.PARTNER, trusted=True,
                          provenance="synthetic demo data", actor=Actor(label="demo"))
    records = [HashRecord(signal_type="sha256", value=m.sha256, classification="1", scheme="vics-us",
                          mapped_verdict="national", source_id=f"demo-{m.pk}")
               for item in Item.objects.filter(status__in=AWAITING_ASSESSMENT).order_by("-pk")[:items]
               for m in Media.objects.filter(item=item, is_bad=False).exclude(sha256="")]
    return import_records(bank, records, actor=Actor(label="demo")).added


def assess_some(count: int, *, seed: int = 1) -> int:
    """A scripted analyst assesses ``count`` captured items with labels only (the data is synthetic)."""
    rng = random.Random(seed)
    analyst = User.objects.get(username="analyst")
    done = 0
    for item in Item.objects.filter(status__in=AWAITING_ASSESSMENT).order_by("pk")[:count]:
        claim_item(item, user=analyst)
        assess_item(item, rng.choice(_SCRIPT), user=analyst)
        done += 1
    return done


@transaction.atomic
def seed_demo(reports: int = 60, *, seed: int = 1) -> dict[str, Any]:
    """Demo users, a demo API client and synthetic reports (their items wait for capture)."""
    logins = ensure_demo_users()
    _client, token = ensure_demo_client()
    results = receive_reports(generate_reports(reports, seed=seed), actor=Actor(label="demo"))
    return {"logins": logins, "api_token": token, "reports": len(results), "items": Item.objects.count()}


def feed_step(every_seconds: float, *, seed: int | None = None) -> Callable[[], bool]:
    """A worker step that adds a few synthetic reports now and then, so the demo looks alive."""
    rng = random.Random(seed)
    state = {"next": time.monotonic() + every_seconds}

    def demo_feed() -> bool:
        if time.monotonic() < state["next"]:
            return False
        state["next"] = time.monotonic() + every_seconds
        batch = generate_reports(rng.randint(1, 4), seed=rng.randrange(1 << 30))
        receive_reports(batch, actor=Actor(label="demo-feed"))
        return True

    return demo_feed
