"""AI-generated and manipulated material: illegal files the analysts marked virtual, per month, and how many of
them the files' own metadata had already flagged (evidence/provenance.py). Definitions: docs/statistics.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.assessment.models import MediaAssessment
from hotline.stats import figures
from hotline.stats.tables import SHARE, TEXT, Column, Table

if TYPE_CHECKING:
    from hotline.stats.figures import Scope




def ai_media(scope: Scope) -> Table:
    """Per month of first report: distinct illegal files, those marked virtual (AI / computer-generated) or
    manipulated by the analyst, and those of the virtual ones whose metadata said so before anyone looked."""
    rows: dict[str, dict[str, Any]] = {
        month: {"month": month, "illegal_media": 0, "virtual": 0, "manipulated": 0, "from_metadata": 0}
        for month in figures._months(scope.filters)}
    files = "media__sha256"
    found = (MediaAssessment.objects.final()
             .filter(verdict__in=ILLEGAL_VERDICTS, media__item_id__in=figures.facts(scope.filters).values("item_id"))
             .annotate(month=TruncMonth("media__item__stats_fact__reported_at")).values("month")
             .annotate(illegal_media=Count(files, distinct=True),
                       virtual=Count(files, distinct=True, filter=Q(is_virtual=True)),
                       manipulated=Count(files, distinct=True, filter=Q(is_manipulated=True)),
                       from_metadata=Count(files, distinct=True, filter=Q(is_virtual=True, media__ai_hint=True)))
             .order_by())
    for row in found:
        key = figures._month_key(row.pop("month"))
        if key in rows:
            rows[key].update(row)
    for row in rows.values():
        row["virtual_share"] = row["virtual"] / row["illegal_media"] if row["illegal_media"] else None
    return Table("ai_media", _("AI-generated and manipulated illegal files per month"), [
        Column("month", _("Month"), TEXT), Column("illegal_media", _("Illegal files")),
        Column("virtual", _("Virtual (AI or computer-generated)")),
        Column("virtual_share", _("Share virtual"), SHARE, basis=("virtual", "illegal_media")),
        Column("manipulated", _("Digitally manipulated")),
        Column("from_metadata", _("Virtual, flagged by the file's metadata")),
    ], list(rows.values()), note=_("Distinct files (SHA-256) in final assessments of items first reported in the "
                                   "month. Metadata flags are hints the analyst confirmed; most generated images "
                                   "carry none after a re-upload."))
