"""The text extract of captured pages: hostile HTML gives readable, bounded, inert text."""

from __future__ import annotations

from hotline.lib.pagetext import MAX_LINKS, MAX_TEXT_CHARS, extract_page_text

BASE = "http://shop.sim.test/dir/page.html"


def test_it_keeps_title_visible_text_and_absolute_links() -> None:
    html = b"""<html><head><title> A   shop </title><base href="http://cdn.sim.test/b/"></head>
    <body><h1>Welcome</h1><p>First   line<br>second line</p>
    <a href="next.html#top">next</a> <a href="//other.sim.test/x">x</a> <a href="next.html">again</a></body></html>"""
    text = extract_page_text(html, BASE)
    assert text.title == "A shop"
    assert text.text == "Welcome\nFirst line\nsecond line\nnext x again"
    assert text.links == ["http://cdn.sim.test/b/next.html", "http://other.sim.test/x"]


def test_it_drops_scripts_styles_and_hidden_markup_and_decodes_entities_once() -> None:
    html = b"""<script>document.write('<p>INJECTED</p>')</script><style>p{color:red}</style>
    <noscript>NOSCRIPT</noscript><template><p>TEMPLATE</p></template><svg><text>SVG</text></svg>
    <p>Fish &amp; chips &lt;script&gt;alert(1)&lt;/script&gt; &#x263A; &nbsp;end</p>
    <iframe src="http://evil.sim.test/">IFRAME</iframe><img alt="a picture" src="x.png">"""
    text = extract_page_text(html, BASE)
    for hidden in ("INJECTED", "color:red", "NOSCRIPT", "TEMPLATE", "SVG", "IFRAME"):
        assert hidden not in text.text
    assert "Fish & chips <script>alert(1)</script> \u263a end" in text.text  # shown escaped by the template
    assert "[a picture]" in text.text


def test_it_keeps_only_http_links_and_strips_control_and_bidi_characters() -> None:
    html = ("<a href='javascript:alert(1)'>j</a><a href='data:text/html,hi'>d</a><a href='mailto:a@b'>m</a>"
            "<a href='ftp://f.sim.test/'>f</a><a href='http://[bad'>b</a><a href='/ok'>ok</a>"
            "<p>left\u202eright\x00\x07 done</p><title>t\u2066i\u2069tle</title>").encode()
    text = extract_page_text(html, BASE)
    assert text.links == ["http://shop.sim.test/ok"]
    assert "left right done" not in text.text and "leftright done" in text.text
    assert text.title == "title"


def test_it_caps_a_huge_page_and_its_links() -> None:
    links = "".join(f"<a href='/p/{n}'>{n}</a>" for n in range(MAX_LINKS + 50))
    html = ("<p>" + "word " * 200_000 + "</p>" + links).encode()
    text = extract_page_text(html, BASE)
    assert len(text.text) <= MAX_TEXT_CHARS and text.truncated
    assert len(text.links) == MAX_LINKS
    giant = b"<p>" + b"x" * 5_000_000 + b"</p>"
    assert len(extract_page_text(giant, BASE).text) <= MAX_TEXT_CHARS


def test_it_decodes_declared_charsets_and_survives_bad_bytes() -> None:
    latin = "<title>Caf\xe9</title><p>d\xe9j\xe0 vu</p>".encode("latin-1")
    assert extract_page_text(latin, BASE, "text/html; charset=ISO-8859-1").title == "Café"
    meta = "<meta charset='windows-1252'><p>\x80 price</p>".encode("latin-1")
    assert extract_page_text(meta, BASE).text == "€ price"
    bogus = extract_page_text(b"<p>\xff\xfe\xfd ok</p>", BASE, "text/html; charset=bogus-9")
    assert bogus.text == "\ufffd\ufffd\ufffd ok"
    utf7 = b"<meta charset=utf-7><p>+ADw-script+AD4-</p>"
    assert "<script>" not in extract_page_text(utf7, BASE).text


def test_it_survives_broken_markup() -> None:
    for html in (b"<p>unclosed <b>bold <a href='/x'>link", b"<<<>>><!-- never closed", b"</p></div>text",
                 b"<![CDATA[ x ]]><p>after</p>", b"\x00\x00<p>nul</p>"):
        text = extract_page_text(html, BASE)
        assert isinstance(text.text, str)
