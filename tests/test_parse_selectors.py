"""The selectors parser: fields where a config's CSS selectors point, misses reported."""

from __future__ import annotations

import pytest

from scraper.config import Selectors
from scraper.errors import ParseError
from scraper.parse import parse_page, validate_selectors

URL = "https://mirror.example.org/related/Topic"

LISTING = b"""<html><head><title>Topic - Mirror</title></head><body>
<h1>Topic</h1>
<ul id="results">
 <li class="hit"><img class="thumb" src="/img/a.jpg"><span class="name">Alpha</span>
  <span class="blurb">Alpha is the first letter ...</span>
  <a class="go" href="/info/Alpha">read</a> <a class="rel" href="/related/Alpha">more like this</a></li>
 <li class="hit"><span class="name">Beta</span><span class="blurb">Beta follows alpha.</span>
  <a class="go" href="/info/Beta">read</a></li>
</ul>
<a class="pager-next" href="/related/Topic?page=2">next</a>
</body></html>"""


def test_entries_from_selectors() -> None:
    selectors = Selectors(entry="li.hit", title=".name", summary=".blurb", more_info="a.go",
                          related="a.rel", image="img.thumb", next=".pager-next")
    page = parse_page(LISTING, URL, parser="selectors", selectors=selectors)
    assert page.parser == "selectors"
    assert page.kind == "listing"
    assert page.missing_selectors == ()
    assert [(e.title, e.summary, e.summary_truncated, e.more_info, e.related, e.image)
            for e in page.entries] == [
        ("Alpha", "Alpha is the first letter", True, "https://mirror.example.org/info/Alpha",
         "https://mirror.example.org/related/Alpha", "https://mirror.example.org/img/a.jpg"),
        ("Beta", "Beta follows alpha.", False, "https://mirror.example.org/info/Beta", None,
         None),
    ]
    assert page.title == "Topic"
    assert page.summary == "Alpha is the first letter" and page.summary_truncated
    assert [(link.kind, link.title) for link in page.links[:4]] == [
        ("more_info", "Alpha"), ("related", "Alpha"), ("more_info", "Beta"), ("next", "next")]


def test_missing_selectors_are_reported() -> None:
    selectors = Selectors(entry="li.hit", title=".name", summary=".nowhere", image="img.none",
                          next=".no-pager")
    page = parse_page(LISTING, URL, parser="selectors", selectors=selectors)
    assert page.missing_selectors == ("summary", "image", "next")
    assert [e.title for e in page.entries] == ["Alpha", "Beta"]
    assert all(e.summary == "" for e in page.entries)


def test_missing_entry_selector_reports_entry_and_absent_fields() -> None:
    selectors = Selectors(entry="div.card", title=".name", summary=".absent")
    page = parse_page(LISTING, URL, parser="selectors", selectors=selectors)
    assert page.missing_selectors == ("entry", "summary")
    assert page.entries == ()
    assert page.kind == "other"


def test_page_level_selectors() -> None:
    body = (b"<html><body><div id='t'>The title</div><div class='lead'>Lead text ...</div>"
            b"<div class='body'><p>One.</p><p>Two.</p></div><div class='body'><p>Three.</p>"
            b"</div><a class='see' href='/x'>X</a><a class='see' href='/y'>Y</a></body></html>")
    selectors = Selectors(title="#t", summary=".lead", text=".body", related="a.see",
                          more_info=".gone")
    page = parse_page(body, URL, parser="selectors", selectors=selectors)
    assert page.title == "The title"
    assert (page.summary, page.summary_truncated) == ("Lead text", True)
    assert page.text == "One.\n\nTwo.\n\nThree."
    assert [(link.kind, link.title) for link in page.links_of("related")] == [
        ("related", "X"), ("related", "Y")]
    assert page.missing_selectors == ("more_info",)
    assert page.kind == "article"


def test_invalid_selector_is_refused_with_its_field() -> None:
    with pytest.raises(ParseError, match=r"selectors\.summary") as caught:
        validate_selectors(Selectors(title="h1", summary="p[[["), "config.yaml")
    assert caught.value.selector == "p[[["
    with pytest.raises(ParseError):
        parse_page(LISTING, URL, parser="selectors", selectors=Selectors(title=""))
    with pytest.raises(ParseError, match="needs a selectors"):
        parse_page(LISTING, URL, parser="selectors")
    with pytest.raises(ParseError, match="unknown parser"):
        parse_page(LISTING, URL, parser="nope")
