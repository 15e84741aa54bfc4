"""hotline field-keys status|rotate: the keys of encrypted database fields (reporter contact data)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from hotline.audit.services import Actor
from hotline.core import services
from hotline.lib.fields import field_key_status, field_keyring


class Command(BaseCommand):
    help = ("Encrypted fields. Put a new key (hotline keys new --id ID) first in HOTLINE_FIELD_KEYS, keep the old "
            "ones after it, restart, then 'rotate'; 'status' counts values per key id.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["status", "rotate"],
                            help="status: values per key id; rotate: re-encrypt with the first key")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rotate":
            moved = services.rotate_field_keys(actor=Actor(label="cli:field-keys"))
            self.stdout.write(f"re-encrypted {moved} values under key {field_keyring().current}")
        for key_id, count in sorted(field_key_status().items()):
            self.stdout.write(f"{key_id}: {count} values")
