"""The PostgreSQL archive's search column since schema version 3: a trigger fills it from the
title, the summary and the first SEARCH_TEXT_CHARS characters of the text, only when one of
them changed; an archive made at version 2 upgrades and stays searchable; the bound is the
one place where its answers and the SQLite archive's part."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scraper.archive import Archive, ArchiveBackend
from scraper.archive.location import parse_archive_location
from scraper.archive.postgres import schema
from scraper.archive.postgres.core import PostgresCore
from scraper.archive.postgres.schema import SEARCH_TEXT_CHARS
from scraper.archive.postgres.statistics import PostgresStatistics
from scraper.models import FetchResult, Link, Page

T0 = datetime(2026, 3, 1, tzinfo=UTC)
URL = "http://wiki.test/wiki/Basalt"
# Filler words that no test searches for; ~6 characters each.
FILLER = " ".join(f"w{i:04d}" for i in range(3000))


class Searcher(PostgresStatistics):
    def __init__(self, core: PostgresCore) -> None:
        self.core = core


@pytest.fixture
def core(postgres_url: str) -> Iterator[PostgresCore]:
    opened = PostgresCore(parse_archive_location(postgres_url), retry_for=10)
    yield opened
    opened.close()


def long_text(early: str, late: str) -> str:
    """`early` at the start and `late` past the indexed part, filler between."""
    text = f"{early} {FILLER} {late}"
    assert text.index(late) > SEARCH_TEXT_CHARS and text.index(early) < 100
    return text


def insert_page(conn: Any, url: str, title: str, summary: str, text: str) -> None:
    conn.execute(
        "INSERT INTO pages (url, site, title, summary, text, first_seen, last_fetched,"
        " last_changed, current_version) VALUES (%s, 'w', %s, %s, %s, %s, %s, %s, 1)",
        (url, title, summary, text, T0, T0, T0))


def found(searcher: Searcher, query: str) -> list[str]:
    return [hit["url"] for hit in searcher.search(query)]


def test_a_version_2_archive_upgrades_to_3_and_stays_searchable(core: PostgresCore) -> None:
    schema.migrate(core, target=2)
    with core.transaction() as conn:
        # Filled by version 2's generated column, from the whole text.
        insert_page(conn, URL, "Basalt columns", "Volcanic rock",
                    long_text("hexagonal jointing", "obsidianlate"))
    assert schema.migrate(core, target=4) == ["003_search_trigger", "004_worker_runs"]
    searcher = Searcher(core)
    # The stored vector is kept: no rewrite of the table at the upgrade.
    assert found(searcher, "basalt") == found(searcher, "volcanic") == [URL]
    assert found(searcher, "jointing") == found(searcher, "obsidianlate") == [URL]
    with core.transaction() as conn:
        # A changed text is indexed again, up to the bound.
        conn.execute("UPDATE pages SET text = %s WHERE url = %s",
                     (long_text("columnar cooling", "pumicelate"), URL))
        insert_page(conn, "http://wiki.test/wiki/Granite", "Granite", "Intrusive rock",
                    long_text("coarse grained", "quartzlate"))
    assert found(searcher, "jointing") == found(searcher, "obsidianlate") == []
    assert found(searcher, "columnar cooling") == [URL]
    assert found(searcher, "pumicelate") == found(searcher, "quartzlate") == []
    assert found(searcher, "granite") == found(searcher, "coarse grained") == [
        "http://wiki.test/wiki/Granite"]
    assert found(searcher, "rock") == [URL, "http://wiki.test/wiki/Granite"]
    hit = searcher.search("coarse")[0]
    assert "[coarse]" in hit["snippet"] and "quartzlate" not in hit["snippet"]


def test_an_archive_at_version_4_without_3_gets_3(core: PostgresCore) -> None:
    """Versions 3 and 4 were written side by side: an archive made by a release that had 4
    and not yet 3 records [1, 2, 4]; opening it runs 3."""
    schema.migrate(core, target=2)
    with core.transaction() as conn:
        conn.execute(schema.V4_WORKER_RUNS)
        conn.execute("INSERT INTO schema_version (version, name) VALUES (4, 'worker_runs')")
    assert schema.migrate(core, target=4) == ["003_search_trigger"]
    assert schema.migrate(core, target=4) == []
    assert [v for v, _ in schema.applied_steps(core)] == [1, 2, 3, 4]
    with core.transaction() as conn:
        insert_page(conn, URL, "Basalt", "", long_text("jointing", "obsidianlate"))
    assert found(Searcher(core), "jointing") == [URL]
    assert found(Searcher(core), "obsidianlate") == []


def test_the_vector_is_computed_again_only_when_title_summary_or_text_change(
        core: PostgresCore) -> None:
    schema.migrate(core)

    def vector() -> str:
        with core.transaction() as conn:
            row = conn.execute("SELECT search::text FROM pages WHERE url = %s",
                               (URL,)).fetchone()
        assert row is not None
        return str(row[0])

    with core.transaction() as conn:
        insert_page(conn, URL, "Basalt", "Volcanic rock", "Hexagonal jointing")
    assert vector() == "'basalt':1A 'hexagonal':4C 'jointing':5C 'rock':3B 'volcanic':2B"
    # A marker no parse of these columns could give: it stays while none of them changes.
    with core.transaction() as conn:
        conn.execute("UPDATE pages SET search = 'marker' WHERE url = %s", (URL,))
        # The save path's UPDATE for a new version sets all three, changed or not.
        conn.execute("UPDATE pages SET title = 'Basalt', summary = 'Volcanic rock',"
                     " text = 'Hexagonal jointing', current_version = 2, last_changed = %s"
                     " WHERE url = %s", (T0 + timedelta(days=1), URL))
        conn.execute("UPDATE pages SET seen_count = seen_count + 1 WHERE url = %s", (URL,))
    assert vector() == "'marker'"
    for column, value in (("title", "Basalt columns"), ("summary", "Igneous rock"),
                          ("text", "Hexagonal joints")):
        with core.transaction() as conn:
            conn.execute("UPDATE pages SET search = 'marker' WHERE url = %s", (URL,))
            conn.execute(f"UPDATE pages SET {column} = %s WHERE url = %s", (value, URL))
        assert vector() != "'marker'", column
    assert vector() == ("'basalt':1A 'columns':2A 'hexagonal':5C 'igneous':3B 'joints':6C"
                        " 'rock':4B")


def fetch(url: str, body: bytes, at: datetime) -> FetchResult:
    return FetchResult(url, url, 200, (("Content-Type", "text/html; charset=utf-8"),), body,
                       at, 0.05)


def page(text: str, *links: Link) -> Page:
    return Page(URL, kind="article", title="Basalt", summary="Volcanic rock.", text=text,
                links=links, parser="mediawiki")


def test_a_saved_version_with_unchanged_text_keeps_the_vector(postgres_url: str) -> None:
    archive = Archive.open(postgres_url)
    try:
        run = archive.start_run(["wiki"], {}, T0)
        archive.save(run, "wiki", fetch(URL, b"<p>1</p>", T0), page("Hexagonal jointing"),
                     next_due=T0)
        core = archive.core  # type: ignore[attr-defined]
        with core.transaction() as conn:
            conn.execute("UPDATE pages SET search = 'marker'")
        # A new version (another link), same title, summary and text.
        later = T0 + timedelta(days=1)
        saved = archive.save(run, "wiki", fetch(URL, b"<p>2</p>", later),
                             page("Hexagonal jointing", Link("http://wiki.test/wiki/Lava",
                                                             "Lava", "internal")),
                             next_due=later)
        assert saved.created and saved.version == 2
        with core.transaction() as conn:
            assert conn.execute("SELECT search::text FROM pages").fetchone() == ("'marker'",)
        archive.save(run, "wiki", fetch(URL, b"<p>3</p>", later + timedelta(days=1)),
                     page("Columnar jointing"), next_due=later)
        assert [hit["url"] for hit in archive.search("columnar")] == [URL]
        assert archive.search("hexagonal") == []
    finally:
        archive.close()


@pytest.fixture
def both(postgres_url: str, tmp_path: Path) -> Iterator[tuple[ArchiveBackend, ArchiveBackend]]:
    lite, pg = Archive.open(str(tmp_path / "a.db")), Archive.open(postgres_url)
    yield lite, pg
    pg.close()
    lite.close()


def test_on_long_pages_both_backends_find_the_indexed_part_and_only_sqlite_the_rest(
        both: tuple[ArchiveBackend, ArchiveBackend]) -> None:
    text = long_text("hexagonal jointing", "obsidianlate")
    for archive in both:
        run = archive.start_run(["wiki"], {}, T0)
        archive.save(run, "wiki", fetch(URL, b"<p>1</p>", T0), page(text), next_due=T0)
    lite, pg = both
    for query in ("basalt", "volcanic", "hexagonal jointing", "w0100"):
        assert [h["url"] for h in pg.search(query)] == [h["url"] for h in lite.search(query)] \
            == [URL], query
    # Past SEARCH_TEXT_CHARS characters of text: FTS5 indexes it, the tsvector does not.
    assert [h["url"] for h in lite.search("obsidianlate")] == [URL]
    assert pg.search("obsidianlate") == []


def test_page_text_and_vector_are_stored_with_lz4_from_version_3(core: PostgresCore) -> None:
    schema.migrate(core, target=2)
    with core.transaction() as conn:
        insert_page(conn, URL, "Basalt", "", long_text("jointing", "obsidianlate"))
    schema.migrate(core)
    with core.transaction() as conn:
        insert_page(conn, "http://wiki.test/wiki/Granite", "Granite", "",
                    long_text("coarse", "quartzlate"))
        rows = conn.execute("SELECT url, pg_column_compression(text),"
                            " pg_column_compression(search) FROM pages ORDER BY id").fetchall()
    # Stored values keep their compression; new ones are lz4 (this server is built with it).
    assert rows[0][:2] == (URL, "pglz")
    assert rows[1] == ("http://wiki.test/wiki/Granite", "lz4", "lz4")
