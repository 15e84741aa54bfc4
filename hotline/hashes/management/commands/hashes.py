"""hotline hashes import BANK FILE --format vics|signal|csv | export BANK --format ... [filters]."""

from __future__ import annotations

import io
import os
import sys
from argparse import ArgumentParser
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from hotline.audit.services import Actor
from hotline.hashes.models import Bank, BankKind, Entry, EntryStatus, SignalType, Vote
from hotline.hashes.services import ensure_bank, import_records
from hotline.lib import hashlists

FORMATS = ("vics", "signal", "csv")
VICS_CATEGORY = {"baseline": "1", "national": "1", "not_illegal": "0"}


class _Counting(io.RawIOBase):
    """Wraps a binary file and reports how far it has been read (for the progress bar)."""

    def __init__(self, raw: IO[bytes], on_read: Any) -> None:
        self.raw, self.on_read, self.done = raw, on_read, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.done += len(data)
        self.on_read(self.done)
        return len(data)


VOTE_COLUMNS = ("votes_confirm", "votes_reject")


def _votes(entry: Entry) -> dict[str, str]:
    """Analysts' votes on the entry travel with the bank (only where someone voted)."""
    counts = {name: getattr(entry, name, 0) for name in VOTE_COLUMNS}
    return {k: str(v) for k, v in counts.items()} if any(counts.values()) else {}


class Command(BaseCommand):
    help = "Import a hash list into a bank (idempotent) or export a bank, streaming."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import")
        imp.add_argument("bank", help="the hash bank's name")
        imp.add_argument("file", help="the hash list file")
        imp.add_argument("--format", required=True, choices=FORMATS, help="the file's format")
        imp.add_argument("--kind", default=BankKind.IMPORT, choices=BankKind.values, help="when creating the bank")
        imp.add_argument("--trusted", action="store_true", help="when creating: exact matches give verdicts")
        imp.add_argument("--scheme", default="", help="classification scheme of the list when it names none "
                         "(a VICS document names its own: US, UK, CUSTOM)")
        imp.add_argument("--quiet", action="store_true", help="no progress bar")
        exp = sub.add_parser("export")
        exp.add_argument("bank", help="the hash bank's name")
        exp.add_argument("--format", required=True, choices=FORMATS, help="the output format")
        exp.add_argument("--verdict", action="append", default=[], help="only this verdict (repeatable)")
        exp.add_argument("--signal-type", action="append", default=[], help="only this hash type (repeatable)")
        exp.add_argument("--since", help="ISO date: entries added since")
        exp.add_argument("--out", help="file (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _import(self, options: dict[str, Any]) -> None:
        actor = Actor(label="cli:hashes-import")
        bank, created = ensure_bank(options["bank"], kind=options["kind"], trusted=options["trusted"],
                                    provenance=f"imported from {os.path.basename(options['file'])}", actor=actor)
        try:
            size, raw = os.path.getsize(options["file"]), open(options["file"], "rb")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        with raw, Progress("{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                           disable=options["quiet"], transient=True) as bar:
            task = bar.add_task("importing", total=size)
            stream = io.BufferedReader(_Counting(raw, lambda done: bar.update(task, completed=done)))
            summary = import_records(bank, self._records(stream, options), actor=actor)
        for error in summary.errors[:50]:
            self.stderr.write(f"line {error.line}: field '{error.field}': {error.message}")
        vics = options.get("vics_info")
        if vics is not None:
            for warning in vics.warnings:
                self.stderr.write(f"warning: {warning}")
            self.stdout.write(f"categories: {vics.numbering or 'no'} numbering, kept under scheme {vics.scheme}")
        self.stdout.write(f"{'created' if created else 'bank'} {bank.name}: {summary.added} added, "
                          f"{summary.existing} already there, {summary.error_count} errors")

    def _records(self, stream: IO[bytes], options: dict[str, Any]) -> Iterator[Any]:
        held = [name for name in hashlists.SIGNAL_TYPES if name in SignalType.values]  # what a bank stores
        if options["format"] == "vics":
            options["vics_info"] = hashlists.VicsInfo()
            return hashlists.parse_vics(stream, scheme=options["scheme"], info=options["vics_info"], accept=held)
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
        if options["format"] == "signal":
            return hashlists.parse_signal_file(text, accept=held)
        return hashlists.parse_csv(text, accept=held)

    def _export(self, options: dict[str, Any]) -> None:
        bank = Bank.objects.filter(name=options["bank"]).first()
        if bank is None:
            raise CommandError(f"no bank named {options['bank']!r}")
        entries = bank.entries.filter(status=EntryStatus.ACTIVE).order_by("pk").annotate(
            votes_confirm=Count("votes", filter=Q(votes__vote=Vote.CONFIRM)),
            votes_reject=Count("votes", filter=Q(votes__vote=Vote.REJECT)))
        if options["verdict"]:
            entries = entries.filter(verdict__in=options["verdict"])
        if options["signal_type"]:
            entries = entries.filter(signal_type__in=options["signal_type"])
        if options["since"]:
            entries = entries.filter(added_at__gte=datetime.fromisoformat(options["since"]))
        to_vics = options["format"] == "vics"
        records = (self._record(e, to_vics=to_vics) for e in entries.iterator(chunk_size=5000))
        out: IO[str] = open(options["out"], "w", encoding="utf-8") if options["out"] else sys.stdout  # noqa: SIM115
        try:
            if options["format"] == "vics":
                hashlists.write_vics(records, out)
            elif options["format"] == "signal":
                left_out: dict[str, int] = {}
                hashlists.write_signal_file(records, out, left_out=left_out)
                for name, count in sorted(left_out.items()):
                    self.stderr.write(f"left out {count} {name} hashes: signal files have no type for them "
                                      "(the hash-exchange tooling would drop them); use --format csv or vics")
            else:
                hashlists.write_csv(records, out, extra_columns=VOTE_COLUMNS)
        finally:
            if options["out"]:
                out.close()

    @staticmethod
    def _record(entry: Entry, *, to_vics: bool) -> hashlists.HashRecord:
        classification, scheme = entry.classification, entry.scheme
        if to_vics and scheme == "hotline" and entry.verdict in VICS_CATEGORY:
            # Our own codes in the US VICS scheme: 1 = CAM (illegal), 0 = non-pertinent.
            classification, scheme = VICS_CATEGORY[entry.verdict], "vics-us"
        return hashlists.HashRecord(signal_type=entry.signal_type, value=entry.value,
                                    classification=classification, scheme=scheme,
                                    mapped_verdict=entry.verdict, quality=entry.quality,
                                    source_id=entry.source_id or f"entry-{entry.pk}", extra=_votes(entry))
