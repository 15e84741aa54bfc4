"""hotline seed-demo: demo users for every role, a demo API client and synthetic reports."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from hotline.demo.generator import seed_demo
from hotline.reports.models import Report


class Command(BaseCommand):
    help = "Load synthetic, benign demo data (skipped when reports already exist unless --force)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--reports", type=int, default=60, help="how many synthetic reports (default 60)")
        parser.add_argument("--seed", type=int, default=1, help="random seed")
        parser.add_argument("--force", action="store_true", help="load even when reports exist")

    def handle(self, *args: Any, **options: Any) -> None:
        if Report.objects.exists() and not options["force"]:
            self.stdout.write("demo data already present")
            return
        summary = seed_demo(options["reports"], seed=options["seed"])
        self.stdout.write(f"{summary['reports']} reports, {summary['items']} items (waiting for capture)")
        if summary["api_token"]:
            self.stdout.write(f"demo API token (shown once): {summary['api_token']}")
