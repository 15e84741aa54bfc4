"""The main flows in a real browser (Chromium via Playwright, on loopback): sign-in with a second
factor, claim and assess with blurred media, an audited reveal behind re-authentication, second review,
the managers' charts, the public form in Dutch and French, and a provider's signed acknowledgement link.

Each test leaves a screenshot in ``artifacts/screenshots/flow-*.png``. Every URL is on a ``.sim.test``
host, every image a generated pattern, every verdict a label; SMTP, DNS and RDAP are loopback stubs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from hotline.accounts import otp
from hotline.accounts.models import TOTPDevice, User
from hotline.accounts.services import enrol_with_secret
from hotline.assessment.models import Assessment, Kind
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.conftest import PASSWORD
from hotline.core.tests.conftest import save_shot
from hotline.reports.models import Item, ItemStatus, Report

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a test authenticator only
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]

# Reads an <img> back through a canvas: its real size, how far any pixel is from grey, and the mean
# step between neighbouring pixels (a blurred preview is smooth; the sharp pattern is not).
PIXELS = """el => {
  const c = document.createElement('canvas');
  c.width = el.naturalWidth; c.height = el.naturalHeight;
  if (!c.width) return {width: 0, height: 0, colour: 0, edge: 0};
  const g = c.getContext('2d'); g.drawImage(el, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let colour = 0, edge = 0, n = 0;
  for (let i = 0; i < d.length; i += 4) {
    colour = Math.max(colour, Math.abs(d[i] - d[i + 1]), Math.abs(d[i + 1] - d[i + 2]));
    if ((i / 4) % c.width > 0) { edge += Math.abs(d[i] - d[i - 4]); n++; }
  }
  return {width: c.width, height: c.height, colour: colour, edge: edge / n};
}"""


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Every test signs in from 127.0.0.1; the per-address login limit must not carry over."""
    cache.clear()
    yield
    cache.clear()


def shot(tab: Any, name: str) -> None:
    save_shot(tab, f"flow-{name}", full_page=True)


def enrolled(user: User) -> User:
    enrol_with_secret(user, SECRET, actor=SYSTEM)
    return user


def sign_in(tab: Any, user: User) -> None:
    """Password, then the code the authenticator app would show now (the user is enrolled)."""
    tab.goto("/accounts/login/")
    tab.fill("#id_username", user.username)
    tab.fill("#id_password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url("**/accounts/verify/**")
    tab.fill("#id_code", otp.code_at(SECRET, timezone.now()))
    tab.click("#second-factor button[type=submit]")
    tab.wait_for_load_state()
    assert "/accounts/" not in tab.url, tab.url


def pixels(tab: Any, selector: str) -> dict[str, float]:
    image = tab.locator(selector)
    image.wait_for()
    tab.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=image.element_handle())
    measured: dict[str, float] = tab.evaluate(PIXELS, image.element_handle())
    return measured


def events(action: str, user: User) -> int:
    return AuditEvent.objects.filter(action=action, actor_user_id=user.pk).count()


# 1 ---------------------------------------------------------------------------------------------


def test_it_enrols_a_second_factor_on_first_login_and_verifies_it_for_an_enrolled_user(
    page: Any, new_tab: Callable[[], Any], analyst: User, senior: User
) -> None:
    page.goto("/queue/")
    assert "/accounts/login/" in page.url  # anonymous: to the login page first
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/accounts/enrol/**")
    qr = page.locator(".qr svg")
    box = qr.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100  # drawn, not only present
    shot(page, "1-enrol")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.fill("#id_code", "000000" if otp.code_at(secret, timezone.now()) != "000000" else "111111")
    page.click("button[type=submit]")
    page.wait_for_selector(".errorlist")  # the answer's page, not the one the click left (a busy machine)
    assert "/accounts/enrol/" in page.url  # a wrong code stays here
    page.fill("#id_code", otp.code_at(secret, timezone.now()))
    page.click("button[type=submit]")
    page.wait_for_selector(".recovery-codes li")
    assert page.locator(".recovery-codes li").count() == 10
    page.click("#continue")
    page.wait_for_url("**/queue/")
    assert TOTPDevice.objects.get(user=analyst).confirmed_at is not None
    assert events("user.second_factor_enrolled", analyst) == 1

    second = new_tab()
    sign_in(second, enrolled(senior))  # an enrolled user is asked for a code, never shown a QR code again
    assert second.locator("h1").first.inner_text()
    shot(second, "1-verified")
    passed = AuditEvent.objects.get(action="user.second_factor_passed", object_id=str(senior.pk))
    assert passed.after == {"method": "totp", "purpose": "login"}


# 2 ---------------------------------------------------------------------------------------------


def test_an_analyst_claims_from_the_queue_sees_blurred_previews_and_assesses(
    page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item("http://flows-assess.sim.test/album/1/")
    media = [make_media(item, seed=seed) for seed in (2, 5)]  # noise and a coloured pattern
    sign_in(page, enrolled(analyst))
    page.goto("/queue/")
    page.click("text=Take the next item")
    page.wait_for_url(f"**/items/{item.pk}/")
    item.refresh_from_db()
    assert item.claimed_by_id == analyst.pk
    for one in media:
        preview = pixels(page, f"#media-{one.pk} img")
        assert (preview["width"], preview["height"]) == (240, 180)  # the small placeholder size
        assert preview["colour"] <= 2, preview  # greyscale: no colour survives
        assert preview["edge"] < 6, preview  # blurred: no sharp steps between neighbours
        assert page.locator(f"#media-{one.pk} img.revealed").count() == 0
    shot(page, "2-blurred")
    for one in media:  # each file gets its own verdict (the workbench's per-file fields)
        page.check(f"input[name=m{one.pk}-verdict][value=baseline]")
        page.check(f"input[name=m{one.pk}-legal_limb][value=real_minor]")
        page.check(f"input[name=m{one.pk}-content_type][value=image]")
        page.check(f"input[name=m{one.pk}-age_group][value=prepubescent]")
    page.click("button:has-text('Save assessment')")
    page.wait_for_url("**/queue/")
    assert page.locator(".messages").inner_text().strip() != ""
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "baseline")
    assert item.claimed_by is None  # the claim ends with the assessment
    assert Assessment.objects.get(item=item).analyst_id == analyst.pk


# 3 ---------------------------------------------------------------------------------------------


def test_revealing_one_media_item_asks_for_password_and_code_again_and_is_audited(
    page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item("http://flows-reveal.sim.test/album/1/")
    media, other = make_media(item, seed=2), make_media(item, seed=5)
    sign_in(page, enrolled(analyst))
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=True):  # the login is now too old
        page.goto(f"/items/{item.pk}/")
        blurred = pixels(page, f"#media-{media.pk} img")
        page.click(f"#media-{media.pk} button:has-text('Reveal')")
        page.wait_for_url("**/accounts/confirm/**")
        assert events("media.revealed", analyst) == 0  # nothing shown before the confirmation
        shot(page, "3-reauth")
        page.fill("#reauth input[name=password]", PASSWORD)
        page.fill("#reauth input[name=code]", otp.code_at(SECRET, timezone.now()))
        page.click("#reauth button[type=submit]")
        page.wait_for_url(f"**/items/{item.pk}/")
        page.click(f"#media-{media.pk} button:has-text('Reveal')")
        revealed = pixels(page, f"#media-{media.pk} img.revealed")
    shot(page, "3-revealed")
    assert revealed["width"] > blurred["width"] and revealed["colour"] > 50 and revealed["edge"] > 20, revealed
    assert page.locator(f"#media-{other.pk} img.revealed").count() == 0  # one at a time
    assert pixels(page, f"#media-{other.pk} img")["colour"] <= 2
    event = AuditEvent.objects.get(action="media.revealed", object_id=str(media.pk))
    assert event.actor_user_id == analyst.pk
    assert AuditEvent.objects.filter(action="user.second_factor_passed", after__purpose="reauth").count() == 1


# 4 ---------------------------------------------------------------------------------------------


def test_a_borderline_verdict_goes_to_a_second_analyst_who_reviews_it(
    page: Any, new_tab: Callable[[], Any], analyst: User, senior: User, make_item: Callable[..., Item]
) -> None:
    item = make_item("http://flows-review.sim.test/gallery/7/")
    sign_in(page, enrolled(analyst))
    page.goto("/queue/")
    page.click("text=Take the next item")
    page.wait_for_url(f"**/items/{item.pk}/")
    page.check("input[name=verdict][value=not_illegal]")
    page.check("input[name=reason][value=age_unclear]")  # borderline: four eyes
    page.click("button:has-text('Save assessment')")
    page.wait_for_url("**/queue/")
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.IN_REVIEW, "")

    reviewer = new_tab()
    sign_in(reviewer, enrolled(senior))
    reviewer.goto("/queue/")
    assert reviewer.locator(f"a[href$='/items/{item.pk}/']").count() >= 1  # listed under second review
    reviewer.click("text=Take the next item")
    reviewer.wait_for_url(f"**/items/{item.pk}/")
    assert reviewer.locator("h2", has_text="Second review").count() == 1
    assert reviewer.locator("input[name=verdict][value=not_illegal]").is_checked()  # the first decision, to confirm
    shot(reviewer, "4-second-review")
    reviewer.click("button:has-text('Save assessment')")
    reviewer.wait_for_url("**/queue/")
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "not_illegal")
    review = Assessment.objects.get(item=item, kind=Kind.REVIEW)
    assert (review.analyst_id, review.is_final, review.disagrees) == (senior.pk, True, False)
    assert review.reviews is not None and review.reviews.analyst_id == analyst.pk
    assert events("item.reviewed", senior) == 1


# 5 ---------------------------------------------------------------------------------------------


def test_a_manager_sees_the_dashboard_with_its_charts_drawn(
    page: Any, manager: User, analyst: User, analyst2: User, senior: User
) -> None:
    from hotline.stats.facts import refresh_all
    from hotline.stats.tests.history import NOW, build

    build({"ana": analyst, "bert": analyst2, "sara": senior})
    refresh_all(now=NOW)
    sign_in(page, enrolled(manager))
    page.goto("/statistics/?year=2025")
    charts = page.locator("img[data-chart]")
    assert charts.count() == 3
    for n in range(3):
        chart = charts.nth(n)
        page.wait_for_function("el => el.complete", arg=chart.element_handle())
        size = page.evaluate("el => [el.naturalWidth, el.naturalHeight]", chart.element_handle())
        box = chart.bounding_box()
        assert size[0] > 0 and size[1] > 0, chart.get_attribute("data-chart")
        assert box is not None and box["width"] > 100  # laid out on the page, not collapsed
    assert page.locator("[data-figure=items] .figure").inner_text() == "11"
    # The manager has the longest menu: it wraps instead of pushing the page wider than the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    shot(page, "5-dashboard")


# 6 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang,title,label,button", [
    ("nl", "Illegale beelden van kinderen melden", "Webadressen (één per regel)", "Melding versturen"),
    ("fr", "Signaler des images illégales d'enfants", "Adresses web (une par ligne)", "Envoyer le signalement"),
])
def test_the_public_form_speaks_dutch_and_french_and_stores_the_report(
    page: Any, lang: str, title: str, label: str, button: str
) -> None:
    page.goto(f"/{lang}/report/")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").inner_text() == title
    assert page.locator("label[for=id_urls]").inner_text() == label
    assert page.locator("form button[type=submit]").inner_text() == button
    page.get_by_label(label).fill(f"http://{lang}-flows.sim.test/page/1")
    page.click("form button[type=submit]")
    reference = page.locator(".reference").inner_text()
    shot(page, f"6-public-form-{lang}")
    report = Report.objects.get(reference=reference)
    assert (report.language, report.source, report.url_count) == (lang, "public", 1)
    assert report.links.get().item.host == f"{lang}-flows.sim.test"


# 7 ---------------------------------------------------------------------------------------------


@pytest.fixture
def sent_notice_path(settings: Any, make_item: Callable[..., Item]) -> Iterator[tuple[Any, str]]:
    """A notice really sent by the worker to an SMTP server on loopback; the link is read from the mail."""
    from hotline.routing.models import Decision, Route
    from hotline.sim.dns import SimDns
    from hotline.sim.rdap import SimRdap
    from hotline.sim.smtp import SmtpSink
    from hotline.takedown.models import Notice
    from hotline.takedown.steps import notice_step
    from hotline.takedown.tests.conftest import NETWORKS, make_trace_for
    from hotline.tracing.models import AbuseContact, Provider

    with SimDns({}) as dns, SimRdap(NETWORKS) as rdap, SmtpSink() as sink:
        host, port = dns.nameserver
        settings.HOTLINE_DNS_RESOLVERS, settings.HOTLINE_DNS_TIMEOUT = f"{host}:{port}", 1.0
        settings.HOTLINE_RDAP_BASE_URL, settings.HOTLINE_FETCH_ALLOW_LOOPBACK = rdap.base_url, True
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = sink.host, sink.port, 10
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        provider = Provider.objects.create(name="Flows Host BV", country="BE")
        contact = AbuseContact.objects.create(provider=provider, name="Flows abuse desk", email="abuse@flows.example",
                                              channel="email", language="en", repeat_hours=24)
        now = timezone.now() - timedelta(hours=2)
        for n in (1, 2):
            item = make_item(f"http://flows-notice.sim.test/file/{n}")
            item.verdict = "baseline"
            item.save(update_fields=[*item.transition(ItemStatus.ASSESSED, now=now), "verdict"])
            trace = make_trace_for(item, contact, at=now)
            Decision.objects.create(item=item, trace=trace, decided_at=now, route=Route.DOMESTIC, notice_due_at=now,
                                    inputs={"abuse_contact_id": contact.pk})
        while notice_step(now=timezone.now()):
            pass
        link = re.search(r"https?://\S+?(/takedown/respond/\?t=\S+)", sink.wait_for(1)[0].text())
        assert link is not None
        yield Notice.objects.get(), link.group(1)


def test_a_provider_acknowledges_and_confirms_removal_through_the_signed_link(
    page: Any, sent_notice_path: tuple[Any, str]
) -> None:
    from hotline.takedown.models import Takedown

    notice, path = sent_notice_path
    page.goto(path)  # a fresh browser: no session, no login
    assert "/accounts/" not in page.url
    assert notice.reference in page.locator("main, body").first.inner_text()
    assert "sim.test" not in page.content()  # the page never repeats the URLs
    shot(page, "7-provider-link")
    page.click("button[value=acknowledge]")
    page.locator("p.ok").wait_for()
    notice.refresh_from_db()
    assert notice.acknowledged_at is not None
    assert set(Takedown.objects.values_list("acknowledged_at", flat=True)) == {notice.acknowledged_at}
    page.click("button[value=removed]")
    page.locator("p.ok", has_text="check that the content is gone").wait_for()
    shot(page, "7-provider-removed")
    assert Takedown.objects.filter(provider_removed_at__isnull=True).count() == 0
    assert AuditEvent.objects.filter(action="takedown.provider_reports_removal").exists()
