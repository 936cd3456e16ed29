"""Opening archive files: creation, schema upgrades, refusals that leave the file untouched."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

from scraper.archive import Archive
from scraper.archive.blobs import compress_full, sha256_hex
from scraper.archive.sqlite import SCHEMA_VERSION
from scraper.archive.sqlite import schema as archive_schema
from scraper.errors import ArchiveError, SchemaVersionError
from scraper.models import CrawlStats, FetchResult, Link, Page, page_to_dict

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def fill(path: Path) -> None:
    with Archive.open(str(path)) as archive:
        run = archive.start_run(["s"], {}, T0)
        for n in range(30):
            body = (b"<html>%d</html>" % n) * 200
            archive.save(run, "s", FetchResult(f"http://t/{n}", f"http://t/{n}", 200, (), body,
                                               T0, 0.1),
                         Page(f"http://t/{n}", title=f"Page {n}"), next_due=T0)
        archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_open_creates_the_directory_and_sets_wal_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "archive.db"
    with Archive.open(str(path)) as archive:
        assert archive.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert archive.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert archive.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        assert archive.schema_version == SCHEMA_VERSION
    assert path.exists()
    # Reopening an archive at the current version changes nothing.
    with Archive.open(str(path), create=False) as archive:
        rows = archive.conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert rows == [(1, "tables"), (2, "full_text_search"), (3, "summary_columns"),
                    (4, "recent_links"), (5, "recent_links_unchecked"),
                    (6, "notify_outbox")]


def test_missing_file_without_create_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "archive.db"
    with pytest.raises(ArchiveError, match=r"nope/archive.db: no archive here"):
        Archive.open(str(path), create=False)
    assert not path.parent.exists()
    with pytest.raises(ArchiveError, match="no archive here"):
        Archive.open(str(path), readonly=True)


def test_a_file_that_is_not_sqlite_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    content = b"These are my notes, not a database.\n" * 50
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match="not an SQLite database"):
        Archive.open(str(path))
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["notes.db"]


def test_a_truncated_archive_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    fill(path)
    whole = path.read_bytes()
    for cut in (50, 4096 + 100, len(whole) // 2 // 4096 * 4096):
        damaged = whole[:cut]
        path.write_bytes(damaged)
        for leftover in ("-wal", "-shm"):
            Path(str(path) + leftover).unlink(missing_ok=True)
        with pytest.raises(ArchiveError, match="truncated|damaged|corrupt"):
            Archive.open(str(path))
        assert path.read_bytes() == damaged


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ArchiveError, match=r"not a scraper archive \(tables: customers\)"):
        Archive.open(str(path))
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    fill(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError,
                       match=rf"schema version {SCHEMA_VERSION + 1}, newer than this release "
                             rf"understands \({SCHEMA_VERSION}\); upgrade scraper"):
        Archive.open(str(path))
    assert path.read_bytes() == before


def make_version_1_archive(path: Path) -> bytes:
    """An archive as release 1 wrote it: the v1 tables only (no full-text index), with data."""
    conn = sqlite3.connect(path, isolation_level=None)
    archive_schema.migrate(Database(conn), str(path), target=1)
    assert archive_schema.user_version(conn) == 1
    body = b"<html><body><p>Zebras are African equines.</p></body></html>"
    page = Page("http://t/zebra", kind="article", title="Zebra",
                summary="Zebras are African equines.", text="Zebras are African equines.")
    fields = json.dumps(page_to_dict(page)).encode()
    stamp = "2025-01-01T00:00:00.000000+00:00"
    for raw, kind in ((body, "body"), (fields, "fields")):
        data = compress_full(raw)
        conn.execute("INSERT INTO blobs (hash, kind, size, stored_size, base, depth, keyframe,"
                     " created_at, data) VALUES (?, ?, ?, ?, NULL, 1, 1, ?, ?)",
                     (sha256_hex(raw), kind, len(raw), len(data), stamp, data))
    conn.execute("INSERT INTO runs (started_at, status) VALUES (?, 'completed')", (stamp,))
    conn.execute("INSERT INTO pages (url, site, kind, title, summary, text, first_seen,"
                 " last_fetched, last_changed, current_version) VALUES (?, 's', 'article', ?, ?,"
                 " ?, ?, ?, ?, 1)", (page.url, page.title, page.summary, page.text, stamp, stamp,
                                     stamp))
    conn.execute("INSERT INTO snapshots (page_id, version, run_id, fetched_at, last_seen, status,"
                 " kind, title, summary, content_hash, body_hash, body_size, fields_hash)"
                 " VALUES (1, 1, 1, ?, ?, 200, 'article', ?, ?, 'h', ?, ?, ?)",
                 (stamp, stamp, page.title, page.summary, sha256_hex(body), len(body),
                  sha256_hex(fields)))
    conn.executemany("INSERT INTO links (id, page_id, target, kind, anchor, from_version)"
                     " VALUES (?, 1, ?, 'related', '', 1)",
                     [(7, "http://t/horse"), (9, "http://t/donkey")])
    conn.close()
    return body


def test_a_version_1_archive_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    body = make_version_1_archive(path)
    with Archive.open(str(path), create=False) as archive:
        assert archive.schema_version == SCHEMA_VERSION
        # The data written by the old release reads back, and the new index covers it.
        assert archive.body("http://t/zebra") == body
        assert archive.page("http://t/zebra").title == "Zebra"
        assert [hit["url"] for hit in archive.search("equines")] == ["http://t/zebra"]
        steps = archive.conn.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert steps == [(1, "tables"), (2, "full_text_search"), (3, "summary_columns"),
                     (4, "recent_links"), (5, "recent_links_unchecked"),
                     (6, "notify_outbox")]
    # Its version stored before the summary columns existed is summarised from its blob.
    with Archive.open(str(path), create=False) as archive:
        [summary] = list(archive.iter_summaries())
    assert (summary.title, summary.summary_truncated, summary.related) == ("Zebra", False, ())
    # Its links are kept with their ids, and links stored later get ids after them.
    with Archive.open(str(path), create=False) as archive:
        assert [r["source"] for r in archive.linking_to("http://t/donkey")] == ["http://t/zebra"]
        assert archive.conn.execute("SELECT id, target FROM links_settled ORDER BY id"
                                    ).fetchall() == [
            (7, "http://t/horse"), (9, "http://t/donkey")]
        archive.save(1, "s", FetchResult("http://t/mule", "http://t/mule", 200, (), b"m",
                                         datetime(2025, 2, 1, tzinfo=UTC), 0.1),
                     Page("http://t/mule", links=(Link("http://t/horse", "H", "related"),)),
                     next_due=datetime(2025, 3, 1, tzinfo=UTC))
        assert archive.conn.execute("SELECT id FROM links_recent").fetchall() == [(10,)]


def test_version_5_keeps_the_recent_links_and_their_sequence_without_a_foreign_key(
        tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    make_version_1_archive(path)
    conn = sqlite3.connect(path, isolation_level=None)
    archive_schema.migrate(Database(conn), str(path), target=4)
    # A run of release 4 that was killed: its links wait in links_recent, the sequence past
    # the id of one already moved and closed.
    conn.execute("INSERT INTO links_recent (id, page_id, target, kind, from_version)"
                 " VALUES (12, 1, 'http://t/mule', 'related', 1)")
    assert conn.execute("PRAGMA foreign_key_list(links_recent)").fetchall() != []
    conn.close()
    with Archive.open(str(path), create=False) as archive:
        assert archive.schema_version == SCHEMA_VERSION
        conn = archive.conn
        assert conn.execute("PRAGMA foreign_key_list(links_recent)").fetchall() == []
        assert conn.execute("SELECT id, target FROM links_recent").fetchall() == [
            (12, "http://t/mule")]
        assert [r["source"] for r in archive.linking_to("http://t/mule")] == ["http://t/zebra"]
        archive.save(1, "s", FetchResult("http://t/ass", "http://t/ass", 200, (), b"a",
                                         datetime(2025, 2, 1, tzinfo=UTC), 0.1),
                     Page("http://t/ass", links=(Link("http://t/horse", "H", "related"),)),
                     next_due=datetime(2025, 3, 1, tzinfo=UTC))
        assert [r[0] for r in conn.execute("SELECT id FROM links_recent ORDER BY id")] == [12, 13]
        # The run's end moves them where the foreign key is checked.
        archive.finish_run(1, CrawlStats(), status="completed",
                           ended_at=datetime(2025, 2, 1, tzinfo=UTC))
        assert conn.execute("SELECT id FROM links_settled ORDER BY id").fetchall() == [
            (7,), (9,), (12,), (13,)]
        assert conn.execute("SELECT count(*) FROM links_recent").fetchone() == (0,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_failed_upgrade_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    path = tmp_path / "old.db"
    make_version_1_archive(path)

    def broken(db: Database) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    steps = (archive_schema.MIGRATIONS[0],
             archive_schema.Migration(2, "full_text_search", broken))
    monkeypatch.setattr(archive_schema, "MIGRATIONS", steps)
    with pytest.raises(ArchiveError, match="upgrade from version 1 failed, nothing changed"):
        Archive.open(str(path))
    conn = sqlite3.connect(path)
    assert archive_schema.user_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "half_done" not in tables and "pages_fts" not in tables


def test_read_only_files_are_refused_for_writing_but_open_read_only(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    fill(path)
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        with pytest.raises(ArchiveError, match="the archive file is read-only"):
            Archive.open(str(path))
        assert path.read_bytes() == before
    finally:
        path.chmod(0o644)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ArchiveError, match="its directory is read-only"):
            Archive.open(str(path))
    finally:
        tmp_path.chmod(0o755)
    with Archive.open(str(path), readonly=True) as archive:
        assert archive.page("http://t/3").title == "Page 3"
        with pytest.raises(ArchiveError, match="read-only"):
            archive.start_run(["s"], {}, T0)


def test_an_empty_file_becomes_an_archive_only_when_creating(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(ArchiveError, match="empty file, not an archive"):
        Archive.open(str(path), create=False)
    with Archive.open(str(path)) as archive:
        assert archive.schema_version == SCHEMA_VERSION


def test_a_directory_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="is a directory"):
        Archive.open(str(tmp_path))


def test_a_checkpoint_killed_halfway_is_not_mistaken_for_truncation(tmp_path: Path) -> None:
    # A checkpoint copies pages from the log in page order: killed after page 1, the file's
    # header already counts pages the file does not have yet, and the log still holds them.
    path = tmp_path / "archive.db"
    fill(path)
    crash = tmp_path / "crash"
    crash.mkdir()
    with Archive.open(str(path)) as archive:
        archive.conn.execute("PRAGMA wal_autocheckpoint = 0")
        run = archive.start_run(["s"], {}, T0)
        for n in range(30):
            url = f"http://t/more/{n}"
            body = bytes(range(256)) * 40 + b"%d" % n  # incompressible enough to add pages
            archive.save(run, "s", FetchResult(url, url, 200, (), body, T0, 0.1),
                         Page(url, title=f"More {n}"), next_due=T0)
        for suffix in ("", "-wal", "-shm"):
            (crash / f"archive.db{suffix}").write_bytes(Path(f"{path}{suffix}").read_bytes())
        archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = archive.conn.execute("PRAGMA page_size").fetchone()[0]
    first_page = path.read_bytes()[:page_size]
    damaged = crash / "archive.db"
    old = damaged.read_bytes()
    assert int.from_bytes(first_page[28:32], "big") * page_size > len(old)
    damaged.write_bytes(first_page + old[page_size:])
    with Archive.open(str(damaged), create=False) as archive:
        assert archive.page("http://t/more/29").title == "More 29"
        assert archive.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_opening_a_current_archive_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    fill(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a crawl in the middle of a transaction
    try:
        with Archive.open(str(path), create=False) as archive:
            archive.conn.execute("PRAGMA busy_timeout = 0")
            assert archive.page("http://t/1").title == "Page 1"
            assert archive.stats()["pages"] == 30
    finally:
        writer.execute("ROLLBACK")
        writer.close()
