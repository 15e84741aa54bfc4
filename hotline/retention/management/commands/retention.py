"""hotline retention plan [--days N] [--by day|week] | run [--class NAME] [--dry-run]."""

from __future__ import annotations

import io
from argparse import ArgumentParser
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from hotline.retention import registry, services
from hotline.retention.conf import describe


class Command(BaseCommand):
    help = "Show what retention will purge when, or purge what is due now."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        plan = sub.add_parser("plan", help="per class: what is due now and on each coming day or week")
        plan.add_argument("--days", type=int, default=28, help="how far ahead (default 28)")
        plan.add_argument("--by", choices=("day", "week"), default="week", help="group the plan by day or week")
        run = sub.add_parser("run", help="purge what is due now (all classes, or one)")
        run.add_argument("--class", dest="data_class", choices=registry.NAMES, help="only this data class")
        run.add_argument("--dry-run", action="store_true", help="count only; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _plan(self, options: dict[str, Any]) -> None:
        days = options["days"]
        if not 1 <= days <= 3660:
            raise CommandError("--days must be between 1 and 3660")
        now = timezone.now()
        plans = services.plan(now, days=days)
        columns = self._columns(now.date(), days, options["by"])
        table = Table(title=f"Retention plan from {now:%Y-%m-%d %H:%M} UTC")
        for title in ("class", "kept for", "clock starts at", "due now", *(c.isoformat() for c in columns)):
            table.add_column(title, justify="left" if title in ("class", "clock starts at") else "right")
        for p in plans:
            counts = p.days if options["by"] == "day" else p.weeks(now.date())
            table.add_row(p.policy.name, describe(p.policy.duration), str(p.policy.start_label), str(p.due_now),
                          *(str(counts.get(c, 0)) for c in columns))
        out = io.StringIO()
        Console(file=out, width=200).print(table)
        self.stdout.write(out.getvalue(), ending="")

    @staticmethod
    def _columns(start: date, days: int, by: str) -> list[date]:
        step = 7 if by == "week" else 1
        return [start + timedelta(days=n) for n in range(0, days + 1, step)]

    def _run(self, options: dict[str, Any]) -> None:
        chosen = [registry.policy(options["data_class"])] if options["data_class"] else registry.policies()
        now = timezone.now()
        for policy in chosen:
            try:
                summary = services.run_class(policy, now=now, dry_run=options["dry_run"])
            except services.RetentionBusy as exc:
                self.stderr.write(str(exc))
                continue
            verb = "would purge" if summary.dry_run else "purged"
            extra = "".join(f", {k} {v}" for k, v in sorted(summary.details.items()))
            state = "" if policy.enabled else " (kept forever)"
            self.stdout.write(f"{policy.name}: {verb} {summary.purged}{extra}{state}")
