"""hotline cases import-outcomes FILE [--user NAME]: import the outcome CSV the police sent."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hotline.accounts.models import Role, User
from hotline.audit.services import Actor
from hotline.cases.services import ImportFileError, import_outcomes


class Command(BaseCommand):
    help = "Case files: import police outcomes from CSV (idempotent per case, outcome and date)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import-outcomes", help="columns: case_reference,outcome,date,reason,note")
        imp.add_argument("file", help="the CSV file of police outcomes")
        imp.add_argument("--user", help="the police liaison to record the outcomes as (default: the command)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        try:
            batch = import_outcomes(data, filename=os.path.basename(path), actor=self._actor(options["user"]),
                                    now=timezone.now())
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        for error in batch.errors:
            self.stderr.write(f"line {error['line']}: field '{error['field']}': {error['message']}")
        self.stdout.write(f"{batch.lines} lines: {batch.created} outcomes added, {batch.existing} already recorded, "
                          f"{batch.error_count} refused")
        if batch.error_count:
            raise CommandError(f"{batch.error_count} lines refused (the valid lines are kept)")

    @staticmethod
    def _actor(username: str | None) -> Actor:
        if not username:
            return Actor(label="cli:cases-import-outcomes")
        user = User.objects.filter(username=username).first()
        if user is None or not user.has_role(Role.POLICE_LIAISON):
            raise CommandError(f"--user: no active police liaison named {username!r}")
        return Actor.of_user(user)
