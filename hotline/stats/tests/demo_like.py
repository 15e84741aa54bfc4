"""A year's worth of demo-like statistics (two years, a national hotline's volume), written straight into
the rows the figures read: items, reports, item facts, case files and their outcomes.

The facts are set, not derived (``steps.refresh_step`` has its own tests): this data exists to lay out the
annual and transparency reports at a realistic size. Every URL is on a .sim.test host; verdicts are labels.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime, timedelta

from hotline.cases.models import Case, CaseItem, Outcome
from hotline.reports.models import Item, ItemStatus, Report, ReportItem
from hotline.stats.models import ItemFact

COUNTRIES = ("BE", "NL", "US", "DE", "FR", "RU", "UA", "GB", "SE", "CA", "HK", "LU", "PL", "RO", "")
COUNTRY_WEIGHTS = (20, 18, 16, 10, 6, 5, 4, 4, 3, 3, 2, 1, 1, 1, 6)
VERDICTS = ("baseline", "national", "not_illegal", "unreachable", "other_harm", "")
VERDICT_WEIGHTS = (18, 12, 50, 12, 3, 5)
SOURCES = ("public", "partner", "industry", "police", "email", "csv")
SOURCE_WEIGHTS = (60, 20, 8, 5, 5, 2)
CONTENT = ("image", "video", "text", "drawing")
AGES = ("infant_toddler", "prepubescent", "pubescent", "not_determined")
SITES = ("image_host", "file_host", "forum", "website", "social_network", "image_board", "blog")
H = 3600


def build(years: tuple[int, ...] = (2024, 2025), per_year: tuple[int, ...] = (900, 1100), seed: int = 15) -> int:
    """Items reported over ``years`` (``per_year`` each), their first reports, facts, case files and outcomes."""
    rng = random.Random(seed)
    made = 0
    for year, count in zip(years, per_year, strict=True):
        stamps = sorted(datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(365 * 86400))
                        for _ in range(count))
        items = Item.objects.bulk_create([_item(f"d{year}-{n}", at) for n, at in enumerate(stamps)])
        sources = rng.choices(SOURCES, SOURCE_WEIGHTS, k=count)
        reports = Report.objects.bulk_create([Report(source=source, received_at=item.first_reported_at, url_count=1)
                                              for item, source in zip(items, sources, strict=True)])
        ReportItem.objects.bulk_create([ReportItem(report=report, item=item, raw_url=item.canonical_url, position=0)
                                        for report, item in zip(reports, items, strict=True)])
        ItemFact.objects.bulk_create([_fact(rng, item, source) for item, source in zip(items, sources, strict=True)])
        _cases(rng, year, [item for item in items if rng.random() < 0.08])
        made += count
    return made


def _item(name: str, at: datetime) -> Item:
    url = f"http://{name}.sim.test/page"
    return Item(raw_url=url, canonical_url=url, dedup_key=hashlib.sha256(url.encode()).hexdigest(),
                host=f"{name}.sim.test", first_reported_at=at, last_reported_at=at, status_changed_at=at,
                status=ItemStatus.ASSESSED, captured_at=at)


def _fact(rng: random.Random, item: Item, source: str) -> ItemFact:
    verdict = rng.choices(VERDICTS, VERDICT_WEIGHTS)[0]
    illegal = verdict in ("baseline", "national")
    country = rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0] if verdict not in ("", "unreachable") else ""
    domestic = country == "BE"
    police = int(rng.lognormvariate(3.0, 1.0) * H) if illegal and (domestic or rng.random() < 0.3) else None
    notice = int(rng.lognormvariate(3.2, 0.9) * H) if illegal and country else None
    removal = (notice or 0) + int(rng.lognormvariate(3.0, 1.3) * H) if notice and rng.random() < 0.93 else None
    return ItemFact(
        item=item, reported_at=item.first_reported_at, source=source, verdict=verdict, illegal=illegal,
        content_type=rng.choice(CONTENT) if illegal else "", age_group=rng.choice(AGES) if illegal else "",
        site_type=rng.choice(SITES) if illegal else "", country=country,
        route=("domestic" if domestic else "partner") if illegal and country else "",
        forwarded=bool(illegal and country and not domestic), in_takedown=bool(illegal and domestic),
        reupload=rng.random() < 0.03, illegal_media=rng.randint(1, 6) if illegal else 0,
        police_secs=police, notice_secs=notice, removal_secs=removal, refreshed_at=item.first_reported_at)


def _cases(rng: random.Random, year: int, items: list[Item]) -> None:
    for n, item in enumerate(items):
        opened = item.first_reported_at + timedelta(days=2)
        case = Case.objects.create(reference=f"C-{year}-{n:04d}", kind="same_site", title=f"demo case {n}",
                                   opened_at=opened, status_changed_at=opened)
        CaseItem.objects.create(case=case, item=item, added_at=opened)
        decided = min(opened.date() + timedelta(days=rng.randrange(30, 200)), date(year, 12, 31))
        code = "dismissed" if rng.random() < (0.2 if year % 2 == 0 else 0.15) else "prosecuted"
        Outcome.objects.create(case=case, code=code, reason="insufficient_evidence" if code == "dismissed" else "",
                               decided_on=decided, recorded_at=opened, recorded_by_label="demo", source="manual")
