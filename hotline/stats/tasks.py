"""One-off statistics jobs: the annual report's PDF takes longer than a page request should (WeasyPrint sets
a dozen pages, twice if the last one comes out nearly empty), so a manager starts it and downloads it later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from hotline.stats import annual


def reports_dir() -> Path:
    return Path(settings.HOTLINE_REPORTS_DIR)


@task()
def make_annual_report(year: int, language: str) -> dict[str, Any]:
    """Write ``annual-report-<year>-<language>.html`` and ``.pdf`` into HOTLINE_REPORTS_DIR (replacing an
    older edition atomically); returns the two file names."""
    report = annual.build(year, language, now=timezone.now())
    html_path, pdf_path = annual.write(report, reports_dir())
    return {"html": html_path.name, "pdf": pdf_path.name, "year": year, "language": language}
