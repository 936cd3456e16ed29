"""The PostgreSQL archive's reads (PostgresReads) on a real server: every read member gives
what the SQLite archive gives for the same archive.

The archive is written by the SQLite backend's save (versions, delta chains, links over
versions, a frontier URL stored under another page URL, failures, a gone page, skips) and
its rows are copied into a fresh PostgreSQL database by scraper.archive.copy (table by table,
ids kept), so that the reads are checked on rows with real delta chains, independently of the
PostgreSQL write path.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import pq

from scraper.archive.blobs import BlobStore
from scraper.archive.copy import copy_archive
from scraper.archive.location import parse_archive_location
from scraper.archive.postgres.blobs import PostgresBlobRows
from scraper.archive.postgres.core import PostgresCore
from scraper.archive.postgres.reads import PostgresReads
from scraper.archive.postgres.schema import SCHEMA_VERSION
from scraper.archive.sqlite import SQLiteArchive
from scraper.errors import ArchiveError
from scraper.models import Entry, FetchResult, FrontierItem, Link, Page

T0 = datetime(2026, 3, 1, tzinfo=UTC)
URL = "http://wiki.test/wiki/Mozilla"
FIREFOX = "http://wiki.test/wiki/Firefox"
NATO = "http://list.test/related/NATO"
# Sorts differently by code point than in most locales' collations (upper case first).
ZEBRA = "http://wiki.test/wiki/Zebra"
ALIAS = "http://wiki.test/w?title=Mozilla"


class ReadArchive(PostgresReads):
    """PostgresReads with the attributes PostgresArchive gives it."""

    def __init__(self, core: PostgresCore, full_copy_every: int = 20) -> None:
        self.core = core
        self.blob_rows = PostgresBlobRows()
        self.blobs = BlobStore(self.blob_rows, max_depth=full_copy_every)


def fetch(url: str, body: bytes, at: datetime) -> FetchResult:
    headers = (("Content-Type", "text/html; charset=utf-8"), ("ETag", f'"{len(body)}"'))
    return FetchResult(url, url, 200, headers, body, at, 0.05)


def article(url: str = URL, **changes: Any) -> Page:
    fields: dict[str, Any] = {
        "kind": "article", "title": "Mozilla", "summary": "Mozilla is a free software community.",
        "text": "Mozilla is a free software community.\n\nIt was founded in 1998.",
        "links": (Link(FIREFOX, "Firefox", "see_also"),
                  Link("http://wiki.test/wiki/Netscape", "Netscape", "internal")),
        "categories": ("Free software",), "infobox": (("Founded", "1998"),),
        "image": "http://wiki.test/logo.png", "revision_id": 100, "parser": "mediawiki",
    }
    fields.update(changes)
    return Page(url, **fields)


def build(archive: SQLiteArchive) -> None:
    """Versions with delta chains, links that change, an alias URL, a gone page, a 304."""
    run = archive.start_run(["wiki", "list"], {}, T0)
    body = b"<html>" + b"Mozilla is a free software community. " * 200
    for day in range(5):
        at = T0 + timedelta(days=day)
        links = (Link(FIREFOX, "Firefox", "see_also"),
                 Link(f"http://wiki.test/wiki/Day{day % 2}", f"Day {day % 2}", "internal"))
        archive.save(run, "wiki", fetch(URL, body + b"%d</html>" % day, at),
                     article(summary=f"summary {day}", links=links, revision_id=100 + day),
                     next_due=at)
    archive.save(run, "wiki", fetch(ALIAS, b"<ff/>", T0), article(
        FIREFOX, title="Firefox", summary="A browser.",
        text="Firefox is a web browser made by Mozilla.", links=(Link(URL, "Moz", "internal"),),
        image=None, infobox=()), next_due=T0)
    archive.save(run, "wiki", fetch(ZEBRA, b"<z/>", T0 + timedelta(days=1)), article(
        ZEBRA, title="zebra", summary="", text="A striped animal.", links=(),
        categories=()), next_due=T0)
    archive.save(run, "list", fetch(NATO, b"<l/>", T0 + timedelta(days=2)),
                 Page(NATO, kind="listing", title="NATO",
                      entries=(Entry("NATO", "An alliance ..."),)), next_due=T0)
    archive.enqueue([FrontierItem("http://wiki.test/wiki/Queued", "wiki", depth=1)], T0)
    later = T0 + timedelta(days=3)
    archive.record_not_modified(run, "wiki", FetchResult(FIREFOX, FIREFOX, 304, (), b"",
                                                         later, 0.01), next_due=later)
    archive.record_failure(run, "wiki", ZEBRA, reason="HTTP 410", attempts=1, status=410,
                           now=later, next_due=later, gone=True)
    archive.record_skipped(run, "wiki", "http://wiki.test/a.pdf", reason="not HTML",
                           now=later, next_due=later)


@pytest.fixture
def both(postgres_url: str, tmp_path: Any) -> Iterator[tuple[SQLiteArchive, ReadArchive]]:
    """The same archive on SQLite and (copied) on PostgreSQL; small chains (K=4) so that
    reads walk deltas and keyframes."""
    lite = SQLiteArchive.open(str(tmp_path / "a.db"), full_copy_every=4)
    build(lite)
    copy_archive(str(tmp_path / "a.db"), postgres_url)
    core = PostgresCore(parse_archive_location(postgres_url))
    yield lite, ReadArchive(core, full_copy_every=4)
    core.close()
    lite.close()


def test_the_copied_archive_has_delta_chains_to_read(
        both: tuple[SQLiteArchive, ReadArchive]) -> None:
    _, pg = both
    deltas = pg.core.run(lambda c: c.execute(
        "SELECT count(*) FROM blobs WHERE base IS NOT NULL").fetchone())
    assert deltas is not None and deltas[0] >= 2


def test_one_page_reads_equal_sqlites(both: tuple[SQLiteArchive, ReadArchive]) -> None:
    lite, pg = both
    for url in (URL, FIREFOX, ALIAS, ZEBRA, NATO):
        assert pg.history(url) == lite.history(url)
        assert pg.snapshot(url) == lite.snapshot(url)
        assert pg.page(url) == lite.page(url)
        assert pg.body(url) == lite.body(url)
        assert pg.response_headers(url) == lite.response_headers(url)
        assert pg.current_hash(url) == lite.current_hash(url)
        assert pg.page_info(url) == lite.page_info(url)
        assert pg.linking_to(url) == lite.linking_to(url)
    for version in range(1, 6):
        assert pg.snapshot(URL, version) == lite.snapshot(URL, version)
        assert pg.page(URL, version) == lite.page(URL, version)
        assert pg.body(URL, version) == lite.body(URL, version)
    assert [s.version for s in pg.history(URL)] == [1, 2, 3, 4, 5]
    assert pg.links_changes(URL, 1, 2) == lite.links_changes(URL, 1, 2)
    assert pg.links_changes(URL, 1, 2)["added"] == [
        {"kind": "internal", "target": "http://wiki.test/wiki/Day1", "anchor": "Day 1"}]
    assert pg.links_changes(URL, 1, 3) == {"added": [], "removed": []}
    for when in (T0 - timedelta(days=1), T0, T0 + timedelta(days=2, hours=1),
                 datetime(2030, 1, 1, tzinfo=UTC)):
        assert pg.version_at(URL, when) == lite.version_at(URL, when)
    assert pg.version_at(URL, T0 + timedelta(days=2, hours=1)) == 3
    assert pg.has_revision(URL, 102) and not pg.has_revision(URL, 99)
    assert not pg.has_revision("http://nowhere/x", 100)
    assert pg.current_hash("http://nowhere/x") is None
    # The page row's times are the archive's ISO text, as SQLite's.
    info = pg.page_info(FIREFOX)
    assert info["not_modified_count"] == 1 and info["gone"] is False
    assert info["last_fetched"] == (T0 + timedelta(days=3)).isoformat(timespec="microseconds")


def test_unknown_urls_and_versions_raise_archive_error_naming_them(
        both: tuple[SQLiteArchive, ReadArchive]) -> None:
    _, pg = both
    for read in (pg.history, pg.snapshot, pg.page, pg.body, pg.page_info,
                 pg.response_headers):
        with pytest.raises(ArchiveError, match="no page http://nowhere/x in the archive"):
            read("http://nowhere/x")
    with pytest.raises(ArchiveError, match=r"has no version 9 \(versions 1 to 5\)"):
        pg.body(URL, 9)
    with pytest.raises(ArchiveError, match="no page http://nowhere/x"):
        pg.version_at("http://nowhere/x", T0)
    with pytest.raises(ArchiveError, match="no page"):
        pg.links_changes("http://nowhere/x", 1, 2)


def test_find_page_url_mirrors_sqlite_and_suggests_neighbours(
        both: tuple[SQLiteArchive, ReadArchive]) -> None:
    lite, pg = both
    for text in (URL, "HTTP://WIKI.TEST/wiki/Mozilla#History", "wiki.test/wiki/Mozilla/",
                 "https://wiki.test/wiki/Mozilla", ALIAS, f"  {NATO} "):
        assert pg.find_page_url(text) == lite.find_page_url(text)
    for text in ("http://wiki.test/wiki/Mozill", "not a url at all"):
        with pytest.raises(ArchiveError) as lite_error:
            lite.find_page_url(text)
        with pytest.raises(ArchiveError) as pg_error:
            pg.find_page_url(text)
        assert str(pg_error.value).split(": ", 1)[1] == str(lite_error.value).split(": ", 1)[1]


def test_a_damaged_blob_is_an_archive_error_naming_the_url(
        both: tuple[SQLiteArchive, ReadArchive]) -> None:
    _, pg = both
    body_hash = pg.snapshot(URL, 1).body_hash
    pg.core.run(lambda c: c.execute("UPDATE blobs SET data = '\\x00'::bytea WHERE hash = %s",
                                    (body_hash,)))
    with pytest.raises(ArchiveError, match=f"{URL}: stored body unreadable"):
        pg.body(URL, 1)


def test_iterators_equal_sqlites_in_the_same_order(
        both: tuple[SQLiteArchive, ReadArchive]) -> None:
    lite, pg = both
    windows: list[dict[str, Any]] = [
        {}, {"all_versions": True}, {"site": "wiki", "all_versions": True},
        {"as_of": T0 + timedelta(days=1, hours=1)},
        {"all_versions": True, "since": T0 + timedelta(days=1), "until": T0 + timedelta(days=3)},
    ]
    for kwargs in windows:
        assert list(pg.iter_versions(**kwargs)) == list(lite.iter_versions(**kwargs))
        assert list(pg.iter_summaries(**kwargs)) == list(lite.iter_summaries(**kwargs))
    urls = [s.url for _, s, _ in pg.iter_versions()]
    assert urls == [NATO, FIREFOX, URL, ZEBRA]  # "Z" after "M" by code point
    assert len(list(pg.iter_versions(all_versions=True))) == 8
    for site in (None, "wiki", "list"):
        for every in (False, True):
            assert (list(pg.iter_links(site=site, all_versions=every))
                    == list(lite.iter_links(site=site, all_versions=every)))
        assert (list(pg.versions_between(T0 + timedelta(days=1), site=site))
                == list(lite.versions_between(T0 + timedelta(days=1), site=site)))
    assert len(list(pg.iter_links(all_versions=True))) == 11
    until = T0 + timedelta(days=2)
    assert (list(pg.versions_between(T0, until))
            == list(lite.versions_between(T0, until)))
    for limit, kwargs in ((3, {}), (100, {}), (100, {"site": "wiki", "until": until}),
                          (2, {"since": T0 + timedelta(days=1)})):
        assert pg.latest_versions(limit, **kwargs) == lite.latest_versions(limit, **kwargs)


def test_an_iterator_and_single_reads_interleave(
        both: tuple[SQLiteArchive, ReadArchive]) -> None:
    # Export reads bodies while it walks the versions: both on the one connection.
    lite, pg = both
    walked = [(s.url, pg.body(s.url, s.version)) for _, s, _ in
              pg.iter_versions(all_versions=True)]
    assert walked == [(s.url, lite.body(s.url, s.version)) for _, s, _ in
                      lite.iter_versions(all_versions=True)]
    # An iterator left half-read ends its transaction when dropped.
    half = pg.iter_summaries(all_versions=True)
    next(half)
    half.close()
    assert pg.history(NATO) == lite.history(NATO)


def test_gone_and_new_pages_equal_sqlites(both: tuple[SQLiteArchive, ReadArchive]) -> None:
    lite, pg = both
    for since in (T0, T0 + timedelta(days=1), T0 + timedelta(days=3), T0 + timedelta(days=4)):
        for site in (None, "wiki", "list"):
            assert pg.gone_pages(since, site) == lite.gone_pages(since, site)
            assert pg.new_pages(since, site) == lite.new_pages(since, site)
    assert [p["url"] for p in pg.gone_pages(T0)] == [ZEBRA]
    assert [p["url"] for p in pg.new_pages(T0 + timedelta(days=1))] == [ZEBRA, NATO]


def test_fill_rates_and_stats_equal_sqlites(both: tuple[SQLiteArchive, ReadArchive]) -> None:
    lite, pg = both
    for site in ("wiki", "list", "nothing"):
        assert pg.field_fill_rates(site) == lite.field_fill_rates(site)
        assert pg.field_fill_rates(site, run_id=1) == lite.field_fill_rates(site, run_id=1)
    assert pg.field_fill_rates("wiki")["image"] == round(2 / 3, 4)
    stats, expected = pg.stats(), lite.stats()
    differ = {"path", "file_size", "schema_version"}
    assert {k: v for k, v in stats.items() if k not in differ} == {
        k: v for k, v in expected.items() if k not in differ}
    assert stats["schema_version"] == SCHEMA_VERSION and stats["file_size"] > 0
    assert stats["path"] == pg.core.path


def test_search_ranks_title_matches_first_with_bracketed_snippets(
        both: tuple[SQLiteArchive, ReadArchive]) -> None:
    lite, pg = both
    hits = pg.search("browser")
    assert [h["url"] for h in hits] == [h["url"] for h in lite.search("browser")] == [FIREFOX]
    assert "[browser]" in hits[0]["snippet"]
    assert set(hits[0]) == set(lite.search("browser")[0])
    assert (hits[0]["site"], hits[0]["title"], hits[0]["version"]) == ("wiki", "Firefox", 1)
    # A title match outranks a text match; both pages mention Mozilla.
    assert [h["url"] for h in pg.search("mozilla")] == [URL, FIREFOX]
    assert [h["rank"] for h in pg.search("mozilla")] == sorted(
        h["rank"] for h in pg.search("mozilla"))
    # Old text leaves the index; query syntax is harmless; an empty query finds nothing.
    assert pg.search("summary 0") == []
    assert [h["url"] for h in pg.search("summary 4")] == [URL]
    assert pg.search('" OR NOT (') == [] == lite.search('" OR NOT (')
    assert pg.search("  ") == []
    assert len(pg.search("mozilla", limit=1)) == 1


def round_trips(pg: ReadArchive, read: Callable[[], object]) -> int:
    """How many times `read` sent messages to the server and then waited for its answer
    (libpq's protocol trace of the archive's one connection: F lines sent, B received)."""
    conn = pg.core.run(lambda c: c)
    with tempfile.TemporaryFile() as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            read()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        lines = trace.read().decode().splitlines()
    directions = [line.split("\t")[0] for line in lines]
    return sum(1 for sent, got in itertools.pairwise(directions) if (sent, got) == ("F", "B"))


def test_current_hash_is_one_round_trip(both: tuple[SQLiteArchive, ReadArchive]) -> None:
    """The crawl's archive thread asks for it before every save and waits for each answer:
    one statement, outside a transaction (BEGIN and COMMIT would make it three)."""
    lite, pg = both
    urls = (URL, ALIAS, "http://wiki.test/wiki/Queued", "http://nowhere/x")
    for url in urls:
        assert pg.current_hash(url) == lite.current_hash(url)
    # psycopg prepares a statement on its fifth run, which costs one more round trip once.
    for url in urls * 2:
        pg.current_hash(url)
    for url in urls:
        assert round_trips(pg, lambda u=url: pg.current_hash(u)) == 1, url
