"""ICCAM push's finding queries (``push._unreported``, ``push.pending_contents``) name the same rows as their
former formulation, which read the latest trace's country and outcome as two subqueries (three for a move): the
latest trace of each item (newest ``traced_at``, then the highest id), located abroad, with or without the move
already queued."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from hotline.assessment.models import Assessment
from hotline.iccam.codes import FINAL_ACTION_TYPES
from hotline.iccam.models import Content, Origin, Push, PushKind
from hotline.iccam.services import push
from hotline.reports.models import Item, ReportItem, Source
from hotline.routing.models import Referral
from hotline.takedown.models import Takedown
from hotline.tracing.models import Trace, TraceOutcome

pytestmark = pytest.mark.django_db
HOME = "BE"


def _former_unreported(country: str) -> QuerySet[Item]:
    item = OuterRef("pk")
    illegal = Assessment.objects.filter(is_final=True, verdict__in=("baseline", "national")).values("item_id")
    latest = Trace.objects.filter(item=item).order_by("-traced_at", "-pk")
    return (Item.objects.filter(pk__in=illegal)
            .filter(Exists(ReportItem.objects.filter(item=item, report__source__in=push.NATIONAL_SOURCES)))
            .exclude(Exists(ReportItem.objects.filter(item=item, report__source=Source.ICCAM)))
            .exclude(Exists(Content.objects.filter(item=item)))
            .exclude(Exists(Push.objects.filter(item=item, kind=PushKind.REPORT)))
            .annotate(trace_country=Subquery(latest.values("country")[:1]),
                      trace_outcome=Subquery(latest.values("outcome")[:1]))
            .filter(trace_outcome=TraceOutcome.OK).exclude(trace_country__in=("", country))
            .order_by("pk")[:push.BATCH])


def _former_pending(country: str) -> QuerySet[Content]:
    item = OuterRef("item_id")
    finals = Assessment.objects.filter(item=item, is_final=True)
    written = Push.objects.filter(content=OuterRef("pk"))
    latest = Trace.objects.filter(item=item).order_by("-traced_at", "-pk")
    move = Concat(Value("move:"), OuterRef("trace_country"), Value(":"), Cast(OuterRef("content_id"), CharField()))
    referred = Referral.items.through.objects.filter(item_id=item, referral__sent_at__isnull=False)
    noticed = Takedown.objects.filter(item_id=item, first_notice_at__isnull=False)
    removed = Takedown.objects.filter(item_id=item, removed_at__isnull=False)
    ending = finals.filter(verdict__in=("not_illegal", "other_harm", "unreachable"))
    return (Content.objects.filter(item__isnull=False).filter(Exists(finals))
            .exclude(Exists(written.filter(action_type__in=FINAL_ACTION_TYPES)))
            .annotate(trace_country=Subquery(latest.values("country")[:1]),
                      trace_outcome=Subquery(latest.values("outcome")[:1]))
            .filter(Q(Exists(ending)) | Q(Exists(removed))
                    | Q(origin=Origin.PULLED) & ~Q(Exists(written.filter(kind=PushKind.ASSESSMENT)))
                    | Q(Exists(referred)) & ~Q(Exists(written.filter(action_type=push.ACTIONS["to_police"])))
                    | Q(Exists(noticed)) & ~Q(Exists(written.filter(action_type=push.ACTIONS["to_host"])))
                    | Q(trace_outcome=TraceOutcome.OK, assigned_country=country)
                    & ~Q(trace_country__in=("", country)) & ~Q(Exists(written.filter(kind=PushKind.MOVE, dedup=move)))))


def _trace(item: Item, country: str, *, at: Any, outcome: str = TraceOutcome.OK) -> Trace:
    return Trace.objects.create(item=item, traced_at=at, host=item.host, outcome=outcome, country=country,
                                addresses=[{"ip": "198.51.100.7"}])


def _traces(item: Item, case: int) -> None:
    """Case ``case`` of the latest trace: abroad, at home, unknown country, failed, none, abroad then home,
    home then abroad, a tie in time (the higher id wins) either way."""
    t0 = timezone.now() - timedelta(hours=1)
    later = t0 + timedelta(minutes=5)
    shapes: list[list[tuple[str, Any, str]]] = [
        [("NL", t0, "ok")], [(HOME, t0, "ok")], [("", t0, "ok")], [("NL", t0, "failed")], [],
        [("NL", t0, "ok"), (HOME, later, "ok")], [(HOME, t0, "ok"), ("NL", later, "ok")],
        [(HOME, t0, "ok"), ("NL", t0, "ok")], [("NL", t0, "ok"), (HOME, t0, "ok")],
    ]
    for country, at, outcome in shapes[case % len(shapes)]:
        _trace(item, country, at=at, outcome=outcome)


def _push(item: Item, kind: str, dedup: str, content: Content | None = None) -> None:
    Push.objects.create(kind=kind, dedup=dedup, lane=f"c{content.pk}" if content else f"i{item.pk}", item=item,
                        content=content, created_at=timezone.now(), next_attempt_at=timezone.now())


def _content(item: Item, n: int, *, assigned: str = HOME) -> Content:
    return Content.objects.create(content_id=1000 + n, iccam_report_id=77, origin=Origin.PUSHED, item=item,
                                  url=item.canonical_url, assigned_country=assigned, imported_at=timezone.now())


def test_the_finding_queries_name_what_the_former_ones_named(make_item: Any) -> None:
    n = 0

    def item(verdict: str = "baseline", source: str = Source.PUBLIC) -> Item:
        nonlocal n
        n += 1
        made: Item = make_item(f"http://site-{n}.sim.test/page", source)
        Assessment.objects.create(item=made, created_at=timezone.now(), is_final=True, verdict=verdict)
        return made

    for shape in range(9):  # each shape of the latest trace for: a new report; a content item (with its move
        _traces(item(), shape)  # queued or not); a new report that is not to be made (ICCAM's own, not illegal,
        _traces(pushed := item(), shape)  # made already) and a content item assigned to another country
        _content(pushed, n)
        _traces(moved := item(), shape)
        queued = _content(moved, n)
        _push(moved, PushKind.MOVE, f"move:NL:{queued.content_id}", queued)
        _traces(item(source=Source.ICCAM), shape)
        _traces(item("not_illegal"), shape)
        _traces(reported := item(), shape)
        _push(reported, PushKind.REPORT, f"report:{reported.pk}")
        _traces(elsewhere := item(), shape)
        _content(elsewhere, n, assigned="NL")
    unreported = list(push._unreported(HOME).values_list("pk", flat=True))
    pending = list(push.pending_contents(HOME).order_by("pk").values_list("pk", flat=True))
    assert unreported == list(_former_unreported(HOME).values_list("pk", flat=True))
    assert pending == list(_former_pending(HOME).order_by("pk").values_list("pk", flat=True))
    assert len(unreported) == 3 and len(pending) == 3  # the latest trace abroad: shapes 0, 6 and 7 (a tie)
    assert push._found(HOME) == (unreported, pending)
