"""Test helpers shared by the push tests: a report pulled from the simulated ICCAM, and the push drained."""

from __future__ import annotations

from typing import Any

from hotline.iccam.models import Content
from hotline.iccam.steps import pull_step, push_step
from hotline.reports.models import Item
from hotline.sim.iccam import SimIccam

URL = "http://site-7.sim.test/img-7.png"


def pulled(sim: SimIccam, **kw: Any) -> tuple[Content, Item]:
    """A report of ``URL`` added to ICCAM and pulled: its content and the item made for it."""
    sim.add_report([URL], **kw)
    pull_step()
    content = Content.objects.get()
    assert content.item is not None
    return content, content.item


def drain(now: Any = None) -> None:
    """Push passes until one finds nothing more to send (at most five)."""
    for _ in range(5):
        if not push_step(now=now):
            break
