from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.sim.smtp import SmtpSink
from hotline.takedown.conf import parse_ladder, parse_schedule, takedown_settings
from hotline.takedown.models import EscalationContact, Notice, NoticeKind, Takedown
from hotline.takedown.services import registered_domain
from hotline.takedown.steps import escalation_step, notice_step
from hotline.takedown.tests.conftest import MakeContact, MakeTraced

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _run(at: datetime) -> None:
    while notice_step(now=at) | escalation_step(now=at):
        pass


def test_after_two_repeats_the_upstream_registrar_and_site_owner_are_notified(
    make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    hoster = make_contact("Silent Host")
    upstream, registrar = make_contact("Transit Net"), make_contact("Names Registrar")
    item = traced_item(hoster, url="http://www.pics.sim.test/a/1", due=timezone.now())
    EscalationContact.objects.create(role="upstream", provider=hoster.provider, contact=upstream)
    EscalationContact.objects.create(role="registrar", domain="sim.test", contact=registrar)
    start = timezone.now()
    _run(start)
    _run(start + timedelta(hours=2))  # first notice
    _run(start + timedelta(hours=2) + DAY)  # repeat 1
    assert not Notice.objects.filter(kind=NoticeKind.ESCALATION).exists()
    _run(start + timedelta(hours=2) + 2 * DAY)  # repeat 2: the first rung
    escalations = Notice.objects.filter(kind=NoticeKind.ESCALATION)
    assert {(n.role, n.contact_id) for n in escalations} == {("upstream", upstream.pk), ("registrar", registrar.pk)}
    assert all(n.state == "sent" for n in escalations)
    bodies = {m.recipients[0]: m.text() for m in smtp.messages()}
    assert "network that you provide connectivity to" in bodies[upstream.email]
    assert "registered through you" in bodies[registrar.email] and item.canonical_url in bodies[registrar.email]
    takedown = Takedown.objects.get(item=item)
    assert takedown.escalation_rung == 1
    assert takedown.managers_flagged_at is not None  # no site-owner contact: a manager must find one
    event = AuditEvent.objects.get(action="takedown.escalated")
    assert event.after is not None and event.after["no_contact_for"] == ["site_owner"]


def test_after_seven_days_police_and_managers_are_flagged(
    make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink, settings: Any
) -> None:
    settings.HOTLINE_TAKEDOWN_ESCALATION = '[{"after_days": 7, "flag": ["police", "managers"]}]'
    item = traced_item(make_contact(), due=timezone.now())
    start = timezone.now()
    _run(start)
    _run(start + timedelta(hours=2))
    first = Takedown.objects.get(item=item).first_notice_at
    assert first is not None
    assert Takedown.objects.get(item=item).next_escalation_at == first + 7 * DAY
    escalation_step(now=first + 6 * DAY)
    assert Takedown.objects.get(item=item).police_flagged_at is None
    escalation_step(now=first + 7 * DAY)
    takedown = Takedown.objects.get(item=item)
    assert takedown.police_flagged_at == takedown.managers_flagged_at == first + 7 * DAY
    assert takedown.next_escalation_at is None and takedown.escalation_rung == 1


def test_a_removed_item_does_not_escalate(make_contact: MakeContact, traced_item: MakeTraced,
                                          smtp: SmtpSink, settings: Any) -> None:
    settings.HOTLINE_TAKEDOWN_ESCALATION = '[{"after_days": 1, "flag": ["police"]}]'
    item = traced_item(make_contact(), due=timezone.now())
    start = timezone.now()
    _run(start)
    _run(start + timedelta(hours=2))
    Takedown.objects.filter(item=item).update(state="removed", removed_at=start + timedelta(hours=3))
    escalation_step(now=start + 3 * DAY)
    assert Takedown.objects.get(item=item).police_flagged_at is None


@pytest.mark.parametrize(("raw", "message"), [
    ("not json", "is not JSON"),
    ('{"after_days": 1}', "must be a JSON list"),
    ('[{"after_days": 1, "after_repeats": 2, "flag": ["police"]}]', "[0]: give exactly one"),
    ('[{"after_repeats": 2, "notify": ["the press"]}]', "[0]: notify is a list of"),
    ('[{"after_days": 2, "flag": ["police"]}, {"after_days": -1, "flag": ["managers"]}]',
     "[1].after_days must be a number >= 0"),
])
def test_a_bad_ladder_is_refused_naming_the_rung(raw: str, message: str, settings: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_ladder(raw)
    settings.HOTLINE_TAKEDOWN_ESCALATION = raw
    assert [m.id for m in takedown_settings()] == ["hotline.E201"]


def test_a_bad_check_schedule_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="open-ended"):
        parse_schedule("[[1, 15], [24, 60]]")
    assert parse_schedule("[[2, 10], [null, 60]]")[0] == (2.0, timedelta(minutes=10))


def test_registered_domains_come_from_the_offline_suffix_list() -> None:
    assert registered_domain("www.shop.example.co.uk") == "example.co.uk"
    assert registered_domain("a.b.pics.sim.test") == "sim.test"


def test_a_batch_finds_the_escalation_contacts_the_orm_finds(make_contact: MakeContact, make_item: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The contacts are read with SQL compiled once (padded lists, a variant without providers): per role the
    domain's contact, else the provider's, the oldest where several match, as the plain queryset finds them."""
    from hotline.lib import prepared
    from hotline.takedown.services.escalation import _Contacts

    hoster, other = make_contact("Host A"), make_contact("Host B")
    names = [make_contact(name) for name in ("Registrar 1", "Registrar 2", "Transit 1", "Transit 2", "Owner")]
    EscalationContact.objects.create(role="registrar", domain="sim.test", contact=names[0])
    EscalationContact.objects.create(role="registrar", domain="sim.test", contact=names[1])  # newer: loses
    EscalationContact.objects.create(role="upstream", provider=hoster.provider, contact=names[2])
    EscalationContact.objects.create(role="upstream", provider=other.provider, contact=names[3])
    EscalationContact.objects.create(role="site_owner", provider=other.provider, contact=names[4])
    hosts = ["http://www.pics.sim.test/1", "http://files.other.test/2", "http://pics.sim.test/3"]
    takedowns = [Takedown(item=make_item(url), provider=provider) for url, provider in
                 zip(hosts, [hoster.provider, None, other.provider], strict=True)]
    roles = {"registrar", "upstream", "site_owner"}

    def found(batch: list[Takedown]) -> list[tuple[str, int | None]]:
        contacts = _Contacts.of(batch, roles)
        return [(role, getattr(contacts.get(t, role), "pk", None)) for t in batch for role in sorted(roles)]

    batches = [takedowns, takedowns[1:2], takedowns[:1]]
    compiled = [found(batch) for batch in batches]
    monkeypatch.setattr(prepared, "instances", lambda _name, build, **values: list(build(**values)))
    assert compiled == [found(batch) for batch in batches]
    assert ("registrar", names[0].pk) in compiled[0] and ("upstream", names[3].pk) in compiled[0]
    assert ("site_owner", names[4].pk) in compiled[0] and compiled[1] == [(role, None) for role in sorted(roles)]


@pytest.mark.parametrize("chunk", [64, 2])
def test_the_compiled_write_leaves_the_takedowns_bulk_update_left(make_contact: MakeContact, make_item: Any,
                                                                  monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """``_write`` (one UPDATE compiled once, per chunk) leaves every column of every takedown as the ORM's
    ``bulk_update`` of the four columns did: a first rung climbed, both rungs at once (flags set), flags set
    before, the last rung passed (no next look), removal pending, never notified; in chunks too."""
    from django.db import transaction

    from hotline.takedown.services import escalation

    monkeypatch.setattr(escalation, "_WRITE_CHUNK", chunk)
    hoster, upstream = make_contact("Host A"), make_contact("Transit A")
    EscalationContact.objects.create(role="upstream", provider=hoster.provider, contact=upstream)
    now = timezone.now()
    shapes: list[dict[str, Any]] = [
        {"first_notice_at": now - DAY, "repeats": 2},
        {"first_notice_at": now - 9 * DAY, "repeats": 2},
        {"first_notice_at": now - 9 * DAY, "repeats": 3, "police_flagged_at": now - 2 * DAY,
         "managers_flagged_at": now - 3 * DAY},
        {"first_notice_at": now - 9 * DAY, "repeats": 3, "escalation_rung": 1},
        {"first_notice_at": now - 9 * DAY, "repeats": 2, "escalation_rung": 2, "managers_flagged_at": now - DAY},
        {"first_notice_at": now - DAY, "repeats": 0},
        {"first_notice_at": now - DAY, "state": "removal_pending"},
        {"first_notice_at": None},
    ]
    for n, shape in enumerate(shapes):
        Takedown.objects.create(item=make_item(f"http://site-{n}.pics.sim.test/x"), contact=hoster,
                                provider=hoster.provider, opened_at=now, state_changed_at=now, reported_at=now,
                                last_notice_at=shape.get("first_notice_at"), next_escalation_at=now - DAY,
                                **{"state": "online", **shape})

    def escalated() -> list[dict[str, Any]]:
        with transaction.atomic():
            escalation.escalate_due(now=now)
            found: list[dict[str, Any]] = [dict(row) for row in Takedown.objects.order_by("pk").values()]
            transaction.set_rollback(True)
        return found

    compiled = escalated()
    monkeypatch.setattr(escalation, "_write", lambda takedowns: Takedown.objects.bulk_update(
        takedowns, ["escalation_rung", "next_escalation_at", "police_flagged_at", "managers_flagged_at"]))
    assert compiled == escalated()
    assert [row["escalation_rung"] for row in compiled] == [1, 2, 2, 2, 2, 0, 0, 0]
    assert compiled[1]["police_flagged_at"] == now and compiled[2]["police_flagged_at"] == now - 2 * DAY
    assert compiled[1]["next_escalation_at"] is None and compiled[5]["next_escalation_at"] is None
