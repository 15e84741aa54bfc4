"""The plan of a simulation: which synthetic sites exist, who hosts them, what the scripted analyst will
decide, what the police will do, and which reports name them, all drawn from one seed.

The plan is pure data (no database): the simulation carries it out, and tests compute the expected end state
from it independently of what the system did. Every site is an invented ``*.sim.test`` page holding one
generated pattern image; verdicts are labels on that generated data.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

H, D = timedelta(hours=1), timedelta(days=1)


@dataclass(frozen=True)
class ProviderPlan:
    name: str
    country: str
    behaviour: str  # hotline.sim.providers.Behaviour value
    cidr: str  # a real allocation of ``country`` (the offline geo data agrees), invented operator
    remove_after: timedelta = 2 * H
    ack_after: timedelta = 30 * timedelta(minutes=1)
    move_to: str = ""

    @property
    def slug(self) -> str:
        return self.name.split()[0].lower()

    @property
    def email(self) -> str:
        return f"abuse@{self.slug}.example"

    def address(self, n: int) -> str:
        base = self.cidr.rsplit(".", 1)[0]
        return f"{base}.{10 + n % 200}"


# Domestic (BE) providers, one per behaviour, plus where "move" takes its content; a partner country (NL,
# served by the partner hotline) and a country without a partner (US: the international police channel).
PROVIDERS = (
    ProviderPlan("Swift Hosting (invented)", "BE", "prompt", "193.190.10.0/24"),
    ProviderPlan("Silent Hosting (invented)", "BE", "ignore", "193.190.11.0/24"),
    ProviderPlan("Polite Hosting (invented)", "BE", "ack_only", "193.190.12.0/24"),
    ProviderPlan("Boomerang Hosting (invented)", "BE", "reupload", "193.190.13.0/24", remove_after=6 * H),
    ProviderPlan("Nomad Hosting (invented)", "BE", "move", "193.190.14.0/24", remove_after=12 * H,
                 move_to="Harbour Hosting (invented)"),
    ProviderPlan("Harbour Hosting (invented)", "BE", "prompt", "193.190.15.0/24", remove_after=4 * H),
    ProviderPlan("Grachten Hosting (invented)", "NL", "ignore", "145.100.20.0/24"),
    ProviderPlan("Faraway Cloud (invented)", "US", "ignore", "23.20.30.0/24"),
)
BY_NAME = {p.name: p for p in PROVIDERS}
DOMESTIC = [p for p in PROVIDERS[:5]]
REUPLOAD_AFTER = 3 * D
SOURCES = ("public", "partner", "industry", "csv")


@dataclass(frozen=True)
class Site:
    """One reported page (one item once canonicalised)."""

    n: int
    provider: str
    fate: str  # "known" (in the bank), "baseline", "not_illegal", "gone" (404: unreachable)
    release: bool  # the police liaison releases the hold early (domestic only)

    @property
    def host(self) -> str:
        return f"site-{self.n}.sim.test"

    @property
    def path(self) -> str:
        return f"/gallery/{self.n}"

    @property
    def country(self) -> str:
        return BY_NAME[self.provider].country

    @property
    def behaviour(self) -> str:
        return BY_NAME[self.provider].behaviour

    @property
    def illegal(self) -> bool:
        return self.fate in ("known", "baseline")

    @property
    def verdict(self) -> str:
        return {"known": "baseline", "gone": "unreachable"}.get(self.fate, self.fate)


@dataclass(frozen=True)
class PlannedReport:
    hour: int  # hours after the start
    source: str
    sites: tuple[int, ...]


@dataclass
class Plan:
    seed: int
    days: int
    sites: list[Site] = field(default_factory=list)
    reports: list[PlannedReport] = field(default_factory=list)

    @property
    def arrival_hours(self) -> int:
        return max(1, self.days * 24 // 3)

    def illegal(self, *, country: str | None = None, behaviour: str | None = None) -> list[Site]:
        return [s for s in self.sites if s.illegal and (country is None or s.country == country)
                and (behaviour is None or s.behaviour == behaviour)]

    def counts(self) -> dict[str, Counter[str]]:
        """What the plan says the end state holds, per verdict and per route."""
        routes = {"BE": "domestic", "NL": "partner", "US": "international_police"}
        return {"verdict": Counter(s.verdict for s in self.sites),
                "route": Counter(routes[s.country] for s in self.sites if s.illegal),
                "source": Counter(r.source for r in self.reports)}


def make_plan(reports: int, *, days: int, seed: int) -> Plan:
    """``reports`` reports naming one or two sites each; about a fifth of the names repeat an earlier site."""
    rng = random.Random(seed)
    plan = Plan(seed=seed, days=days)
    for index in range(reports):
        names: list[int] = []
        for _ in range(1 if rng.random() < 0.7 else 2):
            if plan.sites and rng.random() < 0.2:
                names.append(rng.choice(plan.sites).n)
            else:
                names.append(new_site(plan, rng).n)
        hour = index * plan.arrival_hours // max(1, reports)
        plan.reports.append(PlannedReport(hour, rng.choice(SOURCES), tuple(dict.fromkeys(names))))
    return plan


def new_site(plan: Plan, rng: random.Random) -> Site:
    """Add one site to the plan (country, provider, fate and police release drawn from ``rng``)."""
    country = rng.choices(("BE", "NL", "US"), weights=(6, 2, 2))[0]
    provider = rng.choice(DOMESTIC).name if country == "BE" else next(
        p.name for p in PROVIDERS if p.country == country)
    fate = rng.choices(("known", "baseline", "not_illegal", "gone"), weights=(15, 25, 52, 8))[0]
    site = Site(len(plan.sites), provider, fate, release=rng.random() < 0.5)
    plan.sites.append(site)
    return site
