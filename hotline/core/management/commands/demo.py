"""hotline demo: migrate, simulate the last days of a hotline on loopback, then run it live with the real web
server and worker (docs/simulation.md, "The demo")."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
import time
from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from hotline.accounts.models import ClientKind, User
from hotline.accounts.services import ensure_enrolled
from hotline.audit.services import Actor
from hotline.demo import blankdb
from hotline.demo.generator import DEMO_USERS, ensure_demo_users
from hotline.demo.live import LiveDemo, process_env
from hotline.demo.scenario import make_plan
from hotline.demo.simulate import Simulation, default_start, summary_lines
from hotline.demo.world import World
from hotline.reports.models import Item
from hotline.sim.smtp import Received, SmtpSink
from hotline.takedown.models import Notice, Takedown

STEP_SECONDS = 2.0  # how often the outside world and the scripted people act in the live demo
STATUS_SECONDS = 60.0


class Command(BaseCommand):
    help = ("Run the demo on 127.0.0.1: migrate, simulate the last days of a hotline on loopback, then keep that "
            "world alive with the real web server and worker.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="web server port on 127.0.0.1 (default 8000)")
        parser.add_argument("--history-reports", type=int, default=150,
                            help="reports in the simulated history before the demo goes live")
        parser.add_argument("--history-days", type=int, default=14, help="days of simulated history")
        parser.add_argument("--seed", type=int, default=1, help="random seed of the simulated history")
        parser.add_argument("--feed", type=float, default=20.0,
                            help="seconds between new synthetic reports once live (0: none)")
        parser.add_argument("--setup-only", action="store_true", help="stop after the history")
        parser.add_argument("--fresh", action="store_true",
                            help="new authenticator keys for the demo users (by default a restart keeps them)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["history_reports"] < 1 or options["history_days"] < 1:
            raise CommandError("--history-reports and --history-days must be at least 1")
        signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C: the children too
        blankdb.migrate()
        call_command("createcachetable", verbosity=0)
        write_demo_env(settings.VAR_DIR)
        if Item.objects.exists():
            self._fresh_database()
        days = options["history_days"]
        plan = make_plan(options["history_reports"], days=days, seed=options["seed"])
        mail_dir = settings.VAR_DIR / "demo-mail"
        with SmtpSink(listeners=[_maildir_writer(mail_dir)]) as smtp, World(plan, smtp=smtp) as world:
            logins = ensure_demo_users()
            keys = enrol_demo_users(logins, settings.VAR_DIR, fresh=options["fresh"])
            logins_file = write_logins(settings.VAR_DIR, logins, keys)
            port = options["port"]
            env = os.environ | process_env(world) | {"HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{port}"}
            base = [sys.executable, "-m", "hotline.cli"]
            children: list[subprocess.Popen[bytes]] = []
            try:
                if not options["setup_only"]:
                    # Serve at once: the pages work while the history fills in behind the progress lines below.
                    children.append(subprocess.Popen([*base, "runserver", f"127.0.0.1:{port}", "--noreload"],  # noqa: S603
                                                     env=env))
                    self.stdout.write(f"Hotline demo serving at http://127.0.0.1:{port}/ already; the logins are in "
                                      f"{logins_file}.\nThe history fills in while you look (the figures grow until "
                                      "it is done); the full banner follows.")
                self.stdout.write(f"simulating the last {days} days: {len(plan.reports)} reports on synthetic "
                                  "*.sim.test sites, hosting providers, a partner hotline and a police mailbox ...")
                self.stdout.flush()
                result = Simulation(plan, world, start=default_start(days),
                                    progress=lambda line: self._progress(line)).run()
                self.stdout.write("\n".join(summary_lines(result)))
                if options["setup_only"]:
                    return
                # The worker starts after the history: it works in real time, the history on its own clock.
                children.append(subprocess.Popen([*base, "worker", "--sleep", "1"], env=env))  # noqa: S603
                live = LiveDemo(plan, world, now=timezone.now(), feed_seconds=options["feed"], seed=options["seed"])
                self._banner(port, logins, keys, world.tokens[ClientKind.INDUSTRY], options["feed"])
                self.stdout.write(f"Outbound mail (police referrals, notices) is caught on 127.0.0.1:{smtp.port} "
                                  f"and written to {mail_dir}/\nThe logins are also in {logins_file}; "
                                  "the authenticator keys stay the same on a restart "
                                  "(hotline demo --fresh: new ones).\n")
                self.stdout.flush()  # the banner first, also when the output goes to a file or a pipe
                self._live(live, children)
            except KeyboardInterrupt:
                pass
            finally:
                _stop(children)

    def _progress(self, line: str) -> None:
        self.stdout.write(f"  {line}")
        self.stdout.flush()

    def _fresh_database(self) -> None:
        """The simulated web lives in this process's memory, so an earlier run's sites are gone with it: the
        demo starts again from an empty SQLite file. Any other database is left alone (audit is append-only)."""
        database = connection.settings_dict
        if connection.vendor != "sqlite" or not str(database["NAME"]).startswith(str(settings.VAR_DIR)):
            raise CommandError(f"the database {database['NAME']} already holds items; the demo needs an empty one")
        self.stdout.write(f"starting from a fresh demo database ({database['NAME']}; the last run's simulated "
                          "web is gone)")
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database['NAME']}{suffix}").unlink(missing_ok=True)
        blankdb.migrate()
        call_command("createcachetable", verbosity=0)

    def _live(self, live: LiveDemo, children: list[subprocess.Popen[bytes]]) -> None:
        """Step the outside world until Ctrl-C or a child process ends; a status line every minute."""
        last_status = time.monotonic()
        try:
            while all(child.poll() is None for child in children):
                live.step(timezone.now())
                if time.monotonic() - last_status >= STATUS_SECONDS:
                    last_status = time.monotonic()
                    self.stdout.write(
                        f"[{timezone.localtime():%H:%M}] {Item.objects.count()} items "
                        f"({live.arrived} new reports live), {Notice.objects.filter(state='sent').count()} "
                        f"notices sent, {Takedown.objects.filter(state='removed').count()} removed")
                    self.stdout.flush()
                time.sleep(STEP_SECONDS)
        except KeyboardInterrupt:
            pass

    def _banner(self, port: int, logins: dict[str, str], keys: dict[str, str], api_token: str | None,
                feed: float) -> None:
        lines = [
            "",
            f"Hotline demo running at  http://127.0.0.1:{port}/",
            f"Public report form:      http://127.0.0.1:{port}/report/  (Dutch: /nl/report/, French: /fr/report/)",
            f"API documentation:       http://127.0.0.1:{port}/api/docs  (industry client token: {api_token})",
            f"Live: a new report every {feed:g} s; providers answer notices within minutes; the scripted analyst",
            "(analyst2) takes items that waited 3 minutes, so the newest are yours to assess as 'analyst'.",
            "Logins (user / password / authenticator key: add it to an authenticator app, or print the code",
            "with: .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('KEY').now())\"):",
            *[f"  {role.label:<16} {name} / {logins[name]} / {keys[name]}" for name, role in DEMO_USERS],
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each child still running, then wait for all (the demo stops with its web server and worker)."""
    for child in children:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=120)  # the worker finishes its current step first (seconds; longer under load)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def enrol_demo_users(logins: dict[str, str], var_dir: Path, *, fresh: bool) -> dict[str, str]:
    """Each demo user's authenticator key: the one saved by an earlier run (the demo database is new each run,
    the phone's authenticator app is not), unless ``fresh``. Saved in var/demo-authenticator-keys.json (0600)."""
    path = var_dir / "demo-authenticator-keys.json"
    saved: dict[str, str] = {}
    if path.exists() and not fresh:
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            saved = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        except ValueError:
            saved = {}
    keys = {name: ensure_enrolled(User.objects.get(username=name), actor=Actor(label="demo"), secret=saved.get(name))
            for name in logins}
    _write_private(path, json.dumps(keys, indent=1) + "\n")
    return keys


def write_logins(var_dir: Path, logins: dict[str, str], keys: dict[str, str]) -> Path:
    """var/demo-logins.txt (0600): user, password and authenticator key of each demo user."""
    path = var_dir / "demo-logins.txt"
    lines = ["# Demo logins on 127.0.0.1 (user / password / authenticator key), written by 'hotline demo'"]
    lines += [f"{role.label:<16} {name} / {logins[name]} / {keys[name]}" for name, role in DEMO_USERS]
    _write_private(path, "\n".join(lines) + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


def write_demo_env(var_dir: Path) -> Path:
    """``var/demo.env``: what ``hotline ...`` needs to work on the demo's database in this checkout (its keys
    stay in var/dev-secrets.json, which development settings read)."""
    path = var_dir / "demo.env"
    lines = ["# Written by 'hotline demo'; the hotline command uses it when no HOTLINE_* variable is set.",
             "HOTLINE_DEBUG=true", f"HOTLINE_VAR_DIR={var_dir}", f"DATABASE_URL={settings.DATABASE_URL}"]
    _write_private(path, "\n".join(lines) + "\n")
    return path


def _maildir_writer(directory: Path) -> Callable[[Received], None]:
    """Keep each caught mail as a file, so a newcomer can read what the system sent."""
    box = mailbox.Maildir(directory, create=True)

    def write(received: Received) -> None:
        box.add(received.message.as_bytes())

    return write
