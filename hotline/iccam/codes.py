"""Our assessment vocabulary in ICCAM's codes, through the one table ``IccamCode``.

The table is seeded as the reference client seeds it (reference/ICCAM.md §4.4; migration 0002), with our
code beside each ICCAM id; ``services.store_codes`` refreshes the names (and adds new ids) from ICCAM's reference
endpoints. Payloads are built only from the table, so a hotline can re-map a code without a release.
"""

from __future__ import annotations

from typing import Any

from hotline.iccam.models import CodeField, IccamCode

# What is sent when our code has no row: the reference client's defaults.
DEFAULTS: dict[str, int] = {CodeField.CLASSIFICATION: 4, CodeField.AGE: 1, CodeField.GENDER: 1, CodeField.SITE_TYPE: 2,
            CodeField.COMMERCIALITY: 1, CodeField.REASON: 1}
# ICCAM classification ids that mean "illegal" / "not illegal" when read back
BASELINE_ID, IGNORE_ID = 1, 4
FINAL_ACTION_TYPES = frozenset({3, 4, 6})


class Table:
    """The code table read once (per worker step), when first asked (a step with nothing to write reads
    nothing): our code -> ICCAM id and back, per field."""

    def __init__(self) -> None:
        self._loaded = False
        self._to_map: dict[tuple[str, str], int] = {}
        self._from_map: dict[tuple[str, int], str] = {}

    def _load(self) -> None:
        self._loaded = True
        for field, iccam_id, our in IccamCode.objects.values_list("field", "iccam_id", "our_code"):
            if our:
                self._to_map[(field, our)] = iccam_id
                self._from_map[(field, iccam_id)] = our

    @property
    def _to(self) -> dict[tuple[str, str], int]:
        if not self._loaded:
            self._load()
        return self._to_map

    @property
    def _from(self) -> dict[tuple[str, int], str]:
        if not self._loaded:
            self._load()
        return self._from_map

    def iccam(self, field: str, our_code: str) -> int:
        return self._to.get((field, our_code), DEFAULTS.get(field, 1))

    def ours(self, field: str, iccam_id: int | None) -> str:
        return self._from.get((field, iccam_id or 0), "")

    def has(self, field: str, our_code: str) -> bool:
        return (field, our_code) in self._to


def assessment_body(table: Table, row: Any, *, analyst: str) -> dict[str, Any]:
    """``PUT rest/Content/{id}/assessment`` for one judged file (a ``MediaAssessment``, or the item's
    ``Assessment`` when no file was judged). Not-illegal files go as Ignore with undetermined age and gender."""
    illegal = row.verdict in ("baseline", "national")
    return {
        "assessingAnalystName": analyst,
        "classification": table.iccam(CodeField.CLASSIFICATION, row.verdict if illegal else "not_illegal"),
        "ageCategorization": table.iccam(CodeField.AGE, row.age_group if illegal else ""),
        "genderCategorization": table.iccam(CodeField.GENDER, row.gender if illegal else ""),
        "virtualContentCategorization": int(illegal and row.is_virtual),
        "userGeneratedContentCategorization": int(illegal and row.is_self_generated),
        "childModelingCategorization": int(illegal and row.is_child_modelling),
    }
