"""hotline api-client add|list|revoke: manage the organisations that use the intake API."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.accounts.models import ApiClient, ClientKind
from hotline.accounts.services import AccountError, issue_api_client, revoke_api_client
from hotline.audit.services import Actor


class Command(BaseCommand):
    help = "Issue, list and revoke API client tokens (a token is shown once, when issued)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add")
        add.add_argument("name", help="the organisation the token is for")
        add.add_argument("--kind", required=True, choices=ClientKind.values, help="what kind of sender it is")
        add.add_argument("--country", default="", help="its country code, e.g. NL")
        sub.add_parser("list")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("name", help="the organisation whose tokens to revoke")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor(label="cli:api-client")
        if options["action"] == "add":
            if ApiClient.objects.filter(name=options["name"]).exists():
                raise CommandError(f"a client named {options['name']!r} exists already")
            client, token = issue_api_client(options["name"], options["kind"], actor=actor,
                                             country=options["country"])
            self.stdout.write(f"{client.name} ({client.kind}): token {token}")
            self.stdout.write("Store it now: it is not kept and cannot be shown again.")
        elif options["action"] == "list":
            for client in ApiClient.objects.order_by("name"):
                state = "active" if client.is_active else "revoked"
                self.stdout.write(f"{client.name:<40} {client.kind:<9} hl_{client.token_prefix}_…  {state}")
        else:
            found = ApiClient.objects.filter(name=options["name"]).first()
            if found is None:
                raise CommandError(f"no client named {options['name']!r}")
            try:
                revoke_api_client(found, actor=actor)
            except AccountError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"revoked {found.name}")
