"""The partner directory: importing JSON and CSV (valid rows kept, errors by line and field), the
edit pages, the demo directory and the ``hotline partners`` command."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.lib import signing
from hotline.partners.importer import (
    DEMO_DIRECTORY,
    demo_private_key,
    import_directory,
    load_demo_directory,
)
from hotline.partners.models import PartnerHotline, PoliceContact

pytestmark = pytest.mark.django_db
KEY = signing.new_keypair()[1]
Login = Callable[[User], Client]


def _hotline(code: str = "nl-sim", **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": f"Hotline {code}", "countries": ["nl"], "endpoint": "https://nl.hotline.example/x",
            "public_key": KEY, "languages": ["nl", "en"], "contact_email": "x@nl.hotline.example", **extra}


def test_a_json_import_keeps_the_valid_records_and_names_each_error() -> None:
    data = {"hotlines": [_hotline(), _hotline("de-sim", public_key="short"), _hotline("Bad Code"),
                         _hotline("fr-sim", countries=["FRA"]), "oops"],
            "police": [{"name": "Unit", "country": "be", "kind": "national", "channel": "email",
                        "email": "unit@police.example"},
                       {"name": "Unit 2", "country": "BE", "kind": "national", "channel": "email"}]}
    summary = import_directory(json.dumps(data), fmt="json", actor=SYSTEM)
    assert (summary.created, summary.updated, summary.unchanged) == (2, 0, 0)
    assert [(e.where, e.field) for e in summary.errors] == [
        ("hotlines[1]", "public_key"), ("hotlines[2]", "code"), ("hotlines[3]", "countries"), ("hotlines[4]", "-"),
        ("police[1]", "email")]
    assert "not an Ed25519 public key" in summary.errors[0].message
    hotline = PartnerHotline.objects.get()
    assert (hotline.code, hotline.countries, hotline.languages, hotline.active) == ("nl-sim", ["NL"], ["nl", "en"],
                                                                                   True)
    assert PoliceContact.objects.get().country == "BE"
    assert AuditEvent.objects.filter(action="partner.created").count() == 1


def test_importing_again_updates_by_code_and_counts_unchanged_records() -> None:
    import_directory(json.dumps({"hotlines": [_hotline(), _hotline("de-sim", countries=["DE"])]}), fmt="json",
                     actor=SYSTEM)
    again = {"hotlines": [_hotline(name="Renamed"), _hotline("de-sim", countries=["DE"])]}
    summary = import_directory(json.dumps(again), fmt="json", actor=SYSTEM)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    assert PartnerHotline.objects.get(code="nl-sim").name == "Renamed"
    event = AuditEvent.objects.get(action="partner.updated")
    assert event.before == {"name": "Hotline nl-sim"} and event.after == {"name": "Renamed"}


def test_a_csv_import_reports_errors_by_line_and_field() -> None:
    text = (
        "record,code,name,countries,endpoint,public_key,languages,contact_email,active,country,kind,channel,email\n"
        f"hotline,nl-sim,Meldpunt,NL;BE,https://nl.hotline.example/x,{KEY},nl en,,true,,,,\n"
        "hotline,de-sim,,DE,,,,,,,,,\n"
        "police,,Unit,,,,,,,BE,national,email,unit@police.example\n"
        "agency,,,,,,,,,,,,\n"
        "police,,Channel,,,,,,no,BE,international,http,\n"
    )
    summary = import_directory(text.encode(), fmt="csv", actor=SYSTEM)
    assert summary.created == 2
    assert [str(e) for e in summary.errors] == [
        "line 3: field 'name': This field is required.",
        "line 5: field 'record': must be 'hotline' or 'police'",
        "line 6: field 'endpoint': an HTTP channel needs an endpoint"]
    assert PartnerHotline.objects.get().countries == ["NL", "BE"]


def test_an_unreadable_file_is_one_clear_error() -> None:
    assert next(str(e) for e in import_directory("{", fmt="json", actor=SYSTEM).errors).startswith(
        "file: field '-': not JSON")
    assert import_directory("a,b\n1,2\n", fmt="csv", actor=SYSTEM).errors[0].field == "-"


def test_the_demo_directory_is_synthetic_and_loads_idempotently() -> None:
    first = load_demo_directory()
    assert first.errors == [] and first.created >= 5
    again = load_demo_directory()
    assert again.created == 0 and again.unchanged == first.created
    for hotline in PartnerHotline.objects.all():
        assert hotline.contact_email.endswith(".example")
        assert not hotline.endpoint or hotline.endpoint.startswith("http://127.0.0.1:")
        assert signing.public_b64(signing.private_key(demo_private_key(hotline.code))) == hotline.public_key
    assert PartnerHotline.objects.serving("AT").code == "de-sim"  # type: ignore[union-attr]
    assert "127.0.0.1" in DEMO_DIRECTORY.read_text()


def test_the_command_imports_and_makes_keys(tmp_path: Any) -> None:
    path = tmp_path / "dir.json"
    path.write_text(json.dumps({"hotlines": [_hotline(), _hotline("x y")]}))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 records were refused"):
        call_command("partners", "import", str(path), stdout=out, stderr=err)
    assert "1 created" in out.getvalue() and "hotlines[1]: field 'code'" in err.getvalue()
    out = io.StringIO()
    call_command("partners", "keygen", stdout=out)
    private = out.getvalue().split("HOTLINE_EXCHANGE_SIGNING_KEY=")[1].split()[0]
    public = out.getvalue().split("public key (give to partners): ")[1].strip()
    assert signing.public_b64(signing.private_key(private)) == public
    out = io.StringIO()
    call_command("partners", "identity", stdout=out)
    assert "code: be-hotline" in out.getvalue()


# ------------------------------------------------------------------ pages


def test_staff_read_the_directory_and_only_editors_see_edit_links(login: Login, analyst: User,
                                                                  manager: User) -> None:
    load_demo_directory()
    page = login(analyst).get(reverse("partners:directory")).content.decode()
    assert "Meldpunt Voorbeeld" in page and "?id=" not in page
    page = login(manager).get(reverse("partners:directory")).content.decode()
    assert "?id=" in page


def test_a_manager_adds_and_edits_a_partner(login: Login, manager: User) -> None:
    client = login(manager)
    url = reverse("partners:hotline_form")
    form = {**_hotline(), "countries": "NL BE", "languages": "nl", "active": "on"}
    assert client.post(url, form).status_code == 302
    hotline = PartnerHotline.objects.get()
    assert hotline.countries == ["NL", "BE"]
    assert 'value="NL BE"' in client.get(f"{url}?id={hotline.pk}").content.decode()
    response = client.post(f"{url}?id={hotline.pk}", {**form, "name": "New name", "public_key": "AAAA"})
    assert response.status_code == 200 and "not an Ed25519 public key" in response.content.decode()
    assert client.post(f"{url}?id={hotline.pk}", {**form, "name": "New name"}).status_code == 302
    hotline.refresh_from_db()
    assert hotline.name == "New name"
    assert client.post(url, form).status_code == 200  # the code is taken
    assert client.get(f"{url}?id=999999").status_code == 404
    event = AuditEvent.objects.get(action="partner.updated")
    assert event.actor_label == "user:mona"


def test_a_manager_adds_a_police_contact(login: Login, admin_user: User) -> None:
    client = login(admin_user)
    data = {"name": "Unit", "country": "be", "kind": "national", "channel": "email", "email": "u@police.example",
            "languages": "nl fr", "active": "on"}
    assert client.post(reverse("partners:police_form"), data).status_code == 302
    contact = PoliceContact.objects.get()
    assert (contact.country, contact.languages) == ("BE", ["nl", "fr"])


def test_an_analyst_cannot_edit_or_import(login: Login, analyst: User) -> None:
    client = login(analyst)
    assert client.post(reverse("partners:hotline_form"), _hotline()).status_code == 403
    assert client.post(reverse("partners:import")).status_code == 403
    assert not PartnerHotline.objects.exists()


def test_the_upload_form_imports_and_lists_the_errors(login: Login, manager: User) -> None:
    body = json.dumps({"hotlines": [_hotline(), _hotline("bad code")]}).encode()
    upload = SimpleUploadedFile("directory.json", body, content_type="application/json")
    page = login(manager).post(reverse("partners:import"), {"file": upload}).content.decode()
    assert "1 created, 0 updated, 0 unchanged, 1 refused." in page and "hotlines[1]" in page
    assert PartnerHotline.objects.filter(code="nl-sim").exists()


def test_a_deeply_nested_json_file_is_one_clear_error_not_a_crash() -> None:
    """Found by an outside probe: 100,000 nested lists blew the parser's recursion (500 in the upload form)."""
    summary = import_directory(b'{"hotlines": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", fmt="json", actor=SYSTEM)
    assert [str(e) for e in summary.errors] == [
        "file: field '-': not JSON: nested deeper than 64 levels (line 1 column 77)"]


def test_random_bytes_as_csv_are_not_a_csv_file(tmp_path: Any) -> None:
    raw = __import__("random").Random(19).randbytes(8192)
    summary = import_directory(raw, fmt="csv", actor=SYSTEM)
    assert len(summary.errors) == 1 and summary.errors[0].message.startswith("not a CSV file (line 1: ")
    path = tmp_path / "noise.csv"
    path.write_bytes(raw)
    with pytest.raises(CommandError):
        call_command("partners", "import", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not PartnerHotline.objects.exists()


def test_a_nul_or_an_unreadable_line_refuses_that_line_and_keeps_the_others() -> None:
    text = (
        "record,code,name,countries,endpoint,public_key,languages\n"
        f"hotline,nl-sim,Meld\x00punt,NL,https://nl.hotline.example/x,{KEY},nl\n"
        f"hotline,be-sim,{'x' * 200_000},BE,https://be.hotline.example/x,{KEY},nl\n"
        f"hotline,de-sim,Good,DE,https://de.hotline.example/x,{KEY},de\n"
    )
    summary = import_directory(text.encode(), fmt="csv", actor=SYSTEM)
    assert [(e.where, e.field) for e in summary.errors] == [("line 2", "name"), ("line 3", "-")]
    assert "Null characters are not allowed" in summary.errors[0].message
    assert "not valid CSV" in summary.errors[1].message
    assert list(PartnerHotline.objects.values_list("code", flat=True)) == ["de-sim"]


def test_a_partner_key_changes_only_after_a_recent_password_and_code(login: Login, manager: User) -> None:
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = login(manager)
    url = reverse("partners:hotline_form")
    form = {**_hotline(), "countries": "NL", "languages": "nl", "active": "on"}
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        asked = client.post(url, form)
        assert asked.status_code == 302 and asked["Location"].startswith("/accounts/confirm/")
        assert not PartnerHotline.objects.exists()
        assert client.post(reverse("partners:import"))["Location"].startswith("/accounts/confirm/")
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert client.post(url, form).status_code == 302
    hotline = PartnerHotline.objects.get()
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert client.post(f"{url}?id={hotline.pk}", {**form, "name": "Renamed"}).status_code == 302  # no key change
        other = signing.new_keypair()[1]
        assert client.post(f"{url}?id={hotline.pk}", {**form, "public_key": other})["Location"].startswith(
            "/accounts/confirm/")
    hotline.refresh_from_db()
    assert hotline.name == "Renamed" and hotline.public_key == KEY
