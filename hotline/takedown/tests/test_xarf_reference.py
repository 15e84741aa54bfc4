"""Our XARF notices and our validator against the official XARF v4 schema files, unchanged, as published
(``../shared/reference/xarf-v4/`` beside the repository: reference data for tests, never read by the
product). Two independent validators judge for the official side: ``jsonschema`` with every format check
it can make here, and ``jsonschema_rs`` with its own format checks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource

from hotline.sim.smtp import SmtpSink
from hotline.takedown import xarf
from hotline.takedown.tests.conftest import MakeTraced
from hotline.takedown.tests.test_notices import HOUR, _send_all
from hotline.tracing.models import AbuseContact

CSAM_TYPE = "types/content-csam.json"
MASTER = "xarf-v4-master.json"
# The repository, then every folder above it: CI puts shared/ beside the clone, a worktree sits deeper.
_CANDIDATES = [parent / "shared" / "reference" / "xarf-v4" for parent in Path(__file__).resolve().parents]
OFFICIAL = next((path for path in _CANDIDATES if (path / MASTER).is_file()), None)
pytestmark = pytest.mark.skipif(OFFICIAL is None, reason="shared/reference/xarf-v4 is not beside the repository")

# (what the probe is, domain value, tags): each is judged by the official files and by ours.
DOMAIN_PROBES = [
    ("plain host", "www.pics.example", True),
    ("IDN in A-label form", "xn--bcher-kva.example", False),
    ("punycode TLD", "shop.xn--zckzah", False),
    ("IPv4 literal", "198.51.100.7", False),
    ("IPv6 literal", "2001:db8::7", False),
    ("single-label host", "intranet", False),
    ("upper case", "Pics.Example", False),
    ("trailing dot", "pics.example.", False),
    ("hyphenated labels", "my-pics.sim-host.example", True),
    ("digits in a label", "img2.cdn9.example", True),
]
TAG_PROBES = [
    ("our verdict tag", "verdict:not_illegal", True),
    ("our notice tag", "notice:6f3f5a4e-2a55-4a0e-9b0d-6b7a1f0e4c11", True),
    ("dot in the predicate", "host:pics.example", False),
    ("upper case", "Verdict:baseline", False),
    ("no namespace", "baseline", False),
    ("plus sign", "language:c++", True),
    ("empty predicate", "verdict:", False),
]


def _official_resources() -> list[tuple[str, dict[str, Any]]]:
    assert OFFICIAL is not None
    found = []
    for path in sorted(OFFICIAL.rglob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if "$id" in schema:
            found.append((schema["$id"], schema))
    return found


def _official_validators() -> list[Callable[[dict[str, Any]], list[str]]]:
    """Both reference validators, each for the master schema and for the content-csam type schema."""
    resources = _official_resources()
    by_id = dict(resources)
    base = "https://xarf.org/schemas/v4/"
    registry: Registry[Any] = Registry().with_resources(
        [(uri, Resource.from_contents(schema)) for uri, schema in resources])
    rs_registry = jsonschema_rs.Registry(resources)
    checks: list[Callable[[dict[str, Any]], list[str]]] = []
    for name in (MASTER, CSAM_TYPE):
        schema = by_id[base + name]
        python = Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
        rust = jsonschema_rs.validator_for(schema, registry=rs_registry, validate_formats=True)
        checks.append(_messages(python))
        checks.append(_messages(rust))
    return checks


def _messages(validator: Any) -> Callable[[dict[str, Any]], list[str]]:
    return lambda document: [error.message for error in validator.iter_errors(document)]


@pytest.fixture(scope="module")
def official() -> Callable[[dict[str, Any]], list[str]]:
    validators = _official_validators()

    def errors(document: dict[str, Any]) -> list[str]:
        return [message for check in validators for message in check(document)]

    return errors


GOOD: dict[str, Any] = {
    "xarf_version": "4.0.0", "report_id": "6f3f5a4e-2a55-4a0e-9b0d-6b7a1f0e4c11",
    "timestamp": "2026-01-02T03:04:05Z", "category": "content", "type": "csam",
    "reporter": {"org": "Hotline", "contact": "h@hotline.example", "domain": "hotline.example"},
    "sender": {"org": "Hotline", "contact": "h@hotline.example", "domain": "hotline.example"},
    "source_identifier": "198.51.100.7", "url": "http://www.pics.example/x", "classification": "baseline",
    "detection_method": "manual_review",
}


def test_the_official_sample_passes_both_reference_validators_and_ours(official: Any) -> None:
    assert OFFICIAL is not None
    sample = json.loads((OFFICIAL / "sample-content-csam.json").read_text(encoding="utf-8"))
    assert official(sample) == []
    assert xarf.errors(sample) == []
    assert official(GOOD) == [] and xarf.errors(GOOD) == []


@pytest.mark.parametrize(("probe", "domain", "valid"), DOMAIN_PROBES, ids=[p[0] for p in DOMAIN_PROBES])
def test_it_accepts_and_refuses_a_domain_exactly_as_the_official_schemas_do(
    official: Any, probe: str, domain: str, valid: bool
) -> None:
    document = {**GOOD, "domain": domain}
    assert (official(document) == []) is valid, official(document)
    assert (xarf.errors(document) == []) is valid, xarf.errors(document)
    assert xarf.sendable_domain(domain) is valid


@pytest.mark.parametrize(("probe", "tag", "valid"), TAG_PROBES, ids=[p[0] for p in TAG_PROBES])
def test_it_accepts_and_refuses_a_tag_exactly_as_the_official_schemas_do(
    official: Any, probe: str, tag: str, valid: bool
) -> None:
    document = {**GOOD, "tags": ["verdict:baseline", tag]}
    assert (official(document) == []) is valid, official(document)
    assert (xarf.errors(document) == []) is valid, xarf.errors(document)


def test_our_schema_files_keep_every_validation_keyword_of_the_official_ones() -> None:
    """Ours may drop annotations (``examples``, descriptions); every keyword that validates is the same."""
    assert OFFICIAL is not None
    annotations = {"examples", "description", "title", "x-recommended", "$comment"}

    def keywords(node: Any) -> Any:
        if isinstance(node, dict):
            # A property may be named like an annotation ("description"): its value is a schema, a dict.
            return {k: keywords(v) for k, v in node.items() if k not in annotations or isinstance(v, dict)}
        if isinstance(node, list):
            return [keywords(v) for v in node]
        return node

    for name in ("xarf-core.json", "types/content-base.json", CSAM_TYPE):
        ours = json.loads((xarf.SCHEMA_DIR / name).read_text(encoding="utf-8"))
        theirs = json.loads((OFFICIAL / name).read_text(encoding="utf-8"))
        assert keywords(ours) == keywords(theirs), name


def test_a_probe_refused_for_its_hashes_or_classification_is_refused_by_both(official: Any) -> None:
    for change in ({"classification": "national"}, {"hash_values": {"sha256": "xyz"}},
                   {"report_id": "not-a-uuid"}, {"xarf_version": "5.0.0"}, {"media_type": "photo"}):
        document = {**copy.deepcopy(GOOD), **change}
        assert official(document) != [], change
        assert xarf.errors(document) != [], change


HOSTS = {  # URL -> whether its host can be named in the domain field
    "http://www.pics.sim.test/a/1": True,
    "http://xn--bcher-kva.sim.test/page": False,
    "http://shop.xn--zckzah/page": False,
    "http://198.51.100.20/page": False,
    "http://[2001:db8::20]/page": False,
}


@pytest.mark.django_db
def test_every_generated_notice_passes_the_official_schemas_and_leaves_out_an_inexpressible_domain(
    official: Any, contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, make_media: Any
) -> None:
    now = timezone.now()
    items = {url: traced_item(contact, url=url, due=now, verdict="national" if n % 2 else "baseline")
             for n, url in enumerate(HOSTS)}
    for n, item in enumerate(items.values()):
        make_media(item, seed=10 + n)
    _send_all(now + 2 * HOUR)
    [received] = smtp.wait_for(1)
    [raw] = received.attachments().values()
    documents = json.loads(raw)
    assert len(documents) == len(HOSTS)
    for document in documents:
        assert official(document) == [], document
        assert xarf.errors(document) == [], document
    by_url = {d["url"]: d for d in documents}
    for url, item in items.items():
        document = by_url[item.canonical_url]
        assert ("domain" in document) is HOSTS[url], document
        assert document["source_identifier"]
