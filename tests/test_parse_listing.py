"""The listing parser: entries found by what a reader sees, whatever the markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.models import Entry, Page
from scraper.parse import detect_parser, parse_page
from scraper.testsite.content import MARKUPS, SiteModel
from scraper.testsite.pages import render_listing

PAGES = Path(__file__).parent / "data" / "pages"
# Three markups of one visible listing (the two seed entries and three more) and the seed
# page alone in a fourth, old-style markup (<center>, <font>, <p>).
MARKUP_FILES = ("listing-divs.html", "listing-table.html", "listing-bare.html")
URL = "http://127.0.0.1:8000/related/Russia%E2%80%93NATO_Relations"
SITE = "http://127.0.0.1:8000"


def _parse(name: str, url: str = URL) -> Page:
    return parse_page((PAGES / name).read_bytes(), url)


def _seed_entries() -> list[tuple[str, str]]:
    """(title, summary as shown) of each entry of the seed's visible text: the two lines
    after each "picture info"."""
    lines = (PAGES / "seed-infolist-page.txt").read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() == "picture info":
            rest = [text.strip() for text in lines[i + 1:] if text.strip()]
            found.append((rest[0], rest[1]))
    return found


@pytest.mark.parametrize("name", MARKUP_FILES + ("listing-seed.html",))
def test_detected_as_listing(name: str) -> None:
    body = (PAGES / name).read_bytes()
    assert detect_parser(body, URL) == "listing"
    page = parse_page(body, URL)
    assert page.parser == "listing"
    assert page.kind == "listing"


def test_three_markups_give_identical_pages() -> None:
    pages = [_parse(name) for name in MARKUP_FILES]
    first = pages[0]
    assert len(first.entries) == 5
    for page in pages[1:]:
        assert page.entries == first.entries
        assert page.title == first.title
        assert page.links == first.links
        assert page.text == first.text
        assert (page.summary, page.summary_truncated) == (first.summary, first.summary_truncated)


def test_entries_fields() -> None:
    page = _parse("listing-divs.html")
    seed = _seed_entries()
    first = page.entries[0]
    assert first == Entry(
        title="Russia–NATO Relations",
        summary=seed[0][1].removesuffix(" ..."),
        summary_truncated=True,
        image=f"{SITE}/images/Russia–NATO_Relations.jpg",
        more_info=f"{SITE}/info/Russia–NATO_Relations",
        related=f"{SITE}/related/Russia–NATO_Relations",
        search_links=(
            ("Wikipedia", "https://en.wikipedia.org/wiki/Special:Search?search=Russia–NATO+Relations"),
            ("Google", "https://www.google.com/search?q=Russia–NATO+Relations"),
            ("Baidu", "https://www.baidu.com/s?wd=Russia–NATO+Relations"),
        ),
    )
    last = page.entries[-1]
    assert last.title == "Enlargement of NATO"
    assert last.image is None  # this entry shows no picture
    assert last.summary_truncated is False
    assert last.summary.endswith("former members of the Warsaw Pact.")
    assert "brought in" in last.summary and "Cold War" in last.summary  # text of an inner link


def test_page_fields() -> None:
    page = _parse("listing-bare.html")
    assert page.title == "Russia–NATO Relations"
    assert page.summary == page.entries[0].summary
    assert page.summary_truncated is True
    assert page.image == page.entries[0].image
    assert [link.url for link in page.links_of("home")] == [f"{SITE}/"]
    assert [link.url for link in page.links_of("next")] == [f"{URL}?page=2"]
    related = page.links_of("related")
    assert [(link.title, link.url) for link in related] == [
        (entry.title, entry.related) for entry in page.entries]
    more_info = page.links_of("more_info")
    assert [(link.title, link.url) for link in more_info] == [
        (entry.title, entry.more_info) for entry in page.entries]
    assert len(page.links_of("search")) == 15
    assert [link.title for link in page.links_of("internal")] == ["Cold War"]
    paragraphs = page.text.split("\n\n")
    assert paragraphs == [part for entry in page.entries for part in (entry.title, entry.summary)]


def test_seed_text_is_rebuilt_from_entries() -> None:
    page = _parse("listing-seed.html")
    rebuilt = [(entry.title, entry.summary + (" ..." if entry.summary_truncated else ""))
               for entry in page.entries]
    assert rebuilt == _seed_entries()
    assert page.title == "Russia–NATO Relations"
    # debris of the mirror's conversion is kept verbatim, never "fixed"
    nato = page.entries[1].summary
    assert "(NATO ; , OTAN)" in nato
    assert "intergovernmental Transnationalism, transnational military" in nato
    assert "The organization's motto is ." in nato
    assert "''Russia's Hos" in page.entries[0].summary


def test_seed_page_links() -> None:
    page = _parse("listing-seed.html")
    kinds = [link.kind for link in page.links]
    assert kinds == ["home", "more_info", "related", "search", "search", "search",
                     "more_info", "related", "search", "search", "search", "next"]


@pytest.mark.parametrize("variant", [
    ("[...More Info...]", "[...Related Items...]"),
    ("More Info", "Related Items"),
    ("more info", "related items"),
    ("[More Info]", "[Related Item]"),
    ("MORE INFO »", "RELATED ITEMS »"),
])
def test_link_text_variations(variant: tuple[str, str]) -> None:
    more, related = variant
    body = (
        "<html><body><h1>Topics</h1>"
        + "".join(
            f"<div><img src='/i/{n}.png'><strong>Topic {n}</strong><br>"
            f"Summary of topic {n}, long enough to be the summary ...<br>"
            f"<a href='/info/{n}'>{more}</a> <a href='/related/{n}'>{related}</a></div>"
            for n in range(3))
        + "</body></html>").encode()
    page = parse_page(body, "http://example.org/related/x")
    assert page.parser == "listing"
    assert [e.title for e in page.entries] == ["Topic 0", "Topic 1", "Topic 2"]
    assert [e.more_info for e in page.entries] == [f"http://example.org/info/{n}"
                                                   for n in range(3)]
    assert [e.related for e in page.entries] == [f"http://example.org/related/{n}"
                                                 for n in range(3)]
    assert all(e.summary_truncated for e in page.entries)
    assert page.entries[2].image == "http://example.org/i/2.png"


def test_entries_in_a_list_without_bold_titles() -> None:
    # No emphasis anywhere: the title is the line before the summary.
    items = "".join(
        f"<li><span>Name {n}</span><div>A description of item number {n} that runs on.</div>"
        f"<span><a href='/m/{n}'>More Info</a> | <a href='/r/{n}'>Related Items</a></span></li>"
        for n in range(4))
    page = parse_page(f"<ul>{items}</ul>".encode(), "http://example.org/")
    assert [(e.title, e.summary) for e in page.entries] == [
        (f"Name {n}", f"A description of item number {n} that runs on.") for n in range(4)]


def test_single_entry_page_keeps_header_out() -> None:
    body = (b"<html><body><div><b>Page header</b> <a href='/'>HOME</a></div>"
            b"<div><b>Only topic</b><p>Its summary, the longest line of the block ...</p>"
            b"<a href='/info/only'>[...More Info...]</a> <a href='/related/only'>"
            b"[...Related Items...]</a></div><a href='/related/x?page=2'>MORE</a>"
            b"</body></html>")
    page = parse_page(body, "http://example.org/related/x")
    assert page.title == "Page header"
    assert [(e.title, e.summary) for e in page.entries] == [
        ("Only topic", "Its summary, the longest line of the block")]
    assert [link.kind for link in page.links] == ["home", "more_info", "related", "next"]


def test_forced_listing_on_a_page_without_entries() -> None:
    page = parse_page(b"<html><body><p>Nothing listed here.</p></body></html>",
                      "http://example.org/", parser="listing")
    assert page.kind == "other"
    assert page.entries == ()


def test_builtin_site_markups_give_identical_entries() -> None:
    model = SiteModel(seed=1, pages=200)
    assert set(MARKUPS) >= {"divs", "table", "bare"}
    for slug in model.slugs[:5]:
        pages = [parse_page(render_listing(model, slug, 1, markup), f"{SITE}/related/{slug}")
                 for markup in MARKUPS]
        first = pages[0]
        assert first.kind == "listing" and len(first.entries) >= 2
        assert all(entry.title and entry.summary and entry.more_info and entry.related
                   for entry in first.entries)
        # every entry's Related Items link, the page's own (first entry) included
        assert [link.url for link in first.links_of("related")] == [
            entry.related for entry in first.entries]
        for page in pages[1:]:
            assert page.entries == first.entries
            assert page.links_of("related", "more_info", "next", "home") == \
                first.links_of("related", "more_info", "next", "home")


def test_only_the_mirrors_cut_counts_as_truncation() -> None:
    body = ("<div><b>A</b><br>Ends with etc...<br><a href='/i/a'>More Info</a> "
            "<a href='/r/a'>Related Items</a></div>"
            "<div><b>B</b><br>Ends with an ellipsis character …<br><a href='/i/b'>More Info</a> "
            "<a href='/r/b'>Related Items</a></div>").encode()
    page = parse_page(body, "http://example.org/")
    assert [(e.summary, e.summary_truncated) for e in page.entries] == [
        ("Ends with etc...", False), ("Ends with an ellipsis character", True)]
