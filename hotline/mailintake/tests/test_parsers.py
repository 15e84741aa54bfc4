"""The Authentication-Results parser and the URL extraction, by example and on arbitrary text."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.mailintake import authresults
from hotline.mailintake.authresults import aligned, parse, verdict
from hotline.mailintake.extract import extract, html_urls, refang, urls_in_text
from hotline.mailintake.message import parse_mail
from hotline.mailintake.tests.conftest import build_mail

# ---------------------------------------------------------------- Authentication-Results


def test_it_parses_methods_results_and_properties() -> None:
    parsed = parse('mx.hotline.example 1; dkim=pass (good signature) header.d=partner.example header.s="sel;1";\r\n'
                   " spf=softfail smtp.mailfrom=bounce@partner.example;"
                   " dmarc=pass (p=reject) header.from=partner.example")
    assert parsed.authserv_id == "mx.hotline.example"
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "pass"), ("spf", "softfail"),
                                                              ("dmarc", "pass")]
    assert parsed.results[0].props == {"header.d": "partner.example", "header.s": "sel;1"}
    assert parsed.results[1].prop("smtp.mailfrom") == "bounce@partner.example"


def test_it_reads_no_results_and_comments_that_look_like_results() -> None:
    assert parse("mx.hotline.example; none").results == ()
    fooled = parse("mx.hotline.example (dkim=pass header.d=partner.example); spf=fail smtp.mailfrom=x.example")
    assert [(r.method, r.result) for r in fooled.results] == [("spf", "fail")]
    assert parse("(mx.hotline.example) attacker.example; dkim=pass header.d=partner.example").authserv_id == (
        "attacker.example")


def test_it_aligns_by_organisational_domain() -> None:
    assert aligned("example.com", "example.com")
    assert aligned("mail.example.com", "example.com") and aligned("example.com", "news.example.com")
    assert not aligned("example.net", "example.com")
    assert not aligned("com", "example.com")  # a public suffix vouches for nobody
    assert aligned("partner.example", "partner.example") and not aligned("sub.partner.example", "partner.example")


def test_it_counts_only_passes_from_our_authserv_id() -> None:
    headers = ["mx.attacker.example; dkim=pass header.d=partner.example",
               "mx.hotline.example; dkim=pass header.d=other.example; dmarc=pass header.from=partner.example"]
    assert verdict(headers, authserv_id="MX.hotline.example", from_domain="partner.example") == (
        True, ["dmarc=pass (partner.example)"])
    assert verdict(headers[:1], authserv_id="mx.hotline.example", from_domain="partner.example") == (False, [])
    assert verdict(headers, authserv_id="", from_domain="partner.example") == (False, [])


_word = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_domain = st.lists(_word, min_size=2, max_size=4).map(".".join)


@settings(max_examples=300)
@given(st.text(max_size=400), st.text(max_size=40), st.text(max_size=40))
def test_it_never_fails_on_arbitrary_header_text(header: str, authserv: str, domain: str) -> None:
    parsed = parse(header)
    assert all(r.method and r.method == r.method.lower() for r in parsed.results)
    ok, passed = verdict([header], authserv_id=authserv, from_domain=domain)
    assert ok == bool(passed)


@settings(max_examples=200)
@given(_domain, st.sampled_from(["dkim", "spf", "dmarc", "arc"]), st.sampled_from(["pass", "fail", "none"]),
       _domain, st.text(alphabet=string.ascii_letters + " =;", max_size=30))
def test_it_reads_back_generated_headers(serv: str, method: str, result: str, domain: str, comment: str) -> None:
    comment = comment.replace("(", "").replace(")", "")
    header = f"{serv}; {method}=fail (first {comment}) header.d=x.example; {method}={result} header.d={domain}"
    parsed = parse(header)
    assert parsed.authserv_id == serv
    assert [(r.method, r.result, r.prop("header.d")) for r in parsed.results] == [
        (method, "fail", "x.example"), (method, result, domain)]
    expect = method == "dkim" and result == "pass"
    assert authresults.verdict([header], authserv_id=serv, from_domain=domain)[0] is expect


# ---------------------------------------------------------------- URL extraction


def test_it_finds_urls_in_prose_without_the_punctuation_around_them() -> None:
    text = ("See http://shop.sim.test/a, (https://gallery.sim.test/x_(1)) and <http://forum.sim.test/t?id=3>.\n"
            "Also www.blog.sim.test/p/2! Not http:// alone.")
    assert urls_in_text(text) == [(1, "http://shop.sim.test/a"), (1, "https://gallery.sim.test/x_(1)"),
                                  (1, "http://forum.sim.test/t?id=3"), (2, "www.blog.sim.test/p/2")]


def test_it_refangs_defanged_urls() -> None:
    assert refang("hxxps[:]//files[.]sim(.)test/a") == "https://files.sim.test/a"
    assert urls_in_text("hXXp://cdn[dot]sim[.]test/1") == [(1, "http://cdn.sim.test/1")]


def test_it_takes_links_and_text_from_html_but_not_scripts() -> None:
    html = ('<p>one <a href="hxxp://a.sim.test/1">link</a></p>\n<p>two\nhttp://b.sim.test/2</p>'
            "<style>.x{background:url(http://c.sim.test/3)}</style>")
    assert html_urls(html) == [(1, "http://a.sim.test/1"), (3, "http://b.sim.test/2")]


def test_it_names_the_place_of_every_candidate() -> None:
    raw = build_mail(text="http://shop.sim.test/1\n", html='<a href="http://shop.sim.test/1">same</a>',
                     attachments=(("list.csv", "text/csv", b"URL\nhttp://files.sim.test/9\n"),
                                  ("notes.txt", "text/plain", b"x\n\nhttp://blog.sim.test/5\n")))
    found = extract(parse_mail(raw))
    assert [(c.url, c.where) for c in found.candidates] == [
        ("http://shop.sim.test/1", "body line 1"),
        ("http://files.sim.test/9", "attachment 'list.csv' line 2"),
        ("http://blog.sim.test/5", "attachment 'notes.txt' line 3"),
    ]


_host = st.lists(st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10),
                 min_size=1, max_size=3).map(lambda labels: ".".join(labels) + ".sim.test")
# A path that does not end in sentence punctuation (which extraction drops on purpose).
_path = st.tuples(st.text(alphabet=string.ascii_letters + string.digits + "/-_=&?%~.,", max_size=30),
                  st.sampled_from(string.ascii_letters + string.digits + "/")).map(lambda p: "/" + "".join(p))


@settings(max_examples=300)
@given(st.text(max_size=300), _host, _path, st.sampled_from(["http", "https"]), st.text(max_size=100))
def test_it_finds_a_url_set_apart_in_arbitrary_text(before: str, host: str, path: str, scheme: str,
                                                   after: str) -> None:
    url = f"{scheme}://{host}{path}"
    found = [u for _, u in urls_in_text(f"{before}\n{url}\n{after}")]
    assert url in found
    assert all(u for u in found)


@settings(max_examples=200)
@given(st.text(max_size=500))
def test_it_never_fails_on_arbitrary_text_or_html(text: str) -> None:
    for line, url in urls_in_text(text) + html_urls(text):
        assert line >= 1 and url
