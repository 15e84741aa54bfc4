"""hotline tracing import-providers FILE [--format csv|json] | load-cdns [FILE] | trace ITEM_ID | purge-rdap-cache."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hotline.audit.services import Actor
from hotline.reports.models import Item
from hotline.tracing.importer import ImportSummary, import_providers, load_cdns
from hotline.tracing.rdapcache import purge_expired
from hotline.tracing.services import trace_item


class Command(BaseCommand):
    help = "The provider directory (import, CDN list), a one-off trace, and RDAP cache upkeep."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import-providers", help="merge a CSV or JSON provider list into the directory")
        imp.add_argument("file", help="the provider directory file")
        imp.add_argument("--format", choices=("csv", "json"), help="default: from the file name")
        cdns = sub.add_parser("load-cdns", help="load the shipped CDN list (idempotent)")
        cdns.add_argument("file", nargs="?", help="another list in the same JSON form")
        trace = sub.add_parser("trace", help="trace one item now and print the snapshot")
        trace.add_argument("item", type=int, help="the item's id")
        sub.add_parser("purge-rdap-cache", help="delete expired RDAP answers")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"_{action}")(options)

    def _import_providers(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        fmt = options["format"] or ("json" if path.suffix.lower() == ".json" else "csv")
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        with handle:
            summary = import_providers(handle, fmt=fmt, actor=Actor(label="cli:tracing-import"), origin=path.name)
        self._report(summary)

    def _load_cdns(self, options: dict[str, Any]) -> None:
        path = Path(options["file"]) if options.get("file") else None
        if path is not None and not path.is_file():
            raise CommandError(f"cannot read {path}")
        self._report(load_cdns(actor=Actor(label="cli:tracing-load-cdns"), path=path))

    def _trace(self, options: dict[str, Any]) -> None:
        item = Item.objects.filter(pk=options["item"]).first()
        if item is None:
            raise CommandError(f"no item {options['item']}")
        trace = trace_item(item, now=timezone.now())
        self.stdout.write(f"{trace.outcome} {trace.country or '--'} disputed={trace.country_disputed} "
                          f"provider={trace.provider or '-'} cdn={trace.cdn or '-'} "
                          f"contact={trace.abuse_contact or '-'}")
        if trace.error:
            self.stdout.write(trace.error)

    def _purge_rdap_cache(self, options: dict[str, Any]) -> None:
        self.stdout.write(f"{purge_expired(timezone.now())} expired RDAP answers deleted")

    def _report(self, summary: ImportSummary) -> None:
        for error in summary.errors[:200]:
            self.stderr.write(str(error))
        self.stdout.write(f"{summary.created} created, {summary.updated} updated, {len(summary.errors)} errors")
        if summary.errors and not (summary.created or summary.updated):
            raise CommandError("nothing imported")
