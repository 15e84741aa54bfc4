"""hotline partners import FILE [--format json|csv] | keygen | identity | demo-directory."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.audit.services import Actor
from hotline.lib import signing
from hotline.partners import importer
from hotline.partners.services import ExchangeError, our_code, our_public_key


class Command(BaseCommand):
    help = "The partner directory and our exchange identity."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import hotlines and police contacts from JSON or CSV")
        imp.add_argument("file", help="the partner directory file")
        imp.add_argument("--format", choices=("json", "csv"), help="default: from the file name")
        sub.add_parser("keygen", help="print a new Ed25519 private key and its public key")
        sub.add_parser("identity", help="print our exchange code and public key (give these to partners)")
        sub.add_parser("demo-directory", help="load the synthetic demo directory")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "_" + options["action"].replace("-", "_"))(options)

    def _import(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        fmt = options["format"] or ("csv" if path.suffix.lower() == ".csv" else "json")
        summary = importer.import_directory(data, fmt=fmt, actor=Actor(label="cli:partners-import"))
        self._report(summary)

    def _report(self, summary: importer.ImportSummary) -> None:
        for error in summary.errors:
            self.stderr.write(str(error))
        self.stdout.write(f"{summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged, "
                          f"{len(summary.errors)} refused")
        if summary.errors:
            raise CommandError(f"{len(summary.errors)} records were refused; the valid ones were stored", returncode=2)

    def _keygen(self, options: dict[str, Any]) -> None:
        private, public = signing.new_keypair()
        self.stdout.write(f"HOTLINE_EXCHANGE_SIGNING_KEY={private}")
        self.stdout.write(f"public key (give to partners): {public}")

    def _identity(self, options: dict[str, Any]) -> None:
        try:
            key = our_public_key()
        except ExchangeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"code: {our_code()}")
        self.stdout.write(f"public key: {key}")

    def _demo_directory(self, options: dict[str, Any]) -> None:
        self._report(importer.load_demo_directory(actor=Actor(label="cli:partners-demo")))
