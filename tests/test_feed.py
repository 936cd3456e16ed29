"""scraper.watch.feed: the Atom document built from feed entries, read back with feedparser (the
parser feed readers are built on) and with the standard library's XML parser."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from scraper.watch.feed import ATOM_NS, FeedEntry, FeedInfo, build_atom, entry_id, feed_id

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
URL = "http://127.0.0.1:8000/info/NATO"
A = f"{{{ATOM_NS}}}"


BASE = FeedEntry(
    kind="changed", site="nato", url=URL, title="NATO", version=3, content_hash="ab" * 32,
    at=T0, gist="summary edited",
    content_html='<p class="gist">summary edited</p><table><tr><td><del>old</del></td>'
                 '<td><ins>new &amp; better</ins></td></tr></table>')


def entry(**changes: Any) -> FeedEntry:
    return replace(BASE, **changes)


INFO = FeedInfo(feed_id="urn:uuid:00000000-0000-5000-8000-000000000000", title="Changes",
                updated=T0, self_url="https://example.org/feeds/changes.xml",
                generator_version="9.9")


def test_a_valid_atom_feed_with_the_diff_as_html() -> None:
    newer = entry(version=4, at=T0 + timedelta(hours=1), gist="infobox: Type changed")
    xml = build_atom(INFO, [newer, entry()])
    parsed = feedparser.parse(xml)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == INFO.feed_id and parsed.feed.title == "Changes"
    assert parsed.feed.updated == "2026-11-01T09:00:00Z"  # the newest entry's time
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [INFO.self_url]
    assert [e.id for e in parsed.entries] == [entry_id(newer), entry_id(entry())]
    first = parsed.entries[1]
    assert first.title == "NATO: summary edited"
    assert first.summary == "summary edited"
    assert first.link == URL
    assert first.updated == "2026-11-01T08:00:00Z"
    assert first.tags[0].term == "nato"
    # The HTML arrives as HTML (escaped once in the XML, unescaped once by the reader).
    content = first.content[0]
    assert content.type == "text/html"
    assert "<del>old</del>" in content.value and "<ins>new &amp; better</ins>" in content.value
    # The raw XML carries it escaped, as type="html" requires, not as child elements.
    root = ET.fromstring(xml)
    raw = root.findall(f"{A}entry")[1].find(f"{A}content")
    assert raw is not None and raw.get("type") == "html" and len(raw) == 0
    assert b"&lt;del&gt;old&lt;/del&gt;" in xml


def test_required_atom_elements_are_there() -> None:
    # RFC 4287: feed id, title, updated and an author (or one per entry); entry id, title,
    # updated. feedparser does not check these, so they are checked here.
    root = ET.fromstring(build_atom(INFO, [entry()]))
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert root.find(f"{A}{tag}") is not None, tag
    assert root.findtext(f"{A}author/{A}name") == "scraper"
    for node in root.findall(f"{A}entry"):
        for tag in ("id", "title", "updated"):
            assert (node.findtext(f"{A}{tag}") or "").strip(), tag
    updated = root.findtext(f"{A}updated") or ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", updated)


def test_an_empty_feed_is_valid_and_dated_by_its_info() -> None:
    parsed = feedparser.parse(build_atom(INFO, []))
    assert not parsed.bozo and parsed.entries == []
    assert parsed.feed.updated == "2026-11-01T08:00:00Z"


def test_text_xml_cannot_hold_and_terminal_controls_are_made_safe() -> None:
    # Scraped titles may hold C0 controls (not allowed in XML 1.0 even escaped), C1 controls
    # and bidi overrides (allowed, but obeyed by a terminal the feed is printed on).
    nasty = entry(title="NA\x00TO\x1b[31m\u202eevil\x85", gist="gist\x0b with\ufffe junk",
                  content_html="<p>body\x07 \u202e</p>")
    xml = build_atom(INFO, [nasty])
    for raw in (b"\x00", b"\x1b", b"\x0b", b"\x07", "\u202e".encode(), "\x85".encode()):
        assert raw not in xml, raw
    assert b"&#x202e;" in xml and b"&#x85;" in xml
    parsed = feedparser.parse(xml)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].title.startswith("NA\ufffdTO\ufffd[31m\u202eevil")
    # A strict parser reads back exactly the text, with U+FFFD where XML could not hold it
    # (feedparser reads &#x85; as cp1252's ellipsis, as browsers do).
    title = ET.fromstring(xml).findtext(f"{A}entry/{A}title")
    assert title == "NA\ufffdTO\ufffd[31m\u202eevil\x85: gist\ufffd with\ufffd junk"


def test_entry_ids_are_tag_uris_fixed_by_the_version() -> None:
    one = entry_id(entry())
    assert one == entry_id(entry(gist="another gist", title="Renamed", content_html=""))
    assert re.fullmatch(r"tag:127\.0\.0\.1,2026-11-01:nato/v3-abababababababab/"
                        r"http%3A%2F%2F127\.0\.0\.1%3A8000%2Finfo%2FNATO", one)
    others = {entry_id(entry(version=4)), entry_id(entry(content_hash="cd" * 32)),
              entry_id(entry(site="other")), entry_id(entry(url=URL + "_2")),
              entry_id(entry(kind="gone", content_hash=""))}
    assert one not in others and len(others) == 5
    # A host that is no DNS name (an IPv6 literal) tags under a reserved name.
    v6 = entry_id(entry(url="http://[::1]:8000/info/NATO"))
    assert v6.startswith("tag:scraper.invalid,2026-11-01:nato/v3-")


def test_feed_id_is_the_self_url_or_named_by_archive_and_site() -> None:
    assert feed_id("https://example.org/f.xml", "/a.db", None) == "https://example.org/f.xml"
    plain = feed_id(None, "/srv/a.db", None)
    assert plain.startswith("urn:uuid:") and plain == feed_id(None, "/srv/a.db", None)
    assert plain != feed_id(None, "/srv/a.db", "nato") != feed_id(None, "/srv/b.db", "nato")


def test_links_only_for_http_urls_and_long_titles_cut() -> None:
    odd = entry(url="javascript:alert(1)", title="x" * 500)
    parsed = feedparser.parse(build_atom(INFO, [odd]))
    assert not parsed.bozo
    assert not [link for link in parsed.entries[0].get("links", []) if link.rel == "alternate"]
    assert len(parsed.entries[0].title) == 200 and parsed.entries[0].title.endswith("…")
