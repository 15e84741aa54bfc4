from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from hotline.accounts.models import ApiClient
from hotline.hashes.models import Bank, BankKind, Entry
from hotline.hashes.services import bump_version
from hotline.lib import pdq
from hotline.sim.images import make_image

pytestmark = pytest.mark.django_db
MD5 = "a" * 32
SHA = "b" * 64


def _post(token: str, path: str, body: dict[str, Any]) -> Any:
    return Client().post(f"/api/v1{path}", json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def banks() -> tuple[Bank, Bank]:
    shared = Bank.objects.create(name="shared", kind=BankKind.OWN, trusted=True, shared_via_api=True)
    private = Bank.objects.create(name="private", kind=BankKind.PARTNER, trusted=True)
    now = timezone.now()
    Entry.objects.create(bank=shared, signal_type="md5", value=MD5, verdict="baseline", classification="baseline",
                         scheme="hotline", added_at=now)
    Entry.objects.create(bank=private, signal_type="sha256", value=SHA, verdict="national", added_at=now)
    bump_version()
    return shared, private


def test_lookup_answers_only_from_shared_banks(partner_client: tuple[ApiClient, str], banks: Any) -> None:
    _, token = partner_client
    response = _post(token, "/hashes/lookup", {"hashes": [
        {"signal_type": "md5", "value": MD5.upper()}, {"signal_type": "sha256", "value": SHA},
        {"signal_type": "md5", "value": "z" * 32}]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["matches"][0]["bank"] for r in results[:1]] == ["shared"]
    assert results[0]["matches"][0]["verdict"] == "baseline"
    assert results[1]["matches"] == []  # the private bank is not disclosed
    assert "hexadecimal" in results[2]["error"]


def test_lookup_needs_a_token(banks: Any) -> None:
    response = Client().post("/api/v1/hashes/lookup", "{}", content_type="application/json")
    assert response.status_code == 401


def test_a_file_is_hashed_and_matched_in_memory(partner_client: tuple[ApiClient, str], banks: Any) -> None:
    _, token = partner_client
    data = make_image("png", 2, size=(320, 240))  # a pattern of PDQ quality 100
    hashed = pdq.hash_image_bytes(data)
    Entry.objects.create(bank=banks[0], signal_type="pdq", value=hashed.hex, verdict="national",
                         added_at=timezone.now())
    bump_version()
    upload = io.BytesIO(data)
    upload.name = "pattern.png"
    response = Client().post("/api/v1/hashes/match-file", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {token}")
    body = response.json()
    assert response.status_code == 200 and body["pdq"] == hashed.hex and body["size"] == len(data)
    assert any(m["signal_type"] == "pdq" and m["distance"] == 0 for r in body["results"] for m in r["matches"])


def test_oversized_requests_get_the_documented_413(partner_client: tuple[ApiClient, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = partner_client
    monkeypatch.setattr("hotline.hashes.api.MAX_LOOKUPS", 1)
    monkeypatch.setattr("hotline.hashes.api.MAX_UPLOAD", 3)
    response = _post(token, "/hashes/lookup", {"hashes": [{"signal_type": "md5", "value": MD5}] * 2})
    assert response.status_code == 413 and "at most 1" in response.json()["detail"]
    upload = io.BytesIO(b"four")
    upload.name = "four.bin"
    response = Client().post("/api/v1/hashes/match-file", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 413 and "detail" in response.json()
    paths = Client().get("/api/openapi.json").json()["paths"]
    assert "413" in paths["/api/v1/hashes/lookup"]["post"]["responses"]
    assert "413" in paths["/api/v1/hashes/match-file"]["post"]["responses"]


SIGNAL_FILE = "pdq " + "c" * 64 + "\nmd5 " + "d" * 32 + "\nsha1 nothex\nfoo " + "e" * 32 + "\n"


def test_import_is_idempotent_and_names_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "list.txt"
    path.write_text(SIGNAL_FILE)
    call_command("hashes", "import", "partner A", str(path), "--format", "signal", "--quiet")
    out = capsys.readouterr()
    assert "2 added, 0 already there, 2 errors" in out.out
    assert "line 3: field 'value'" in out.err and "line 4: field 'signal_type'" in out.err
    call_command("hashes", "import", "partner A", str(path), "--format", "signal", "--quiet")
    assert "0 added, 2 already there" in capsys.readouterr().out
    assert Entry.objects.count() == 2


def test_export_round_trips_through_import(tmp_path: Path, banks: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("csv", "vics"):
        out = tmp_path / f"own.{fmt}"
        call_command("hashes", "export", "shared", "--format", fmt, "--out", str(out))
        call_command("hashes", "import", f"copy-{fmt}", str(out), "--format", fmt, "--quiet")
        copy = Bank.objects.get(name=f"copy-{fmt}")
        assert list(copy.entries.values_list("signal_type", "value")) == [("md5", MD5)], fmt
        if fmt == "vics":
            assert copy.entries.get().classification == "1" and copy.entries.get().scheme == "vics-us"
    capsys.readouterr()


def test_a_signal_file_export_leaves_out_md5_and_says_so(
    tmp_path: Path, banks: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "own.txt"
    call_command("hashes", "export", "shared", "--format", "signal", "--out", str(out))
    assert out.read_text() == ""  # the hash-exchange tooling's reader would drop an md5 line silently
    assert "left out 1 md5 hashes" in capsys.readouterr().err


def test_a_uk_vics_list_keeps_its_categories_unmapped_and_an_unknown_numbering_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for numbering, value in (("UK", "a" * 32), ("ZZ", "b" * 32)):
        path = tmp_path / f"{numbering}.json"
        path.write_text('{"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/'
                        f'{numbering}/$metadata#Media", "value": [{{"MediaID": 1, "Category": 1, "MD5": "{value}"}}]}}')
        call_command("hashes", "import", f"list-{numbering}", str(path), "--format", "vics", "--quiet",
                     "--scheme", "vics-us")
    uk, zz = Entry.objects.get(value="a" * 32), Entry.objects.get(value="b" * 32)
    assert (uk.classification, uk.scheme, uk.verdict) == ("1", "vics-uk", "")  # never through the US table
    assert (zz.classification, zz.scheme, zz.verdict) == ("1", "vics-us", "national")  # the operator named it
    output = capsys.readouterr()
    assert "UK numbering, kept under scheme vics-uk" in output.out
    assert "the scheme given (vics-us) was not used" in output.err


def test_match_file_with_dihedral_finds_a_rotated_copy(partner_client: tuple[ApiClient, str], banks: Any) -> None:
    import numpy as np
    from PIL import Image

    _, token = partner_client
    data = make_image("png", 1, size=(320, 320))  # shapes, PDQ quality 75; 320x320: turns hash exactly
    Entry.objects.create(bank=banks[0], signal_type="pdq", value=pdq.hash_image_bytes(data).hex,
                         verdict="national", added_at=timezone.now())
    bump_version()
    with Image.open(io.BytesIO(data)) as image:
        turned = Image.fromarray(np.ascontiguousarray(np.rot90(np.asarray(image.convert("RGB")), 1)))
    out = io.BytesIO()
    turned.save(out, "PNG")

    def match(dihedral: bool) -> Any:
        upload = io.BytesIO(out.getvalue())
        upload.name = "turned.png"
        suffix = "?dihedral=true" if dihedral else ""
        response = Client().post(f"/api/v1/hashes/match-file{suffix}", {"file": upload},
                                 HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200
        return response.json()

    plain = match(False)
    assert not any(r["matches"] for r in plain["results"]) and plain["pdq_dihedral"] is None
    body = match(True)
    found = [(r["transform"], m["distance"]) for r in body["results"] for m in r["matches"]]
    assert found == [("rotate_270", 0)]  # turning the upload back by 270 degrees gives the listed image
    assert list(body["pdq_dihedral"]) == list(pdq.DIHEDRAL) and body["pdq_dihedral"]["original"] == body["pdq"]


def test_match_file_refuses_a_query_parameter_it_does_not_know(partner_client: tuple[ApiClient, str],
                                                               banks: Any) -> None:
    """``?bank=`` for ``?banks=`` must not quietly look up every shared bank: 422, naming the parameter."""
    _, token = partner_client

    def post(query: str) -> Any:
        upload = io.BytesIO(b"not an image")
        upload.name = "file.bin"
        return Client().post(f"/api/v1/hashes/match-file{query}", {"file": upload},
                             HTTP_AUTHORIZATION=f"Bearer {token}")

    refused = post(f"?bank={banks[0].name}")
    assert refused.status_code == 422
    assert [(issue["loc"], issue["type"]) for issue in refused.json()["detail"]] == [
        (["query", "bank"], "extra_forbidden")]
    assert post(f"?banks={banks[0].name}&dihedral=false").status_code in (200, 404)  # the declared ones still work
