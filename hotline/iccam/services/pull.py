"""Pull: ICCAM's content without our reference becomes reports of ours, each exactly once.

1. list ``rest/Content/no-reference`` (bounded by ``maxResults`` and a look-back window);
2. per ICCAM report with items we do not know yet: read the report and those items, then store them as one
   report of ours *together with* their ICCAM ids (``writes.import_report``, one transaction; the unique
   content id makes a second import impossible);
3. write our hotline reference back for every listed item, new or already known: that takes it off the list.

A crash before 2 commits leaves nothing behind and the items are listed again; a crash between 2 and 3
leaves them known but still listed, so the next run only writes the reference (the same value). The list
itself is the queue, so nothing is skipped: the look-back window only bounds how far back it reaches.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from hotline.iccam import conf
from hotline.iccam.client import IccamError, IccamSession, kept_session
from hotline.iccam.models import Content
from hotline.iccam.services import writes

log = logging.getLogger("hotline.iccam")
PULL_LEASE = timedelta(minutes=10)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_ROUNDS = 20  # lists per pull: each round takes its items off the list


def pull_due(*, now: datetime) -> bool:
    """Once per ``HOTLINE_ICCAM_PULL_SECONDS``: import ICCAM's unreferenced content, write our reference back.
    False when the connector is off, another worker holds the pull, its minute has not come or ICCAM asked
    us to wait."""
    config = conf.config()
    if config is None or not writes.claim_pull(now=now, interval=conf.pull_interval(), lease=PULL_LEASE):
        return False
    since = now - conf.lookback()
    try:
        with kept_session(config) as session:
            imported = pull(session, now=now, since=since)
    except IccamError as exc:
        if exc.retry_after:
            writes.pause(now=now, seconds=exc.retry_after)
        writes.finish_pull(now=now, since=since, error=str(exc))
        log.warning("ICCAM pull: %s", exc)
        return True
    except Exception as exc:
        writes.finish_pull(now=now, since=since, error=f"{type(exc).__name__}: {exc}")
        raise
    writes.finish_pull(now=now, since=since)
    log.info("ICCAM pull: %d new items", imported)
    return True


def pull(session: IccamSession, *, now: datetime, since: datetime) -> int:
    """Drain the no-reference list. Returns how many new items were imported."""
    imported = 0
    for _round in range(MAX_ROUNDS):
        listed = session.get("rest/Content/no-reference", maxResults=session.config.max_results,
                             countryAssignmentStartDate=since.strftime(DATE_FORMAT)) or []
        new, referenced = _one_round(session, listed, now=now)
        imported += new
        if len(listed) < session.config.max_results or referenced == 0:
            break
    return imported


def _one_round(session: IccamSession, listed: list[dict[str, int]], *, now: datetime) -> tuple[int, int]:
    if not listed:  # the usual round: nothing new (an empty IN () would ask the database nothing either)
        return 0, 0
    by_report: dict[int, list[int]] = defaultdict(list)
    for entry in listed:
        by_report[int(entry["reportId"])].append(int(entry["contentId"]))
    known = set(Content.objects.filter(content_id__in=[c for ids in by_report.values() for c in ids])
                .values_list("content_id", flat=True))
    imported = referenced = 0
    for report_id, content_ids in by_report.items():
        fresh = [c for c in content_ids if c not in known]
        if fresh:
            report = session.get(f"rest/Reports/{report_id}")
            if not report or not report.get("reportContents"):
                log.info("ICCAM report %s has no contents yet: tried again next time", report_id)
                continue
            contents = [session.get(f"rest/Content/{c}") for c in fresh]
            imported += len(writes.import_report(report, contents, now=now))
        referenced += sum(_write_reference(session, c, now=now) for c in content_ids)
    return imported, referenced


def _write_reference(session: IccamSession, content_id: int, *, now: datetime) -> int:
    reference = writes.reference_for(content_id)
    if not reference:
        return 0
    try:
        session.put(f"rest/Content/{content_id}/hotline-reference", reference=reference)
    except IccamError as exc:
        if not exc.refused:
            raise  # ICCAM is unavailable: the whole pull stops and the item is listed again next time
        writes.referenced(content_id, now=now, error=str(exc))
        return 0
    writes.referenced(content_id, now=now, reference=reference)
    return 1
