"""hotline demo: set up the database, load demo data, run the web server and a worker."""

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
from django.core.management.base import BaseCommand

from hotline.accounts.models import User
from hotline.accounts.twofactor import ensure_enrolled
from hotline.audit.services import Actor
from hotline.demo.generator import (
    DEMO_USERS,
    assess_some,
    capture_all,
    ensure_demo_users,
    report_reuploads,
    seed_known_content,
)
from hotline.demo.hosting import DemoHosting, seed_directory
from hotline.evidence.services import CaptureConfig
from hotline.sim.smtp import Received, SmtpSink
from hotline.sim.web import SimWeb


class Command(BaseCommand):
    help = "Run the demo on 127.0.0.1: migrate, seed synthetic data, start web and worker."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--feed", type=float, default=20.0,
                            help="seconds between new synthetic reports (0: off)")
        parser.add_argument("--setup-only", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)
        call_command("seed_demo", stdout=self.stdout)
        logins = ensure_demo_users()
        keys = {name: ensure_enrolled(User.objects.get(username=name), actor=Actor(label="demo")) for name in logins}
        mail_dir = settings.VAR_DIR / "demo-mail"
        with SimWeb(suffixes=(".sim.test",), catch_all=True) as sim, DemoHosting() as hosting, \
                SmtpSink(listeners=[_maildir_writer(mail_dir)]) as smtp:
            seed_directory()
            policy = sim.fetch_policy(port_map={80: sim.port})
            self.stdout.write("capturing the demo reports from the simulated web ...")
            capture_all(CaptureConfig(policy=policy))
            known = seed_known_content(3)
            mirrors = report_reuploads(4)
            self.stdout.write(f"{known} hashes in the demo partner list; {mirrors} known files re-reported ...")
            capture_all(CaptureConfig(policy=policy))
            self.stdout.write(f"{assess_some(12)} items assessed by the scripted demo analyst")
            if options["setup_only"]:
                return
            port = options["port"]
            env = os.environ | {
                "HOTLINE_FETCH_ALLOW_LOOPBACK": "true",
                "HOTLINE_SIM_HOSTS": json.dumps(sim.host_map),
                "HOTLINE_SIM_PORTS": json.dumps({"80": sim.port}),
                "HOTLINE_SMTP_HOST": "127.0.0.1", "HOTLINE_SMTP_PORT": str(smtp.port),
                **hosting.env,
            }
            base = [sys.executable, "-m", "hotline.cli"]
            children = [
                subprocess.Popen([*base, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env),  # noqa: S603
                subprocess.Popen([*base, "worker", "--demo-feed", str(options["feed"])], env=env),  # noqa: S603
            ]
            time.sleep(1.5)
            self._banner(port, logins, keys, sim.port)
            self.stdout.write(f"Outbound mail (police referrals, notices) is caught on 127.0.0.1:{smtp.port} "
                              f"and written to {mail_dir}/\n")
            self._wait(children)

    def _banner(self, port: int, logins: dict[str, str], keys: dict[str, str], sim_port: int) -> None:
        lines = [
            "",
            f"Hotline demo running at  http://127.0.0.1:{port}/",
            f"Simulated web (synthetic sites *.sim.test) on 127.0.0.1:{sim_port}",
            f"Public report form:      http://127.0.0.1:{port}/report/  (Dutch: /nl/report/, French: /fr/report/)",
            f"API documentation:       http://127.0.0.1:{port}/api/docs",
            "Logins (user / password / authenticator key: add it to an authenticator app, or print the code",
            "with: .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('KEY').now())\"):",
            *[f"  {role.label:<16} {name} / {logins[name]} / {keys[name]}" for name, role in DEMO_USERS],
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _wait(self, children: list[subprocess.Popen[bytes]]) -> None:
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    os.kill(child.pid, signal.SIGTERM)
            for child in children:
                child.wait(timeout=15)


def _maildir_writer(directory: Path) -> Callable[[Received], None]:
    """Keep each caught mail as a file, so a newcomer can read what the system sent."""
    box = mailbox.Maildir(directory, create=True)

    def write(received: Received) -> None:
        box.add(received.message.as_bytes())

    return write
