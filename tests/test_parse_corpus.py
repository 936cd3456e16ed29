"""Golden tests: every real saved page of the corpus against its NAME.expected.json sidecar."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from scraper.models import Page
from scraper.parse import PARSER_VERSION, parse_page

# The read-only corpus of real pages (see its README.md for the fields' meaning).
from tests.paths import CORPUS

PAGES = sorted(CORPUS.glob("*.html"))

# Expected values we believe wrong, each skipped for that one value with the reason.
# (file, field, value) -> reason
DISAGREEMENTS: dict[tuple[str, str, str], str] = {
    ("piratenwiki-de-kassel-stammtisch.html", "some_related",
     "Kategorie:Protokoll Stammtisch KV Kassel"):
        "a category page (Kategorie: namespace), not an article: the corpus README defines "
        "some_related as internal article titles, and the parser contract excludes "
        "Category:/Kategorie: pages from internal links",
}

# The corpus's only non-MediaWiki page is read by the generic parser; the rest are wikis.
EXPECTED_PARSER = {"wikidot-rueda-enchufla.html": "generic"}


def _expected(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    return data


def _parse(path: Path, caplog: pytest.LogCaptureFixture) -> tuple[Page, dict[str, Any]]:
    expected = _expected(path)
    with caplog.at_level(logging.WARNING, logger="scraper.parse"):
        page = parse_page(path.read_bytes(), expected["url"])
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    return page, expected


def test_corpus_is_there() -> None:
    assert len(PAGES) >= 10, f"expected the real-page corpus in {CORPUS}"


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_title_kind_and_parser(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    page, expected = _parse(path, caplog)
    assert page.title == expected["title"]
    assert page.kind == "article"
    assert page.parser == EXPECTED_PARSER.get(path.name, "mediawiki")
    assert page.parser_version == PARSER_VERSION


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_summary(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    page, expected = _parse(path, caplog)
    start = expected["summary_starts_with"]
    if start is None:  # the page has no lead (Wikidot): nothing is promised
        return
    assert page.summary.startswith(start), page.summary[:200]
    # no reference marks, hidden notes or doubled spaces survive
    for debris in ("[1]", "[2]", "[citation needed]", "[update]", "  ", "\u00a0"):
        assert debris not in page.summary


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_related_titles(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    page, expected = _parse(path, caplog)
    related = page.links_of("see_also", "internal")
    titles = {link.title for link in related}
    # Wikidot's links carry no title: the corpus names them by their URL slug.
    slugs = {unquote(urlsplit(link.url).path.rstrip("/").rsplit("/", 1)[-1]) for link in related}
    for title in expected["some_related"]:
        if (path.name, "some_related", title) in DISAGREEMENTS:
            continue
        assert title in titles or title in slugs, title


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_categories_revision_image(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    page, expected = _parse(path, caplog)
    for category in expected["categories"]:
        assert category in page.categories
    if expected["revision_id"] is not None:
        assert page.revision_id == expected["revision_id"]
    if expected["image"] is not None:
        assert page.image == expected["image"]


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_links_are_absolute_http_without_fragments(path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    page, _ = _parse(path, caplog)
    assert page.links
    urls = [link.url for link in page.links]
    assert len(urls) == len(set(urls))
    for url in urls:
        assert url.startswith(("http://", "https://")), url
        assert "#" not in url, url
    # namespace pages and edit links are never article links
    for link in page.links_of("internal", "see_also"):
        assert "action=edit" not in link.url
        assert not link.title.startswith(("Special:", "File:", "Help:", "Category:",
                                          "Template:", "Wikipedia:", "Datei:", "Kategorie:"))


@pytest.mark.parametrize("path", [p for p in PAGES if p.name not in EXPECTED_PARSER],
                         ids=[p.name for p in PAGES if p.name not in EXPECTED_PARSER])
def test_text_has_sections_and_lead(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    page, _ = _parse(path, caplog)
    paragraphs = page.text.split("\n\n")
    assert page.summary.split("\n\n")[0] in paragraphs
    assert all(p.strip() == p and p for p in paragraphs)


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_see_also_section_is_found(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    page, expected = _parse(path, caplog)
    has_section = b'id="See_also"' in path.read_bytes()
    see_also = page.links_of("see_also")
    assert bool(see_also) == has_section
    if see_also:
        # "See also" lists are where the corpus took its related titles from, when present
        titles = {link.title for link in see_also}
        assert titles & set(expected["some_related"])
