"""The capture partial: the text extract (stored encrypted, shown escaped, links never clickable),
the redirect chain and final URL, and a failed capture said plainly with its next retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from hotline.accounts.models import User
from hotline.evidence.models import Capture
from hotline.evidence.services import CaptureConfig, capture_item
from hotline.reports.models import Item
from hotline.sim.web import SimWeb

pytestmark = pytest.mark.django_db
HOSTILE = """<html><head><title>Title &amp; <i>more</i></title><script>var secret = "SCRIPT-TEXT";</script></head>
<body><h1>Synthetic shop</h1><p>Price &lt;b&gt;10&lt;/b&gt; &amp; <span onclick="x()">more</span></p>
<a href="/page/2">next</a> <a href="javascript:alert(1)">bad</a> <a href="http://elsewhere.sim.test/x?a=1&b=2">out</a>
</body></html>"""


def _partial(capture: Capture | None, user: User) -> str:
    request = RequestFactory().get("/items/1/")
    request.user = user
    request.session = {}  # type: ignore[assignment]
    return render_to_string("evidence/_capture_context.html", {"capture": capture}, request=request)


def test_it_stores_the_text_extract_encrypted(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]
) -> None:
    sim.set_page("blog.sim.test", "/hostile", HOSTILE)
    capture = capture_item(make_item(sim.url("blog.sim.test", "/hostile"), captured=False), config=capture_config)
    capture = Capture.objects.get(pk=capture.pk)
    assert capture.page_title == "Title & more"
    assert "Synthetic shop" in capture.page_text and "SCRIPT-TEXT" not in capture.page_text
    assert capture.link_list == [sim.url("blog.sim.test", "/page/2"), "http://elsewhere.sim.test/x?a=1&b=2"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT page_title, page_text, page_links FROM evidence_capture WHERE id = %s", [capture.pk])
        raw = " ".join(cursor.fetchone())
    assert "Synthetic" not in raw and "elsewhere" not in raw and "Title" not in raw


def test_the_partial_shows_the_text_escaped_and_the_links_as_text_only(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], analyst: User
) -> None:
    sim.set_page("blog.sim.test", "/hostile2", HOSTILE)
    capture = capture_item(make_item(sim.url("blog.sim.test", "/redirect/to?url=/hostile2"), captured=False),
                           config=capture_config)
    html = _partial(capture, analyst)
    assert "Price &lt;b&gt;10&lt;/b&gt; &amp; more" in html and "<b>10</b>" not in html
    assert "<code>http://elsewhere.sim.test/x?a=1&amp;b=2</code>" in html
    assert 'href="http://elsewhere' not in html and "javascript:" not in html
    assert "Redirects" in html and "HTTP 302" in html and sim.url("blog.sim.test", "/hostile2") in html
    assert "HTTP -" not in html and "failed" not in html


def test_staff_without_media_access_see_the_urls_but_not_the_page(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], manager: User
) -> None:
    sim.set_page("blog.sim.test", "/hostile3", HOSTILE)
    capture = capture_item(make_item(sim.url("blog.sim.test", "/hostile3"), captured=False), config=capture_config)
    html = _partial(capture, manager)
    assert capture.final_url in html and "Synthetic shop" not in html and "elsewhere" not in html


def test_a_failed_capture_says_so_with_its_next_retry(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], analyst: User
) -> None:
    now = timezone.now()
    capture = capture_item(make_item(sim.url("blog.sim.test", "/status/503"), captured=False),
                           config=capture_config, now=now)
    html = _partial(capture, analyst)
    assert "failed" in html and "the server answered HTTP 503" in html and "http_503" in html
    assert f"Next automatic retry: {(now + timedelta(minutes=5)):%Y-%m-%d %H:%M}" in html
    assert "HTTP -" not in html and "from -" not in html
    dead = capture_item(make_item(sim.url("blog.sim.test", "/status/404"), captured=False), config=capture_config)
    assert "No further automatic retries." in _partial(dead, analyst)


def test_an_item_not_yet_captured_says_so(analyst: User) -> None:
    assert "Not captured yet" in _partial(None, analyst)


def test_the_partial_speaks_dutch_and_french(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], analyst: User
) -> None:
    from django.utils import translation

    capture = capture_item(make_item(sim.url("blog.sim.test", "/status/404?fr"), captured=False),
                           config=capture_config)
    with translation.override("nl"):
        assert "Vastgelegde pagina" in _partial(capture, analyst) and "Geen verdere" in _partial(capture, analyst)
    with translation.override("fr"):
        assert "Page capturée" in _partial(capture, analyst) and "Plus d'essais" in _partial(capture, analyst)
