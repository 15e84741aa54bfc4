"""hotline accounts status|unlock|reset-2fa USER: lockout and second factor, for administrators."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hotline.accounts.models import RecoveryCode, User
from hotline.accounts.services import confirmed_device, is_locked, reset_second_factor, unlock
from hotline.audit.services import Actor


class Command(BaseCommand):
    help = "Show an account's sign-in state, lift its lockout, or reset its second factor (lost phone)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (("status", "show lockout and second-factor state"),
                           ("unlock", "lift a lockout and forget counted failures"),
                           ("reset-2fa", "remove the authenticator and recovery codes; the next login enrols")):
            sub.add_parser(name, help=text).add_argument("username", help="the user's login name")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        actor = Actor(label=f"cli:accounts-{options['action']}")
        if options["action"] == "unlock":
            was_locked = unlock(user, actor=actor)
            self.stdout.write(f"{user.username}: {'unlocked' if was_locked else 'was not locked; failures cleared'}")
        elif options["action"] == "reset-2fa":
            ended = reset_second_factor(user, actor=actor)
            self.stdout.write(f"{user.username}: second factor removed, {ended} session(s) ended; "
                              "the next login enrols a new authenticator")
        else:
            self._status(user)

    def _status(self, user: User) -> None:
        device = confirmed_device(user)
        since = device.confirmed_at if device else None
        enrolled = f"enrolled {since:%Y-%m-%d %H:%M} UTC" if since else "not enrolled"
        left = RecoveryCode.objects.unused().filter(user=user).count()
        locked = "locked" if is_locked(user, timezone.now()) else "not locked"
        self.stdout.write(f"{user.username}: second factor {enrolled}, {left} recovery code(s) left, {locked}")
