"""Screenshots rendered from WARCs: one browser launch per capture against one launch per batch.

    .venv/bin/python bench/screenshot_batch.py [--pages 8] [--browser /usr/bin/chromium]

Captures ``--pages`` small pages of the simulated web into WARCs (in memory), then renders them
with ``evidence.screenshot.render_many``: first one launch per page (the baseline), then all pages
in one launch, as ``screenshot_step`` does. Prints seconds for both and the ratio. No network: the
browser is answered from the WARCs only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--browser", default="/usr/bin/chromium")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    import django

    django.setup()
    from django.utils import timezone

    from hotline.evidence.capture import capture_url
    from hotline.evidence.screenshot import Rendered, render_many
    from hotline.evidence.services.capture import _exchanges
    from hotline.evidence.warc import build_warc
    from hotline.sim.web import SimWeb

    with SimWeb() as sim:
        jobs = []
        for n in range(args.pages):
            result = capture_url(sim.url("gallery.sim.test", f"/page/{n}"), policy=sim.fetch_policy())
            assert result.page is not None
            warc = build_warc("bench.warc.gz", _exchanges(result, "bench"), {}, at=timezone.now())
            jobs.append((warc, result.page.final_url))
        started = time.perf_counter()
        single = [render_many([job], browser=args.browser)[0] for job in jobs]
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        batched = render_many(jobs, browser=args.browser)
        batch = time.perf_counter() - started
    assert all(isinstance(r, Rendered) for r in single + batched), "a render failed"
    print(f"{args.pages} pages, one launch each: {baseline:.2f} s")
    print(f"{args.pages} pages, one launch:      {batch:.2f} s")
    print(f"ratio: {baseline / batch:.1f}x faster per batch")


if __name__ == "__main__":
    main()
