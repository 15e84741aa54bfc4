"""hotline mail poll [--once] | receive [FILE]: read the intake mailbox, or record one mail (e.g. piped by the MTA)."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from hotline.lib.worker import Stopper, run_forever
from hotline.mailintake.mailboxes import MailboxError, source_from_settings
from hotline.mailintake.services import receive_mail
from hotline.mailintake.steps import mail_step


class Command(BaseCommand):
    help = "E-mail intake: poll the mailbox in HOTLINE_MAIL_INTAKE_URL, or record one mail from a file or stdin."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        poll = sub.add_parser("poll", help="read the mailbox (every HOTLINE_MAIL_INTAKE_INTERVAL seconds)")
        poll.add_argument("--once", action="store_true", help="read everything waiting now, then exit")
        poll.add_argument("--sleep", type=float, default=5.0, help="seconds between checks when idle")
        receive = sub.add_parser("receive", help="record one mail (RFC 5322 bytes) from FILE or stdin")
        receive.add_argument("file", nargs="?", default="-", help="the mail file (default: stdin)")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _poll(self, options: dict[str, Any]) -> None:
        try:
            source = source_from_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if source is None:
            raise CommandError("HOTLINE_MAIL_INTAKE_URL is not set: no mailbox to read.")
        if not options["once"]:
            stopper = Stopper()
            stopper.install()
            run_forever([mail_step], stopper=stopper, idle_sleep=options["sleep"])
            return
        rounds = 0
        try:
            while mail_step(source=source, force=True):
                rounds += 1
        except MailboxError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("read the mailbox" if rounds else "no mail waiting")

    def _receive(self, options: dict[str, Any]) -> None:
        name = options["file"]
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc}") from exc
        mail, created = receive_mail(raw, mailbox="cli")
        state = "recorded" if created else "already recorded"
        self.stdout.write(f"mail {mail.pk} {state}: {mail.outcome}")
