"""The sitemap parser (pure): urlsets and indexes, plain or gzip, every W3C datetime form of
lastmod, the protocol's caps, and bodies that are no sitemaps."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from scraper.errors import ParseError
from scraper.parse.sitemap import parse_sitemap, parse_w3c_datetime

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
URL = "http://h/sitemap.xml"


def urlset(*entries: str, ns: str = NS) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {ns}>{"".join(entries)}</urlset>'.encode()


@pytest.mark.parametrize(("text", "expected"), [
    ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
    ("2024-05", datetime(2024, 5, 1, tzinfo=UTC)),
    ("2024-05-17", datetime(2024, 5, 17, tzinfo=UTC)),
    ("2024-05-17T10:20Z", datetime(2024, 5, 17, 10, 20, tzinfo=UTC)),
    ("2024-05-17T10:20+02:00", datetime(2024, 5, 17, 8, 20, tzinfo=UTC)),
    ("2024-05-17T10:20:30Z", datetime(2024, 5, 17, 10, 20, 30, tzinfo=UTC)),
    ("2024-05-17T10:20:30-05:30", datetime(2024, 5, 17, 15, 50, 30, tzinfo=UTC)),
    ("2024-05-17T10:20:30.45Z", datetime(2024, 5, 17, 10, 20, 30, 450000, tzinfo=UTC)),
    ("2024-05-17T10:20:30.1234567+00:00",
     datetime(2024, 5, 17, 10, 20, 30, 123456, tzinfo=UTC)),
    # Forms sites write although W3C does not: no zone (UTC), a space, +hhmm.
    ("2024-05-17T10:20:30", datetime(2024, 5, 17, 10, 20, 30, tzinfo=UTC)),
    ("2024-05-17 10:20:30+0100", datetime(2024, 5, 17, 9, 20, 30, tzinfo=UTC)),
    (" 2024-05-17 ", datetime(2024, 5, 17, tzinfo=UTC)),
])
def test_lastmod_reads_every_w3c_datetime_form(text: str, expected: datetime) -> None:
    assert parse_w3c_datetime(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024-02-30", "24-05-17",
                                  "2024-05-17T25:00Z", "2024-05-17T10Z", "17/05/2024",
                                  "2024-05-17T10:20:30+25:00", "0000-01-01"])
def test_a_bad_lastmod_is_none(text: str) -> None:
    assert parse_w3c_datetime(text) is None


def test_a_urlset_gives_its_urls_and_lastmods_and_drops_bad_ones() -> None:
    body = urlset(
        "<url><loc> http://h/a </loc><lastmod>2024-05-17</lastmod><priority>0.5</priority></url>",
        "<url><loc>http://h/b</loc><lastmod>last week</lastmod></url>",  # kept, no lastmod
        "<url><lastmod>2024-05-17</lastmod></url>",  # no loc
        "<url><loc>/relative</loc></url>",
        "<url><loc>ftp://h/c</loc></url>",
        '<url xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><loc>http://h/d</loc>'
        "<image:image><image:loc>http://h/d.jpg</image:loc></image:image></url>",
    )
    sitemap = parse_sitemap(body, URL)
    assert sitemap.kind == "urlset"
    assert [(e.url, e.lastmod) for e in sitemap.entries] == [
        ("http://h/a", datetime(2024, 5, 17, tzinfo=UTC)), ("http://h/b", None),
        ("http://h/d", None)]
    assert sitemap.bad_lastmods == 1
    assert sitemap.bad_locs == 3
    assert not sitemap.truncated


def test_an_index_lists_its_sitemaps_in_any_namespace_or_none() -> None:
    for ns in (NS, 'xmlns="http://www.google.com/schemas/sitemap/0.84"', ""):
        body = (f"<sitemapindex {ns}><sitemap><loc>http://h/1.xml.gz</loc>"
                "<lastmod>2024-01-02T03:04:05Z</lastmod></sitemap>"
                "<sitemap><loc>http://h/2.xml</loc></sitemap></sitemapindex>").encode()
        sitemap = parse_sitemap(body, URL)
        assert sitemap.kind == "index"
        assert [e.url for e in sitemap.entries] == ["http://h/1.xml.gz", "http://h/2.xml"]


def test_gzip_is_known_by_its_content_whatever_the_name() -> None:
    body = urlset("<url><loc>http://h/a</loc></url>")
    assert parse_sitemap(gzip.compress(body), "http://h/s.xml").entries[0].url == "http://h/a"
    # A .gz the HTTP layer already inflated (Content-Encoding: gzip) is read as XML.
    assert parse_sitemap(body, "http://h/s.xml.gz").entries[0].url == "http://h/a"


def test_the_entry_cap_truncates() -> None:
    body = urlset(*(f"<url><loc>http://h/{i}</loc></url>" for i in range(11)))
    sitemap = parse_sitemap(body, URL, max_entries=10)
    assert sitemap.truncated
    assert [e.url for e in sitemap.entries] == [f"http://h/{i}" for i in range(10)]
    assert not parse_sitemap(body, URL, max_entries=11).truncated


def test_the_size_cap_refuses_plain_and_inflated_bodies() -> None:
    body = urlset(*(f"<url><loc>http://h/{i}</loc></url>{' ' * 1000}" for i in range(100)))
    with pytest.raises(ParseError, match="over the sitemaps protocol's cap of 50,000"):
        parse_sitemap(body, URL, max_bytes=50_000)
    with pytest.raises(ParseError, match="inflates to more than 50,000 bytes.*bomb"):
        parse_sitemap(gzip.compress(body), URL, max_bytes=50_000)
    assert len(parse_sitemap(gzip.compress(body), URL, max_bytes=len(body)).entries) == 100


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "the body is empty"),
    (b"   ", "the body is empty"),
    (b"<html><body><p>Page not found</p></body></html>", "root element is <html>"),
    (b"<urlset><url><loc>http://h/a</loc></urlset>", "not a well-formed sitemap"),
    (b"http://h/a\nhttp://h/b\n", "not a well-formed sitemap"),
    (b'{"urls": []}', "not a well-formed sitemap"),
    (gzip.compress(b"<urlset></urlset>")[:-12], "cut short"),
    (b"\x1f\x8b\x08\x00garbage-garbage-garbage", "does not inflate"),
])
def test_what_is_no_sitemap_is_a_parse_error_naming_the_url(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason) as caught:
        parse_sitemap(body, URL)
    assert caught.value.url == URL


def test_entities_are_never_expanded_or_fetched() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">'
            b'<!ENTITY y "http://h/expanded">]>'
            b"<urlset><url><loc>&x;</loc></url><url><loc>&y;</loc></url></urlset>")
    try:
        sitemap = parse_sitemap(body, URL)
    except ParseError:
        return  # refused outright: as good
    assert all("root:" not in e.url for e in sitemap.entries)
    assert [e.url for e in sitemap.entries] == []
