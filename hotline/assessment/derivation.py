"""The item's verdict follows from its media: one rule, used by the services, the form and the page.

Any illegal file makes the page illegal and the most severe verdict wins (baseline > national >
other harm > not illegal > unreachable); a page whose files are all not illegal is not illegal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from hotline.assessment.codes import Verdict

SEVERITY: dict[str, int] = {
    Verdict.BASELINE: 5, Verdict.NATIONAL: 4, Verdict.OTHER_HARM: 3, Verdict.NOT_ILLEGAL: 2, Verdict.UNREACHABLE: 1,
}
# What one image or video can be; "unreachable" and "other harm" describe the whole page.
MEDIA_VERDICTS = (Verdict.BASELINE, Verdict.NATIONAL, Verdict.NOT_ILLEGAL)
ITEM_ONLY_VERDICTS = frozenset({Verdict.UNREACHABLE, Verdict.OTHER_HARM})


class HasVerdict(Protocol):
    @property
    def verdict(self) -> str: ...


R = TypeVar("R", bound=HasVerdict)


def item_verdict(verdicts: Iterable[str]) -> str:
    """The most severe of ``verdicts``; "" when there are none."""
    return max(verdicts, key=lambda v: SEVERITY.get(v, 0), default="")


def deciding(rows: Sequence[R]) -> R | None:
    """The first row with the most severe verdict: its codes describe the item in tables and statistics."""
    best = item_verdict(r.verdict for r in rows)
    return next((r for r in rows if r.verdict == best), None)
