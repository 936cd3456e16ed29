"""Property tests: whatever the bytes, parse_page returns a Page and never raises.

Profiles: HYPOTHESIS_PROFILE=ci runs more examples than the default "dev".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.config import Selectors
from scraper.models import Page
from scraper.parse import PARSER_VERSION, parse_page
from tests.hypothesis_profiles import PROFILE
from tests.paths import CORPUS

FIXTURES = Path(__file__).parent / "data" / "pages"
SAMPLES = sorted(CORPUS.glob("*.html")) + sorted(FIXTURES.glob("*.html"))
URL = "http://example.org/wiki/Page"
PARSERS = ("auto", "mediawiki", "listing", "generic", "selectors")
SELECTORS = Selectors(entry="div.entry, li", title="h2, b", summary="p", related="a",
                      more_info="a.more", image="img", text="p", next="a[rel=next]")


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def no_parser_errors() -> Iterator[None]:
    """parse_page turns an internal exception into a logged error: treat that as a failure."""
    handler = _Errors()
    logger = logging.getLogger("scraper.parse")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not handler.records, handler.records[0].getMessage()


def check(body: bytes, parser: str = "auto", content_type: str | None = None,
          max_links: int = 5000) -> Page:
    with no_parser_errors():
        page = parse_page(body, URL, parser=parser, content_type=content_type,
                          selectors=SELECTORS if parser == "selectors" else None,
                          max_links=max_links)
    assert isinstance(page, Page)
    assert page.kind in ("listing", "article", "other")
    assert page.parser_version == PARSER_VERSION
    assert len(page.links) <= max_links
    urls = [link.url for link in page.links]
    assert len(urls) == len(set(urls))
    for url in urls:
        assert url.startswith(("http://", "https://")) and "#" not in url, url
    return page


@PROFILE
@given(body=st.binary(max_size=4000), parser=st.sampled_from(PARSERS))
def test_arbitrary_bytes(body: bytes, parser: str) -> None:
    check(body, parser)


TAGS = ["div", "p", "a href='/x'", "b", "table", "tr", "td", "ul", "li", "h2", "span",
        "section", "br", "img src='/i.png'", "script", "style", "noscript", "template",
        "h1 id='firstHeading'", "div id='mw-content-text'", "div class='mw-parser-output'",
        "sup class='reference'", "a href='/more'", "font", "center", "select", "iframe"]
TEXTS = ["[...More Info...]", "[...Related Items...]", "HOME", "MORE", "See also",
         "text ...", "picture info", "[Wikipedia]", "OR:", "é", "\x00", "&amp;", "&#0;",
         "<!--", "]]>", "<![CDATA[", "\u202e", "\ud7ff", " "]


@st.composite
def tag_soup(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.one_of(
        st.sampled_from(TAGS).map(lambda t: f"<{t}>"),
        st.sampled_from(TAGS).map(lambda t: f"</{t.split()[0]}>"),
        st.sampled_from(TEXTS),
        st.text(max_size=20),
    ), max_size=80))
    return "".join(parts).encode("utf-8", "surrogatepass")


@PROFILE
@given(body=tag_soup(), parser=st.sampled_from(PARSERS))
def test_tag_soup(body: bytes, parser: str) -> None:
    check(body, parser)


@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 2))  # big pages: fewer runs
@given(sample=st.sampled_from(SAMPLES), cut=st.floats(0, 1), parser=st.sampled_from(PARSERS))
def test_truncated_pages(sample: Path, cut: float, parser: str) -> None:
    body = sample.read_bytes()
    check(body[: int(len(body) * cut)], parser)


ENCODINGS = ["latin-1", "cp1252", "utf-8", "utf-8-sig", "utf-16", "koi8-r", "shift_jis"]
LABELS = ["utf-8", "UTF8", "latin1", "iso-8859-1", "windows-1252", "windows-1251", "koi8-r",
          "utf-16", "shift_jis", "x-user-defined", "rot13", "base64", "bogus", "", "utf-7"]


@PROFILE
@given(text=st.text(max_size=300), encoding=st.sampled_from(ENCODINGS),
       meta=st.none() | st.sampled_from(LABELS), header=st.none() | st.sampled_from(LABELS),
       parser=st.sampled_from(PARSERS))
def test_wrong_or_missing_charsets(text: str, encoding: str, meta: str | None,
                                   header: str | None, parser: str) -> None:
    head = f'<meta charset="{meta}">' if meta is not None else ""
    html = f"<html><head>{head}<title>{text}</title></head><body><p>{text}</p></body></html>"
    body = html.encode(encoding, "replace")
    content_type = f"text/html; charset={header}" if header is not None else None
    check(body, parser, content_type)


@PROFILE
@given(body=st.binary(max_size=2000), positions=st.lists(st.integers(0, 2000), max_size=20))
def test_nul_bytes(body: bytes, positions: list[int]) -> None:
    data = bytearray(b"<html><body><p>a</p>" + body + b"</body></html>")
    for at in positions:
        data.insert(min(at, len(data)), 0)
    check(bytes(data))


def test_nothing_found_is_other() -> None:
    for body in (b"", b"   ", b"<html><head></head><body></body></html>", b"<!-- -->",
                 b"<script>var a = 1;</script><style>p{}</style>", b"... !!! ???",
                 b"\xff\xfe\xfd"):
        for parser in PARSERS:
            assert check(body, parser).kind == "other", (body, parser)


@PROFILE
@given(punctuation=st.text(alphabet=" \t\n.,;:!?-()[]{}<>/\\'\"*", max_size=200),
       parser=st.sampled_from(PARSERS))
def test_no_words_is_other(punctuation: str, parser: str) -> None:
    assert check(punctuation.encode(), parser).kind == "other"


@pytest.mark.parametrize("template", [
    "<div>{}</div>", "<b>{}</b>", "<span>{}</span>", "<table><tr><td>{}</td></tr></table>",
    "<ul><li>{}</li></ul>", "<a href='/x'>{}</a>", "<div class='mw-parser-output'>{}</div>",
    "<font>{}</font>", "<section>{}</section>",
])
@pytest.mark.parametrize("parser", PARSERS)
def test_deeply_nested_tags(template: str, parser: str) -> None:
    depth = 10_000
    opening, closing = template.split("{}")
    body = (opening * depth + "deep [...More Info...] text" + closing * depth).encode()
    started = time.monotonic()
    check(body, parser)
    assert time.monotonic() - started < 10  # a generous bound: catches blow-ups only


@pytest.mark.parametrize("parser", PARSERS)
def test_enormous_attributes(parser: str) -> None:
    huge = "x" * 2_000_000
    body = (f'<html lang="{huge}"><head><meta name="description" content="{huge}">'
            f'<base href="/{huge}"></head><body class="{"a " * 200_000}">'
            f'<a href="/{huge}">big link</a><img src="{huge}" alt="{huge}">'
            f'<div title="{huge}" data-x="{huge}"><p>text</p></div>'
            f'<a href="javascript:{huge}">js</a></body></html>').encode()
    started = time.monotonic()
    page = check(body, parser)
    assert time.monotonic() - started < 10
    assert page.url == URL


def test_many_links_are_capped() -> None:
    body = "".join(f"<a href='/wiki/P{n}'>p{n}</a>" for n in range(20_000)).encode()
    for parser in PARSERS:
        assert len(check(body, parser, max_links=100).links) == 100
        assert check(body, parser, max_links=0).links == ()
