"""Mail intake throughput from a maildir, against handing the same URLs straight to intake.

    .venv/bin/python bench/mail_intake.py [--mails 500] [--database postgres://postgres@127.0.0.1:5432/h_mail]

Delivers ``--mails`` synthetic mails (an allow-listed partner, our MTA's DKIM pass, 5 URLs in the
body, every fifth with a 20-line CSV attachment) to a scratch maildir and runs the mail worker step
until the maildir is empty: parse, authenticate, extract, encrypt and store the original, report,
``InboundMail`` row, audit, remove. Then, in the same run, the same number of reports with the same
number of (new) URLs go straight to ``receive_reports``, one call per mail, as the floor. Prints
mails/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AUTHSERV = "mx.hotline.example"


def make_mail(n: int) -> bytes:
    message = EmailMessage()
    message["Authentication-Results"] = f"{AUTHSERV}; dkim=pass header.d=partner.example; spf=pass " \
                                        "smtp.mailfrom=partner.example"
    message["From"] = "reports@partner.example"
    message["Subject"] = f"Reports batch {n}"
    message["Message-ID"] = f"<bench-{n}@partner.example>"
    message.set_content("Please check:\n" + "".join(f"http://site-{n}.sim.test/page/{k}\n" for k in range(5)))
    if n % 5 == 0:
        rows = "".join(f"http://csv-{n}.sim.test/item/{k},ref-{k}\n" for k in range(20))
        message.add_attachment(f"url,external_ref\n{rows}".encode(), maintype="text", subtype="csv",
                               filename="urls.csv")
    return message.as_bytes()


def urls_of(n: int, prefix: str) -> list[str]:
    found = [f"http://{prefix}site-{n}.sim.test/page/{k}" for k in range(5)]
    if n % 5 == 0:
        found += [f"http://{prefix}csv-{n}.sim.test/item/{k}" for k in range(20)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument("--database", default="", help="DATABASE_URL (default: a scratch SQLite file)")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="hotline-bench-mail-")
    if args.database.startswith("postgres"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from intake_throughput import scratch_database

        os.environ["DATABASE_URL"] = scratch_database(args.database)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    import mailbox

    from django.conf import settings
    from django.core.management import call_command

    settings.HOTLINE_STORE = {"BACKEND": "filesystem", "ROOT": f"{scratch}/store"}
    settings.HOTLINE_MAIL_AUTHSERV_ID = AUTHSERV
    settings.HOTLINE_MAIL_INTAKE_BATCH = 100
    call_command("migrate", verbosity=0)

    from hotline.audit.services import SYSTEM, Actor
    from hotline.mailintake.mailboxes import MaildirSource
    from hotline.mailintake.models import InboundMail
    from hotline.mailintake.services import add_sender
    from hotline.mailintake.steps import mail_step
    from hotline.reports.services import IncomingReport, receive_reports

    add_sender("reports@partner.example", organisation="Partner", source="partner", trust_method="auth", actor=SYSTEM)
    box = mailbox.Maildir(f"{scratch}/maildir", create=True)
    for n in range(args.mails):
        box.add(make_mail(n))
    source = MaildirSource(Path(f"{scratch}/maildir"))

    started = time.perf_counter()
    while mail_step(source=source, force=True):
        pass
    mail_seconds = time.perf_counter() - started
    accepted = InboundMail.objects.filter(outcome="accepted").count()
    assert accepted == args.mails, f"only {accepted} of {args.mails} mails accepted"

    actor = Actor(label="bench")
    started = time.perf_counter()
    for n in range(args.mails):
        receive_reports([IncomingReport(source="partner", urls=urls_of(n, "direct-"))], actor=actor)
    direct_seconds = time.perf_counter() - started

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}, mails: {args.mails} ({sum(len(urls_of(n, '')) for n in range(args.mails))} URLs)")
    print(f"mail intake:     {args.mails / mail_seconds:8.1f} mails/s ({mail_seconds:.2f} s)")
    print(f"direct intake:   {args.mails / direct_seconds:8.1f} reports/s ({direct_seconds:.2f} s)")
    print(f"ratio (mail / direct time): {mail_seconds / direct_seconds:.2f}x")


if __name__ == "__main__":
    main()
