"""The one code table: seeded from the reference, reloaded from ICCAM's reference endpoints, used for payloads."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.iccam.codes import Table, assessment_body
from hotline.iccam.models import CodeField, IccamCode
from hotline.iccam.services import load_codes
from hotline.sim.iccam import CODES, SimIccam

pytestmark = pytest.mark.django_db


def test_the_seed_maps_our_codes_to_icca_ms() -> None:
    table = Table()
    assert table.iccam(CodeField.CLASSIFICATION, "baseline") == 1
    assert table.iccam(CodeField.CLASSIFICATION, "not_illegal") == 4
    assert table.iccam(CodeField.AGE, "infant_toddler") == 2
    assert table.iccam(CodeField.REASON, "content_not_found") == 2
    assert table.iccam(CodeField.REASON, "no-such-reason") == 1  # the reference client's default: Other


def test_it_reloads_names_and_new_ids_from_the_reference_endpoints_and_keeps_our_codes(iccam_on: SimIccam) -> None:
    CODES["classifications"] = [*CODES["classifications"], (5, "Reserved for tests")]
    IccamCode.objects.filter(field=CodeField.CLASSIFICATION, iccam_id=2).update(name="old name")
    try:
        changed = load_codes()
    finally:
        CODES["classifications"] = CODES["classifications"][:-1]
    assert changed == 2 + 4  # national renamed, id 5 new, and four payment methods the seed leaves out
    national = IccamCode.objects.get(field=CodeField.CLASSIFICATION, iccam_id=2)
    assert (national.name, national.our_code) == ("National CSAM", "national")
    assert IccamCode.objects.get(field=CodeField.CLASSIFICATION, iccam_id=5).our_code == ""
    assert iccam_on.calls["GET rest/action-types"] == 1


def test_a_remapped_code_changes_what_is_sent(db: Any) -> None:
    IccamCode.objects.filter(field=CodeField.GENDER, our_code="both").update(our_code="")
    IccamCode.objects.filter(field=CodeField.GENDER, iccam_id=1).update(our_code="both")

    class Row:
        verdict, age_group, gender = "national", "pubescent", "both"
        is_virtual = is_self_generated = is_child_modelling = False

    body = assessment_body(Table(), Row(), analyst="api")
    assert (body["classification"], body["ageCategorization"], body["genderCategorization"]) == (2, 4, 1)
