"""The managers' statistics dashboard: filters in the URL, tables, server-drawn SVG charts, CSV/JSON export."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.assessment.codes import AgeGroup, ContentType, SiteType, Verdict
from hotline.audit.services import Actor
from hotline.lib import numbers
from hotline.reports.models import Source
from hotline.stats import annual, charts, pdf, services, tasks, transparency
from hotline.stats.filters import FilterError, Filters, parse_filters
from hotline.stats.tables import CHANGE, COUNT, TEXT, Table, as_csv, as_json, display_rows, show

FORMATS = ("html", "csv", "json")


def _bad_request(request: HttpRequest, message: str, fmt: str) -> HttpResponse:
    if fmt == "json":
        return JsonResponse({"error": message}, status=400)
    if fmt == "csv":
        return HttpResponse(message + "\n", status=400, content_type="text/plain; charset=utf-8")
    return render(request, "stats/dashboard.html", {"error": message, "choices": _choices()}, status=400)


@require_GET
@role_required(Role.MANAGER)
def dashboard(request: HttpRequest) -> HttpResponse:
    """GET only. ``?format=csv|json`` exports (``&table=<name>`` for one table); the rest are filters."""
    fmt = request.GET.get("format", "html")
    if fmt not in FORMATS:
        return _bad_request(request, f"format: unknown value {fmt!r} (choose from {', '.join(FORMATS)})", "html")
    now = timezone.now()
    try:
        filters = parse_filters(dict(request.GET.lists()), today=now.date())
        names = [n for n in request.GET.get("table", "").split(",") if n] or None
        found = services.tables(filters, now=now, names=names)
    except (FilterError, services.UnknownTable) as exc:
        return _bad_request(request, str(exc), fmt)
    if fmt == "json":
        return _json(filters, found)
    if fmt == "csv":
        return _csv(filters, found)
    return render(request, "stats/dashboard.html", _context(filters, found))


def _download_name(filters: Filters, found: list[Table], extension: str) -> str:
    label = found[0].name if len(found) == 1 else "statistics"
    return f"{label}-{filters.first.isoformat()}-{filters.last.isoformat()}.{extension}"


def _json(filters: Filters, found: list[Table]) -> HttpResponse:
    as_of, count = services.facts_as_of()
    body = {"filters": filters.as_dict(), "facts": {"oldest_refresh": as_of.isoformat() if as_of else None,
                                                    "items": count},
            "tables": {table.name: as_json(table) for table in found}}
    response = HttpResponse(json.dumps(body, ensure_ascii=False, indent=1), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(filters, found, "json")}"'
    return response


def _csv(filters: Filters, found: list[Table]) -> HttpResponse:
    response = HttpResponse(as_csv(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(filters, found, "csv")}"'
    return response


def _data_uri(svg: str) -> str:
    """Charts go in as images: the page's CSP forbids inline styles, which an image document may keep."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


CHARTS = ("monthly", "timings", "countries")  # each drawn from the table of the same name


def chart_titles() -> dict[str, str]:
    return {"monthly": _("Reports and illegal items per month"),
            "timings": _("Share reached within 24 h, 3 days and 7 days"),
            "countries": _("Top hosting countries of illegal items")}


# The page's text is about 1,020 px wide: a chart drawn that wide (at 96 px an inch) is shown at its own size.
CHART_WIDTH, CHART_HEIGHT = 10.5, 3.4


def _charts(found: dict[str, Table]) -> list[dict[str, str]]:
    titles = chart_titles()
    return [{"name": kind, "title": titles[kind], "description": charts.describe(kind, found[kind]),
             "src": _data_uri(charts.svg(kind, found[kind], titles[kind], width=CHART_WIDTH, height=CHART_HEIGHT))}
            for kind in CHARTS if kind in found and found[kind].rows]


def _choices() -> dict[str, Any]:
    return {"source": Source.choices, "verdict": Verdict.choices, "content_type": ContentType.choices,
            "age_group": AgeGroup.choices, "site_type": SiteType.choices}


# Tables of a few narrow columns sit two to a row; the others take the page's width.
NARROW = frozenset({"illegal_share", "monthly", "countries", "verdicts", "content_types", "age_groups", "site_types",
                    "sources", "dismissals"})


def _for_people(table: Table) -> Table:
    """The table without its machine-code column (``key``): the label beside it says the same in words."""
    return replace(table, columns=[column for column in table.columns if column.key != "key"])


def _cells(table: Table) -> list[list[dict[str, Any]]]:
    numeric = [column.kind != TEXT for column in table.columns]
    return [[{"text": text, "num": num} for text, num in zip(row, numeric, strict=True)] for row in display_rows(table)]


def comparison(previous: int | None, change: float | None) -> str:
    """How a figure compares with the same days a year earlier, in words: never "0 (-)"."""
    if previous is None:
        return _("no data a year earlier")
    if change is None:
        return _("a year earlier: %(previous)s") % {"previous": show(previous, COUNT)}
    return _("a year earlier: %(previous)s (%(change)s)") % {"previous": show(previous, COUNT),
                                                             "change": show(change, CHANGE)}


def _cards(headline: Table | None) -> list[dict[str, str]]:
    if headline is None:
        return []
    return [{"label": str(row["metric"]), "key": row["key"], "value": show(row["value"], COUNT),
             "comparison": comparison(row["previous"], row["change"])} for row in headline.rows]


def _context(filters: Filters, found: list[Table]) -> dict[str, Any]:
    by_name = {table.name: table for table in found}
    as_of, count = services.facts_as_of()
    return {
        "filters": filters, "choices": _choices(), "charts": _charts(by_name), "as_of": as_of,
        "fact_count": numbers.count(count),
        "tables": [{"table": t, "rows": _cells(t), "csv": filters.query(format="csv", table=t.name),
                    "narrow": t.name in NARROW} for t in map(_for_people, found)],
        "cards": _cards(by_name.get("headline")),
        "json_query": filters.query(format="json"), "csv_query": filters.query(format="csv"),
        "selected": {name: ",".join(str(v) for v in values) for name, values in filters.dimensions().items()},
    }


# ------------------------------------------------------------------ transparency report (DSA Art. 22)

TRANSPARENCY_FORMATS = ("html", "csv", "pdf", "document")


@require_GET
@role_required(Role.MANAGER)
def transparency_report(request: HttpRequest) -> HttpResponse:
    """The trusted flagger's report for a period: ``?year=`` or ``?from=&to=``; ``&format=csv|pdf|document``
    (``document``: the self-contained HTML file that the PDF is typeset from)."""
    fmt = request.GET.get("format", "html")
    if fmt not in TRANSPARENCY_FORMATS:
        return HttpResponse(f"format: unknown value {fmt!r} (choose from {', '.join(TRANSPARENCY_FORMATS)})\n",
                            status=400, content_type="text/plain; charset=utf-8")
    now = timezone.now()
    try:
        filters = parse_filters({k: v for k, v in request.GET.lists() if k in ("year", "quarter", "from", "to")},
                                today=now.date())
    except FilterError as exc:
        return HttpResponse(str(exc) + "\n", status=400, content_type="text/plain; charset=utf-8")
    found = transparency.tables(filters, now=now)
    stem = f"transparency-report-{filters.first.isoformat()}-{filters.last.isoformat()}"
    if fmt == "csv":
        response = HttpResponse(as_csv(found), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
        return response
    context = {"filters": filters, "generated_at": now, "organisation": settings.HOTLINE_ORGANISATION,
               "tables": [{"table": t, "rows": _cells(t)} for t in map(_for_people, found)],
               "query": filters.query()}
    if fmt == "html":
        return render(request, "stats/transparency.html", context)
    document = render_to_string("stats/transparency_report.html", context, request=request)
    if fmt == "document":
        response = HttpResponse(document, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.html"'
        return response
    try:
        typeset = pdf.render(document)
    except pdf.PdfUnavailable as exc:
        return HttpResponse(str(exc) + "\n", status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(typeset.write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{stem}.pdf"'
    return response


# ------------------------------------------------------------------ the annual report, made as a one-off job

_REPORT_FILE = re.compile(r"^annual-report-\d{4}-(nl|fr|en)\.(pdf|html)$")
JOB_WORDS = {"READY": _lazy("waiting for the worker"), "RUNNING": _lazy("being typeset"),
             "SUCCESSFUL": _lazy("done"), "FAILED": _lazy("failed")}


def _editions() -> list[dict[str, Any]]:
    folder = tasks.reports_dir()
    found = [path for path in folder.glob("annual-report-*") if _REPORT_FILE.match(path.name)] \
        if folder.is_dir() else []
    return [{"name": path.name, "size": path.stat().st_size,
             "made": datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)}
            for path in sorted(found, key=lambda p: p.name, reverse=True)]


def _job(job_id: str) -> dict[str, Any] | None:
    """The status of a job started from this page (None when the backend keeps no results, or it is unknown)."""
    try:
        result = tasks.make_annual_report.get_result(job_id)
    except Exception:  # (no result store, a foreign id, or a malformed one: nothing to show)
        return None
    status = str(getattr(result.status, "name", result.status))
    return {"id": job_id, "status": status, "words": JOB_WORDS.get(status, status),
            "files": result.return_value if status == "SUCCESSFUL" else None}


@role_required(Role.MANAGER)
def annual_reports(request: HttpRequest) -> HttpResponse:
    """GET: the editions made so far and the form to make one (``?file=<name>`` downloads one); POST: start
    making one (a one-off job)."""
    if request.method == "GET" and request.GET.get("file"):
        return _edition_file(request.GET["file"])
    now = timezone.now()
    years = list(range(now.year, now.year - 6, -1))
    error = ""
    if request.method == "POST":
        try:
            year, language = int(request.POST.get("year", "")), request.POST.get("language", "")
            job = services.request_annual_report(year, language, actor=Actor.of_user(current_user(request)),
                                                 now=now)
        except ValueError as exc:
            error = str(exc)
        else:
            return redirect(f"{reverse('stats:annual')}?job={job}")
    job_id = request.GET.get("job", "")
    return render(request, "stats/annual_reports.html", {
        "years": years, "languages": [(code, name) for code, name in settings.LANGUAGES if code in annual.LANGUAGES],
        "editions": _editions(), "job": _job(job_id) if job_id else None, "error": error,
        "pdf_ready": pdf.available()}, status=400 if error else 200)


def _edition_file(name: str) -> HttpResponse:
    """One edition as a download (a report is a few hundred kilobytes: read at once)."""
    path = tasks.reports_dir() / name
    if not _REPORT_FILE.match(name) or not path.is_file():
        raise Http404("no such report")
    kind = "application/pdf" if name.endswith(".pdf") else "text/html; charset=utf-8"
    response = HttpResponse(path.read_bytes(), content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
