"""hotline evidence export ITEM [ITEM ...] --out PATH | verify BAG | decrypt FILE --out DIR."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.audit.services import Actor
from hotline.evidence.bag import (
    decrypt_bag,
    recipient_key_from_b64,
    recipient_private_key_from_b64,
    verify_bag,
)
from hotline.evidence.services import export_items
from hotline.reports.models import Item


class Command(BaseCommand):
    help = "Evidence packages for the police: export items as a signed BagIt bag, verify or decrypt one."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write a signed bag with the items' evidence")
        export.add_argument("items", nargs="+", type=int, help="item ids")
        export.add_argument("--out", required=True, help="bag directory (or encrypted file) to create")
        export.add_argument("--encrypt-to", help="recipient X25519 public key (base64): write an encrypted file")
        export.add_argument("--organisation", default=os.environ.get("HOTLINE_ORGANISATION", "Hotline"),
                            help="the sending organisation named in the bag (default: HOTLINE_ORGANISATION)")
        verify = sub.add_parser("verify", help="check completeness, hashes and signature of a bag")
        verify.add_argument("bag", help="the bag's folder")
        decrypt = sub.add_parser("decrypt", help="decrypt an encrypted bag (key from HOTLINE_RECIPIENT_KEY)")
        decrypt.add_argument("file", help="the encrypted file from a bag")
        decrypt.add_argument("--out", required=True, help="where to write the decrypted content")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _export(self, options: dict[str, Any]) -> None:
        ids = options["items"]
        items = list(Item.objects.filter(pk__in=ids).order_by("pk"))
        missing = sorted(set(ids) - {i.pk for i in items})
        if missing:
            raise CommandError(f"no item with id {', '.join(map(str, missing))}")
        target = Path(options["out"])
        if target.exists():
            raise CommandError(f"{target} exists already; choose a new path")
        recipient = recipient_key_from_b64(options["encrypt_to"]) if options["encrypt_to"] else None
        path = export_items(items, target, actor=Actor(label="cli:evidence-export"),
                            organisation=options["organisation"], encrypt_to=recipient)
        self.stdout.write(f"wrote {path} ({len(items)} item(s){', encrypted' if recipient else ''})")

    def _verify(self, options: dict[str, Any]) -> None:
        report = verify_bag(Path(options["bag"]))
        for problem in report.problems:
            self.stderr.write(problem)
        if not report.ok:
            raise CommandError(f"bag is NOT intact: {len(report.problems)} problem(s)")
        self.stdout.write("bag is complete, every hash matches and the signature is valid")

    def _decrypt(self, options: dict[str, Any]) -> None:
        key = os.environ.get("HOTLINE_RECIPIENT_KEY")
        if not key:
            raise CommandError("set HOTLINE_RECIPIENT_KEY to the recipient's private key (base64)")
        path = decrypt_bag(Path(options["file"]), Path(options["out"]), recipient_private_key_from_b64(key))
        self.stdout.write(f"decrypted into {path}; now run: hotline evidence verify {path}")
