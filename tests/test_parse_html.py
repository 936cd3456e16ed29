"""Shared parser helpers: choosing the charset, resolving links, walking text blocks."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.parse import parse_page
from scraper.parse.blocks import walk_blocks
from scraper.parse.html import decode_body, sniff_encoding
from scraper.parse.urls import Resolver

PAGE = "<html><head>{meta}<title>Caf\u00e9</title></head><body><p>{text}</p></body></html>"


def test_encoding_order_bom_then_http_then_meta_then_guess() -> None:
    body = PAGE.format(meta='<meta charset="windows-1251">', text="x").encode()
    assert sniff_encoding(b"\xef\xbb\xbf" + body, "text/html; charset=latin-1") == "utf-8"
    assert sniff_encoding(body, "text/html; charset=ISO-8859-2") == "iso8859-2"
    assert sniff_encoding(body, "text/html") == "cp1251"
    assert sniff_encoding(b"<p>plain ascii</p>") == "utf-8"
    assert sniff_encoding("<p>déjà vu</p>".encode()) == "utf-8"
    assert sniff_encoding("<p>déjà vu, à la carte</p>".encode("latin-1")) == "cp1252"
    # long pages: decided from the first non-ASCII stretch, up to the very last byte
    assert sniff_encoding(("x" * 70_000 + "é" * 40_000).encode()) == "utf-8"
    assert sniff_encoding(("x" * 70_000 + "é").encode("latin-1")) == "cp1252"
    assert sniff_encoding(("x" * 70_000 + "é" * 40_000).encode("latin-1")) == "cp1252"


def test_labels_follow_the_encoding_standard() -> None:
    # latin-1 means windows-1252; a <meta> naming UTF-16 means UTF-8; non-text codecs and
    # unknown names are ignored.
    assert sniff_encoding(b"x", "text/html; charset=iso-8859-1") == "cp1252"
    assert sniff_encoding(b'<meta charset="utf-16"><p>x</p>') == "utf-8"
    assert sniff_encoding(b'<meta charset="rot13"><p>x</p>') == "utf-8"
    assert sniff_encoding(b'<meta charset="no-such-thing"><p>x</p>') == "utf-8"
    assert sniff_encoding(b"x", "text/html; charset=base64") == "utf-8"


@pytest.mark.parametrize(("raw", "content_type", "expected"), [
    ("<title>Café – Grüße</title>".encode(), None, "Café – Grüße"),
    ("<title>Café – Grüße</title>".encode("cp1252"), None, "Café – Grüße"),
    ("<title>Café</title>".encode("latin-1"), "text/html; charset=ISO-8859-1", "Café"),
    (b"\xef\xbb\xbf" + "<title>Café</title>".encode(), None, "Café"),
    (b"\xff\xfe" + "<title>Café</title>".encode("utf-16-le"), None, "Café"),
    ('<meta charset="koi8-r"><title>Привет</title>'.encode("koi8-r"), None, "Привет"),
    # the meta lies: it says UTF-8 for Latin-1 bytes; the bad byte becomes U+FFFD
    ('<meta charset="utf-8"><title>Caf\u00e9</title>'.encode("latin-1"), None, "Caf\ufffd"),
])
def test_titles_decode(raw: bytes, content_type: str | None, expected: str) -> None:
    page = parse_page(raw, "http://example.org/", content_type=content_type)
    assert page.title == expected


def test_utf8_bytes_go_to_lexbor_undecoded() -> None:
    body = "<p>ü</p>".encode()
    data, encoding = decode_body(body)
    assert data is body and encoding == "utf-8"
    data, encoding = decode_body("<p>ü</p>".encode("cp1252"), "text/html; charset=cp1252")
    assert data == "<p>ü</p>" and encoding == "cp1252"


@pytest.mark.parametrize(("href", "expected"), [
    ("/wiki/Dog", "https://en.example.org/wiki/Dog"),
    ("./Cat", "https://en.example.org/wiki/Cat"),
    ("Cat", "https://en.example.org/wiki/Cat"),
    ("../w/index.php?title=X", "https://en.example.org/w/index.php?title=X"),
    ("?page=2", "https://en.example.org/wiki/Dog?page=2"),
    ("//upload.example.org/a.png", "https://upload.example.org/a.png"),
    ("HTTP://Other.example.net/a#b", "http://Other.example.net/a"),
    ("http:relative", None),  # another scheme than the base's, without a host
    ("https:relative", "https://en.example.org/wiki/relative"),
    ("  /wiki/Spaced\n", "https://en.example.org/wiki/Spaced"),
    ("/wiki/A\tB", "https://en.example.org/wiki/AB"),
    ("/wiki/Dog#History", "https://en.example.org/wiki/Dog"),
    ("#History", None),
    ("", None),
    ("mailto:someone@example.org", None),
    ("javascript:alert(1)", None),
    ("data:text/html,hi", None),
    ("file:///etc/passwd", None),
    ("ftp://example.org/x", None),
    ("http://", None),
    ("https:///path", None),
    ("http://[::1", None),
])
def test_resolver(href: str, expected: str | None) -> None:
    assert Resolver("https://en.example.org/wiki/Dog").resolve(href) == expected


def test_resolver_without_an_http_base_keeps_only_absolute_links() -> None:
    resolver = Resolver("file:///tmp/page.html")
    assert resolver.resolve("/wiki/Dog") is None
    assert resolver.resolve("./Dog") is None
    assert resolver.resolve("https://example.org/x") == "https://example.org/x"
    assert resolver.resolve("//example.org/x") == "https://example.org/x"


def test_base_href_and_canonical_for_saved_files() -> None:
    body = (b'<html><head><base href="//en.example.org/wiki/"></head><body>'
            b'<a href="./Cat">cat</a></body></html>')
    page = parse_page(body, "file:///tmp/saved.html", parser="generic")
    assert [link.url for link in page.links] == ["https://en.example.org/wiki/Cat"]
    body = (b'<html><head><link rel="canonical" href="https://en.example.org/wiki/Dog">'
            b'</head><body><a href="/wiki/Cat">cat</a></body></html>')
    page = parse_page(body, "file:///tmp/saved.html", parser="generic")
    assert [link.url for link in page.links] == ["https://en.example.org/wiki/Cat"]


def test_walk_blocks_keeps_rendered_spacing_and_block_boundaries() -> None:
    tree = LexborHTMLParser(
        "<div>Loose <b>bold</b>text<h2>Head</h2><p>A <i>b</i>c.</p><ul><li>One<ul><li>Two"
        "</li></ul></li></ul>line one<br>line two<br><br>next para<script>x()</script>"
        "<table><tr><td>cell</td></tr></table></div>")
    div = tree.css_first("div")
    assert div is not None
    assert walk_blocks(div) == [
        ("text", "Loose boldtext"), ("h2", "Head"), ("p", "A bc."), ("li", "One"),
        ("li", "Two"), ("text", "line one line two"), ("text", "next para"),
        ("text", "cell")]
    assert walk_blocks(div, table_rows=lambda table: True)[-1] == ("row", "cell")


def test_deep_nesting_is_read_without_recursion_errors() -> None:
    depth = 3000
    body = ("<div>" * depth + "<p>deep text</p>" + "</div>" * depth).encode()
    for parser in ("generic", "mediawiki", "listing"):
        page = parse_page(body, "http://example.org/", parser=parser)
        assert page.url == "http://example.org/"
    assert "deep text" in parse_page(body, "http://example.org/", parser="generic").text
