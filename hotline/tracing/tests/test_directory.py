"""The provider directory: imports with per-line errors, the CDN list, ASN-then-range lookups, edits."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.tracing.importer import import_providers, load_cdns
from hotline.tracing.models import AbuseContact, Provider, ProviderNetwork
from hotline.tracing.providers import find_provider, find_providers, preferred_contact, preferred_contacts
from hotline.tracing.schema import ContactIn, ProviderIn
from hotline.tracing.services import merge_provider, save_provider

pytestmark = pytest.mark.django_db

CSV_HEADER = "name,country,is_cdn,asns,cidrs,abuse_email,channel,language,repeat_hours\n"


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO((CSV_HEADER + text).encode())


def test_a_csv_import_keeps_valid_lines_and_names_each_bad_field() -> None:
    summary = import_providers(_csv(
        "Hoster One,BE,no,AS64500,198.51.100.0/24,abuse@one.example,email,nl,12\n"
        "Bad Country,BEL,no,,,abuse@two.example,email,en,24\n"
        "Bad Range,NL,no,,198.51.100.7/24,,,,\n"
        "Bad Mail,NL,no,,,not-an-address,email,en,24\n"
        "Bad Flag,NL,maybe,,,,,,\n"
        "Bad Hours,NL,no,,,abuse@x.example,email,en,soon\n"
        "Hoster One,,,AS64501,,abuse-2@one.example,email,fr,24\n"
    ), fmt="csv", actor=SYSTEM, origin="test.csv")
    assert [(e.line, e.field) for e in summary.errors] == [
        (3, "country"), (4, "cidrs"), (5, "abuse_email"), (6, "is_cdn"), (7, "repeat_hours")]
    assert str(summary.errors[0]).startswith("line 3: country:")
    assert (summary.created, summary.updated) == (1, 1)
    provider = Provider.objects.get(name="Hoster One")
    assert provider.country == "BE"  # the second line left it empty: kept
    assert sorted(str(n) for n in provider.networks.all()) == [
        "Hoster One: 198.51.100.0/24", "Hoster One: AS64500", "Hoster One: AS64501"]
    assert sorted((c.email, c.language, c.repeat_hours) for c in provider.contacts.all()) == [
        ("abuse-2@one.example", "fr", 24), ("abuse@one.example", "nl", 12)]
    assert AuditEvent.objects.filter(action="provider.imported").count() == 2


def test_a_csv_with_unknown_columns_is_refused_whole() -> None:
    summary = import_providers(io.BytesIO(b"name,colour\nX,red\n"), fmt="csv", actor=SYSTEM, origin="t")
    assert [(e.line, e.field) for e in summary.errors] == [(1, "(header)")]
    assert "unknown columns: colour" in summary.errors[0].message
    assert not Provider.objects.exists()


def test_a_json_import_names_the_record_and_the_nested_field() -> None:
    data = [
        {"name": "Json Host", "asns": [64510], "contacts": [{"email": "abuse@json.example"}]},
        {"name": "No Contact Way", "contacts": [{"channel": "api"}]},
        "not an object",
        {"name": "Extra", "colour": "red"},
        {"name": "Api Host", "contacts": [{"endpoint": "https://api.host.example/abuse", "channel": "api"}]},
    ]
    summary = import_providers(io.BytesIO(json.dumps({"providers": data}).encode()), fmt="json", actor=SYSTEM,
                               origin="t.json")
    assert [(e.line, e.field) for e in summary.errors] == [(2, "contacts.0"), (3, "(record)"), (4, "colour")]
    assert str(summary.errors[0]).startswith("record 2:")
    assert summary.created == 2
    contact = preferred_contact(Provider.objects.get(name="Api Host"))
    assert contact is not None and contact.endpoint == "https://api.host.example/abuse"


@pytest.mark.parametrize(("raw", "message"), [
    (b"\xff\xfe\x00garbage", "not UTF-8"), (b"{", "not JSON"), (b'{"x": 1}', "expected a list")])
def test_a_broken_json_file_is_one_clear_error(raw: bytes, message: str) -> None:
    summary = import_providers(io.BytesIO(raw), fmt="json", actor=SYSTEM, origin="t")
    assert len(summary.errors) == 1 and message in summary.errors[0].message


def test_the_cdn_list_loads_idempotently() -> None:
    first = load_cdns(actor=SYSTEM)
    assert first.errors == [] and first.created >= 10
    events = AuditEvent.objects.count()
    again = load_cdns(actor=SYSTEM)
    assert (again.created, again.updated, again.errors) == (0, first.created, [])
    assert AuditEvent.objects.count() == events  # nothing changed, nothing audited
    cloudflare = Provider.objects.get(name="Cloudflare")
    assert cloudflare.is_cdn and preferred_contact(cloudflare) is not None
    assert ProviderNetwork.objects.filter(provider=cloudflare, asn=13335).exists()


def test_lookups_go_by_asn_first_then_by_the_narrowest_range() -> None:
    load_cdns(actor=SYSTEM)
    wide = merge_provider(ProviderIn(name="Wide ISP", cidrs=["104.0.0.0/8"]), actor=SYSTEM, origin="t")[0]
    match = find_provider("104.16.1.1", 13335)
    assert match is not None and (match.provider.name, match.by) == ("Cloudflare", "asn")
    match = find_provider("104.16.1.1", None)
    assert match is not None and (match.provider.name, match.by, match.network) == (
        "Cloudflare", "range", "104.16.0.0/13")
    match = find_provider("104.200.0.1", None)
    assert match is not None and match.provider == wide
    match = find_provider("2606:4700::1", None)
    assert match is not None and match.provider.name == "Cloudflare"
    cloudfront = find_provider("13.32.0.1", 16509)  # AWS's AS is not listed: the range decides
    assert cloudfront is not None and cloudfront.provider.name == "Amazon CloudFront"
    assert find_provider("192.0.2.1", 64999) is None


def test_the_batch_lookups_answer_as_one_lookup_each_across_chunks() -> None:
    load_cdns(actor=SYSTEM)
    merge_provider(ProviderIn(name="Wide ISP", cidrs=["104.0.0.0/8"]), actor=SYSTEM, origin="t")
    merge_provider(ProviderIn(name="Narrow", asns=[64600], cidrs=["104.200.7.0/24"],
                              contacts=[ContactIn(email="desk@narrow.example")]), actor=SYSTEM, origin="t")
    # more addresses than one range query takes (64), with and without AS numbers, some in no range at all
    wanted = [(f"104.{n}.{n % 7}.1", None) for n in range(0, 250, 3)] + [
        ("104.200.7.9", None), ("104.200.7.9", 64600), ("104.16.1.1", 13335), ("192.0.2.1", 64999),
        ("13.32.0.1", 16509), ("2606:4700::1", None), ("198.51.100.7", None)]
    found = find_providers(wanted)
    assert set(found) == set(wanted)
    for ip, asn in wanted:
        one = find_provider(ip, asn)
        assert (found[(ip, asn)] is None) == (one is None), (ip, asn)
        if one is not None:
            match = found[(ip, asn)]
            assert match is not None and (match.provider.pk, match.by, match.network) == (
                one.provider.pk, one.by, one.network), (ip, asn)
    assert {m.provider.name for m in found.values() if m} >= {"Wide ISP", "Narrow", "Cloudflare"}  # not vacuous
    assert find_providers([]) == {}
    providers = list(Provider.objects.all())
    contacts = preferred_contacts([p.pk for p in providers])
    assert {pk: getattr(c, "pk", None) for pk, c in contacts.items()} == {
        p.pk: getattr(preferred_contact(p), "pk", None) for p in providers}
    assert any(contacts.values()) and preferred_contacts([]) == {}


def test_an_edit_replaces_networks_and_can_delete_an_unused_contact() -> None:
    provider = save_provider(None, ProviderIn(name="Edited", asns=[64520], cidrs=["203.0.113.0/24"], contacts=[
        ContactIn(email="a@edited.example"), ContactIn(email="b@edited.example")]), actor=SYSTEM)
    doomed = provider.contacts.get(email="b@edited.example")
    kept = provider.contacts.get(email="a@edited.example")
    save_provider(provider, ProviderIn(name="Edited", country="FR", asns=[64521], contacts=[
        ContactIn(id=kept.pk, email="a@edited.example", language="fr")]), actor=SYSTEM,
        delete_contacts=frozenset({doomed.pk}))
    provider.refresh_from_db()
    assert provider.country == "FR"
    assert [str(n) for n in provider.networks.all()] == ["Edited: AS64521"]
    assert list(provider.contacts.values_list("email", "language")) == [("a@edited.example", "fr")]
    event = AuditEvent.objects.filter(action="provider.updated").get()
    assert event.before is not None and event.before["networks"] == ["Edited: 203.0.113.0/24", "Edited: AS64520"]


def test_rdap_contacts_rank_after_directory_ones() -> None:
    provider = Provider.objects.create(name="Ranked")
    AbuseContact.objects.create(provider=provider, email="rdap@ranked.example", source=AbuseContact.Source.RDAP)
    assert getattr(preferred_contact(provider), "email", None) == "rdap@ranked.example"
    merge_provider(ProviderIn(name="Ranked", contacts=[ContactIn(email="desk@ranked.example")]), actor=SYSTEM,
                   origin="t")
    assert getattr(preferred_contact(provider), "email", None) == "desk@ranked.example"


def test_the_command_imports_and_loads_the_cdn_list(tmp_path: Path) -> None:
    path = tmp_path / "providers.csv"
    path.write_text(CSV_HEADER + "Cli Host,DE,no,AS64530,,abuse@cli.example,email,de,24\nBroken,XYZ,,,,,,,\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("tracing", "import-providers", str(path), stdout=out, stderr=err)
    assert "1 created, 0 updated, 1 errors" in out.getvalue()
    assert "line 3: country:" in err.getvalue()
    call_command("tracing", "load-cdns", stdout=out)
    assert Provider.objects.filter(is_cdn=True).count() >= 10
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("tracing", "import-providers", str(bad), stdout=io.StringIO(), stderr=io.StringIO())


RANDOM_BYTES = __import__("random").Random(19).randbytes(8192)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_nul_refuses_its_record_and_keeps_the_others(fmt: str) -> None:
    """Found by an outside probe: a NUL reached PostgreSQL (500 in the upload form, the CLI aborted)."""
    if fmt == "csv":
        raw = _csv("Good One,BE,no,,,,,,\nNul\x00Host,NL,no,,,,,,\nGood Two,NL,no,,,,,,\n").getvalue()
    else:
        raw = json.dumps([{"name": "Good One"}, {"name": "Nul Host", "notes": "a\x00b"},
                          {"name": "Good Two", "contacts": [{"email": "abuse@two.example", "name": "x\x00"}]},
                          {"name": "Good Three"}]).encode()
    summary = import_providers(io.BytesIO(raw), fmt=fmt, actor=SYSTEM, origin="t")
    expected = [(3, "name")] if fmt == "csv" else [(2, "notes"), (3, "contacts.0.name")]
    assert [(e.line, e.field) for e in summary.errors] == expected
    assert all("NUL" in e.message for e in summary.errors)
    assert set(Provider.objects.values_list("name", flat=True)) == (
        {"Good One", "Good Two"} if fmt == "csv" else {"Good One", "Good Three"})


def test_random_bytes_as_csv_are_not_a_csv_file() -> None:
    summary = import_providers(io.BytesIO(RANDOM_BYTES), fmt="csv", actor=SYSTEM, origin="t")
    assert len(summary.errors) == 1 and str(summary.errors[0]).startswith("line 0: (file): not a CSV file (line ")
    binary_header = b"name\x01,country\nX,BE\n"
    summary = import_providers(io.BytesIO(binary_header), fmt="csv", actor=SYSTEM, origin="t")
    assert [e.message for e in summary.errors] == ["not a CSV file (line 1: control character U+0001 at column 5)"]
    assert not Provider.objects.exists()


def test_a_deeply_nested_json_file_is_refused_before_parsing() -> None:
    summary = import_providers(io.BytesIO(b"[" * 100_000 + b"]" * 100_000), fmt="json", actor=SYSTEM, origin="t")
    assert [e.message for e in summary.errors] == ["not JSON: nested deeper than 64 levels (line 1 column 65)"]


def test_a_line_the_csv_reader_refuses_keeps_the_lines_after_it() -> None:
    summary = import_providers(_csv(f"Good One,BE\n{'x' * 200_000},NL\nGood Two,NL\n"), fmt="csv", actor=SYSTEM,
                               origin="t")
    assert [(e.line, e.field) for e in summary.errors] == [(3, "(line)")]
    assert "field larger than field limit" in summary.errors[0].message
    assert set(Provider.objects.values_list("name", flat=True)) == {"Good One", "Good Two"}


def test_the_command_names_the_bad_line_and_keeps_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"name\nGood\nBad\x00\n")
    err = io.StringIO()
    call_command("tracing", "import-providers", str(path), stdout=io.StringIO(), stderr=err)
    assert "line 3: name: " in err.getvalue() and "contains a NUL character" in err.getvalue()
    assert list(Provider.objects.values_list("name", flat=True)) == ["Good"]
