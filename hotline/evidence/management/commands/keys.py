"""hotline keys new|status|rotate: create, inspect and rotate the master keys of the content store."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.evidence.services import rotate_keys
from hotline.evidence.store import StoreError, key_status, store_keyring
from hotline.lib.crypto import new_key_spec


class Command(BaseCommand):
    help = (
        "Content store master keys. 'new --id ID' prints a key to put first in HOTLINE_STORE_KEYS; "
        "'rotate' re-wraps every blob with the current (first) key, while the site keeps running; "
        "'status' counts blobs per key id (an old key may be removed once its count is 0)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["new", "status", "rotate"],
                            help="new: print a new master key; status: blobs per key; rotate: re-wrap with the first")
        parser.add_argument("--id", dest="key_id", help="id of the new key (letters and digits)")
        parser.add_argument("--batch", type=int, default=500, help="rows re-wrapped per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "new":
            self._new(options["key_id"])
        elif action == "status":
            self._status()
        else:
            self._rotate(options["batch"])

    def _new(self, key_id: str | None) -> None:
        if not key_id or not key_id.isalnum() or len(key_id) > 32:
            raise CommandError("give the new key an id of 1 to 32 letters and digits: --id ID")
        self.stdout.write(new_key_spec(key_id))
        self.stderr.write("Put it first in HOTLINE_STORE_KEYS (keep the old keys after it), restart, "
                          "then run 'hotline keys rotate'.")

    def _status(self) -> None:
        ring = store_keyring()
        counts = key_status()
        for key_id in [*ring.keys, *sorted(set(counts) - set(ring.keys))]:
            role = "current" if key_id == ring.current else ("configured" if key_id in ring.keys else "MISSING")
            self.stdout.write(f"{key_id}\t{counts.get(key_id, 0)} blobs\t{role}")

    def _rotate(self, batch: int) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        try:
            count = rotate_keys(batch=batch)
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"re-wrapped {count} blobs; current key id: {store_keyring().current}")
