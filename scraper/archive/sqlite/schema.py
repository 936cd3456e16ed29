"""The SQLite archive's tables, its named migrations and the check of an opened file's schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scraper.archive.sqlite.core import unreadable
from scraper.errors import ArchiveError, SchemaVersionError
from scraper.timeutil import iso, utcnow

if TYPE_CHECKING:
    from sqlite_utils import Database

# Tables this release knows; a file with other tables and no user_version is someone else's.
OUR_TABLES = ("runs", "blobs", "pages", "snapshots", "links", "failures", "skips", "frontier",
              "schema_migrations", "links_settled", "links_recent", "notify_outbox",
              "notify_targets", "notify_deliveries")

# Version 1: the tables. Never edit a shipped step: add a new one.
V1_TABLES = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    sites TEXT NOT NULL DEFAULT '[]',
    config TEXT NOT NULL DEFAULT '{}',
    fetched INTEGER NOT NULL DEFAULT 0,
    new_versions INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    not_modified INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    retried INTEGER NOT NULL DEFAULT 0,
    queued INTEGER NOT NULL DEFAULT 0,
    elapsed_s REAL NOT NULL DEFAULT 0,
    alerts TEXT NOT NULL DEFAULT '[]',
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE blobs (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    stored_size INTEGER NOT NULL,
    base TEXT REFERENCES blobs(hash),
    depth INTEGER NOT NULL,
    keyframe INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    site TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'other',
    title TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_fetched TEXT NOT NULL,
    last_changed TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    seen_count INTEGER NOT NULL DEFAULT 1,
    not_modified_count INTEGER NOT NULL DEFAULT 0,
    gone INTEGER NOT NULL DEFAULT 0,
    gone_at TEXT
);
CREATE INDEX pages_site_url ON pages(site, url);
CREATE INDEX pages_first_seen ON pages(first_seen);
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    version INTEGER NOT NULL,
    run_id INTEGER REFERENCES runs(id),
    fetched_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    seen_count INTEGER NOT NULL DEFAULT 1,
    status INTEGER NOT NULL,
    final_url TEXT,
    etag TEXT,
    last_modified TEXT,
    revision_id INTEGER,
    revision_timestamp TEXT,
    revision_user TEXT,
    revision_comment TEXT,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    image TEXT,
    categories TEXT NOT NULL DEFAULT '[]',
    infobox TEXT NOT NULL DEFAULT '[]',
    text_length INTEGER NOT NULL DEFAULT 0,
    link_count INTEGER NOT NULL DEFAULT 0,
    entry_count INTEGER NOT NULL DEFAULT 0,
    parser TEXT NOT NULL DEFAULT '',
    parser_version TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    body_hash TEXT NOT NULL REFERENCES blobs(hash),
    body_size INTEGER NOT NULL,
    fields_hash TEXT NOT NULL REFERENCES blobs(hash),
    headers TEXT NOT NULL DEFAULT '[]',
    change_gist TEXT NOT NULL DEFAULT '',
    UNIQUE (page_id, version)
);
CREATE INDEX snapshots_fetched_at ON snapshots(fetched_at);
CREATE INDEX snapshots_run ON snapshots(run_id);
CREATE INDEX snapshots_revision ON snapshots(page_id, revision_id);
CREATE TABLE links (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    anchor TEXT NOT NULL DEFAULT '',
    from_version INTEGER NOT NULL,
    to_version INTEGER
);
CREATE INDEX links_target ON links(target, to_version);
CREATE INDEX links_page ON links(page_id, to_version);
CREATE TABLE failures (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id),
    site TEXT NOT NULL,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    status INTEGER,
    gone INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL
);
CREATE INDEX failures_url ON failures(url);
CREATE INDEX failures_run ON failures(run_id);
CREATE TABLE skips (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id),
    site TEXT NOT NULL,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX skips_run ON skips(run_id);
CREATE TABLE frontier (
    url TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    depth INTEGER NOT NULL DEFAULT 0,
    discovered_from TEXT,
    link_kind TEXT,
    added_at TEXT NOT NULL,
    next_due TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    fetch_count INTEGER NOT NULL DEFAULT 0,
    last_fetched TEXT,
    last_status INTEGER,
    etag TEXT,
    last_modified TEXT,
    page_id INTEGER REFERENCES pages(id),
    gone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX frontier_due ON frontier(site, (fetch_count > 0), next_due);
CREATE VIEW page_versions AS
    SELECT p.url, p.site, s.version, s.fetched_at, s.last_seen, s.seen_count, s.status,
           s.revision_id, s.revision_timestamp, s.revision_user, s.revision_comment,
           s.title, s.summary, s.change_gist, s.content_hash, s.body_hash, s.body_size,
           s.run_id, s.id AS snapshot_id
    FROM snapshots s JOIN pages p ON p.id = s.page_id;
CREATE VIEW current_links AS
    SELECT p.url AS source, p.site, l.target, l.kind, l.anchor, l.from_version AS since_version
    FROM links l JOIN pages p ON p.id = l.page_id
    WHERE l.to_version IS NULL;
CREATE VIEW snapshot_links AS
    SELECT s.id AS snapshot_id, p.url AS source, s.version, l.target, l.kind, l.anchor
    FROM links l
    JOIN pages p ON p.id = l.page_id
    JOIN snapshots s ON s.page_id = l.page_id AND s.version >= l.from_version
        AND (l.to_version IS NULL OR s.version <= l.to_version);
"""

# Version 2: full-text search over the current title, summary and text of each page. The
# triggers fire only when those columns change, not on every seen_count update.
V2_FTS_TRIGGERS = """
CREATE TRIGGER pages_fts_ai AFTER INSERT ON pages BEGIN
  INSERT INTO pages_fts (rowid, title, summary, text)
  VALUES (new.id, new.title, new.summary, new.text);
END;
CREATE TRIGGER pages_fts_ad AFTER DELETE ON pages BEGIN
  INSERT INTO pages_fts (pages_fts, rowid, title, summary, text)
  VALUES ('delete', old.id, old.title, old.summary, old.text);
END;
CREATE TRIGGER pages_fts_au AFTER UPDATE OF title, summary, text ON pages BEGIN
  INSERT INTO pages_fts (pages_fts, rowid, title, summary, text)
  VALUES ('delete', old.id, old.title, old.summary, old.text);
  INSERT INTO pages_fts (rowid, title, summary, text)
  VALUES (new.id, new.title, new.summary, new.text);
END;
"""


def _v1_tables(db: Database) -> None:
    db.executescript(V1_TABLES)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
               " applied_at TEXT NOT NULL)")


def _v2_full_text_search(db: Database) -> None:
    # enable_fts fills the index from the rows already there, so an upgraded archive is searchable.
    db["pages"].enable_fts(["title", "summary", "text"], create_triggers=False)  # type: ignore[union-attr]
    db.executescript(V2_FTS_TRIGGERS)


def _v3_summary_columns(db: Database) -> None:
    # What exports and listings read of each version, beside it, so they need not decompress
    # the fields blob. Rows stored before this step keep NULL here and are read from the blob.
    db.execute("ALTER TABLE snapshots ADD COLUMN summary_truncated INTEGER")
    db.execute("ALTER TABLE snapshots ADD COLUMN related TEXT")


# Version 4: links are written to `links_recent`, which has no index by target, and moved into
# `links_settled` (the old `links` table, with that index) at the end of each run; `links` is
# their union. A crawl stores ~100 links per page whose targets land at scattered places of a
# links-by-target index, so every commit rewrote most of that index's leaves: on the crawl
# benchmark it cost ~2 ms of CPU per stored page, while the move costs ~0.5 ms per page, made
# once, in id order. Ids come from one AUTOINCREMENT sequence, so they keep page order across
# both tables and are never reused after a move. The views are made again because renaming a
# table points the views that name it at the new name.
V4_LINKS_VIEWS = """
CREATE VIEW current_links AS
    SELECT p.url AS source, p.site, l.target, l.kind, l.anchor, l.from_version AS since_version
    FROM links l JOIN pages p ON p.id = l.page_id
    WHERE l.to_version IS NULL;
CREATE VIEW snapshot_links AS
    SELECT s.id AS snapshot_id, p.url AS source, s.version, l.target, l.kind, l.anchor
    FROM links l
    JOIN pages p ON p.id = l.page_id
    JOIN snapshots s ON s.page_id = l.page_id AND s.version >= l.from_version
        AND (l.to_version IS NULL OR s.version <= l.to_version);
"""
V4_LINKS_UNION = """CREATE VIEW links AS
    SELECT id, page_id, target, kind, anchor, from_version, to_version FROM links_settled
    UNION ALL
    SELECT id, page_id, target, kind, anchor, from_version, to_version FROM links_recent;
"""
V4_RECENT_LINKS = """
DROP VIEW current_links;
DROP VIEW snapshot_links;
ALTER TABLE links RENAME TO links_settled;
CREATE TABLE links_recent (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    anchor TEXT NOT NULL DEFAULT '',
    from_version INTEGER NOT NULL,
    to_version INTEGER
);
CREATE INDEX links_recent_page ON links_recent(page_id, to_version);
INSERT INTO sqlite_sequence (name, seq) SELECT 'links_recent', coalesce(max(id), 0)
    FROM links_settled;
""" + V4_LINKS_UNION + V4_LINKS_VIEWS


def _v4_recent_links(db: Database) -> None:
    db.executescript(V4_RECENT_LINKS)


# Version 5: links_recent without its foreign key. SQLite empties a table at once only when no
# foreign key involves it; with one it deletes row by row, which took 0.5 s of the 2.1 s that
# moving the crawl benchmark's 417,000 links cost at the end of its run. The key is still
# checked for every link: links_settled has it, and each link is moved there when its run ends.
V5_RECENT_LINKS_UNCHECKED = """
DROP VIEW current_links;
DROP VIEW snapshot_links;
DROP VIEW links;
ALTER TABLE links_recent RENAME TO links_recent_v4;
CREATE TABLE links_recent (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    anchor TEXT NOT NULL DEFAULT '',
    from_version INTEGER NOT NULL,
    to_version INTEGER
);
INSERT INTO links_recent SELECT id, page_id, target, kind, anchor, from_version, to_version
    FROM links_recent_v4;
DELETE FROM sqlite_sequence WHERE name = 'links_recent';
UPDATE sqlite_sequence SET name = 'links_recent' WHERE name = 'links_recent_v4';
DROP TABLE links_recent_v4;
CREATE INDEX links_recent_page ON links_recent(page_id, to_version);
""" + V4_LINKS_UNION + V4_LINKS_VIEWS


def _v5_recent_links_unchecked(db: Database) -> None:
    db.executescript(V5_RECENT_LINKS_UNCHECKED)


# Version 6: the notification outbox (issue 19). A change to tell watchers about (a new
# version, a page gone, parser breakage) is queued in notify_outbox by the write that makes
# it, in its transaction; scraper/watch/ sends it after the run. notify_targets remembers when
# each target (a site's notify entry) was first seen, so that a new one gets the changes from
# then on, not the whole history; notify_deliveries holds one row per target and change:
# sent, skipped (the target's filter left it out) or pending with its retry state.
V6_NOTIFY_OUTBOX = """
CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    version INTEGER,
    run_id INTEGER,
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notify_outbox_site ON notify_outbox(site, id);
CREATE TABLE notify_targets (
    site TEXT NOT NULL,
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    since_id INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (site, target)
);
CREATE TABLE notify_deliveries (
    target TEXT NOT NULL,
    change_id INTEGER NOT NULL REFERENCES notify_outbox(id),
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    last_error TEXT,
    sent_at TEXT,
    PRIMARY KEY (target, change_id)
);
"""


def _v6_notify_outbox(db: Database) -> None:
    db.executescript(V6_NOTIFY_OUTBOX)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Database], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables", _v1_tables),
    Migration(2, "full_text_search", _v2_full_text_search),
    Migration(3, "summary_columns", _v3_summary_columns),
    Migration(4, "recent_links", _v4_recent_links),
    Migration(5, "recent_links_unchecked", _v5_recent_links_unchecked),
    Migration(6, "notify_outbox", _v6_notify_outbox),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


# What this release's code reads and writes, as the migrations above leave it at
# SCHEMA_VERSION: checked on every open of an archive at that version (check_schema), so that
# a table dropped, a column renamed or a view replaced by hand is refused up front, with a
# message saying what is missing, rather than met halfway through a command as an SQL error.
# tests/test_file_safety.py checks it against a freshly made archive: a new migration must
# update it.
EXPECTED_TABLES: dict[str, tuple[str, ...]] = {
    "runs": ("id", "started_at", "ended_at", "status", "sites", "config", "fetched",
             "new_versions", "unchanged", "not_modified", "failed", "skipped", "retried",
             "queued", "elapsed_s", "alerts", "extra"),
    "blobs": ("id", "hash", "kind", "size", "stored_size", "base", "depth", "keyframe",
              "created_at", "data"),
    "pages": ("id", "url", "site", "kind", "title", "summary", "text", "first_seen",
              "last_fetched", "last_changed", "current_version", "seen_count",
              "not_modified_count", "gone", "gone_at"),
    "snapshots": ("id", "page_id", "version", "run_id", "fetched_at", "last_seen", "seen_count",
                  "status", "final_url", "etag", "last_modified", "revision_id",
                  "revision_timestamp", "revision_user", "revision_comment", "kind", "title",
                  "summary", "image", "categories", "infobox", "text_length", "link_count",
                  "entry_count", "parser", "parser_version", "content_hash", "body_hash",
                  "body_size", "fields_hash", "headers", "change_gist", "summary_truncated",
                  "related"),
    "links_settled": ("id", "page_id", "target", "kind", "anchor", "from_version", "to_version"),
    "links_recent": ("id", "page_id", "target", "kind", "anchor", "from_version", "to_version"),
    "failures": ("id", "run_id", "site", "url", "reason", "attempts", "status", "gone", "at"),
    "skips": ("id", "run_id", "site", "url", "reason", "at"),
    "frontier": ("url", "site", "depth", "discovered_from", "link_kind", "added_at", "next_due",
                 "attempts", "fetch_count", "last_fetched", "last_status", "etag",
                 "last_modified", "page_id", "gone"),
    "schema_migrations": ("version", "name", "applied_at"),
    "notify_outbox": ("id", "site", "url", "event", "version", "run_id", "at", "detail"),
    "notify_targets": ("site", "target", "label", "since_id", "added_at"),
    "notify_deliveries": ("target", "change_id", "status", "attempts", "next_attempt",
                          "last_error", "sent_at"),
}
EXPECTED_VIEWS: dict[str, tuple[str, ...]] = {
    "links": ("id", "page_id", "target", "kind", "anchor", "from_version", "to_version"),
    "page_versions": ("url", "site", "version", "fetched_at", "last_seen", "seen_count",
                      "status", "revision_id", "revision_timestamp", "revision_user",
                      "revision_comment", "title", "summary", "change_gist", "content_hash",
                      "body_hash", "body_size", "run_id", "snapshot_id"),
    "current_links": ("source", "site", "target", "kind", "anchor", "since_version"),
    "snapshot_links": ("snapshot_id", "source", "version", "target", "kind", "anchor"),
}
# The full-text index: its virtual table and the shadow tables FTS5 keeps it in. Only their
# presence is checked: reading them needs the fts5 module, which opening must not.
EXPECTED_FTS = ("pages_fts", "pages_fts_data", "pages_fts_idx", "pages_fts_docsize",
                "pages_fts_config")
# name: table. The sqlite_autoindex_* ones are the UNIQUE and TEXT PRIMARY KEY constraints.
EXPECTED_INDEXES: dict[str, str] = {
    "pages_site_url": "pages", "pages_first_seen": "pages",
    "snapshots_fetched_at": "snapshots", "snapshots_run": "snapshots",
    "snapshots_revision": "snapshots", "links_target": "links_settled",
    "links_page": "links_settled", "links_recent_page": "links_recent",
    "failures_url": "failures", "failures_run": "failures", "skips_run": "skips",
    "frontier_due": "frontier", "sqlite_autoindex_blobs_1": "blobs",
    "notify_outbox_site": "notify_outbox",
    "sqlite_autoindex_notify_targets_1": "notify_targets",
    "sqlite_autoindex_notify_deliveries_1": "notify_deliveries",
    "sqlite_autoindex_frontier_1": "frontier", "sqlite_autoindex_pages_1": "pages",
    "sqlite_autoindex_snapshots_1": "snapshots",
}
EXPECTED_TRIGGERS: dict[str, str] = {
    "pages_fts_ai": "pages", "pages_fts_ad": "pages", "pages_fts_au": "pages",
}


def schema_problems(conn: sqlite3.Connection) -> list[str]:
    """What of EXPECTED_* the opened file lacks or has in another form; [] when it matches.

    One read of sqlite_master and a PRAGMA table_info per table and view: well under a
    millisecond. Extra tables, columns and indexes are no problem (a user's own index, say).
    """
    objects = {name: (kind, table) for kind, name, table in conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master")}
    problems: list[str] = []
    absent: set[str] = set()  # reported already: their indexes and triggers are not

    def present(name: str, kind: str) -> bool:
        found = objects.get(name)
        if found is None:
            problems.append(f"{kind} {name} is missing")
        elif found[0] != kind:
            problems.append(f"{name} is a {found[0]}, not a {kind}")
        else:
            return True
        absent.add(name)
        return False

    for expected, kind in ((EXPECTED_TABLES, "table"), (EXPECTED_VIEWS, "view")):
        for name, columns in expected.items():
            if not present(name, kind):
                continue
            try:
                have = {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
            except sqlite3.OperationalError as exc:  # a view naming what is gone
                problems.append(f"view {name} does not work ({exc})")
                continue
            missing = [column for column in columns if column not in have]
            if missing:
                problems.append(f"{kind} {name} has no column {', '.join(missing)}")
    for name in EXPECTED_FTS:
        present(name, "table")
    for names, kind in ((EXPECTED_INDEXES, "index"), (EXPECTED_TRIGGERS, "trigger")):
        for name, table in names.items():
            if table in absent:
                continue
            if present(name, kind) and objects[name][1] != table:
                problems.append(f"{kind} {name} is on table {objects[name][1]}, not {table}")
    return problems


def check_schema(conn: sqlite3.Connection, path: str) -> None:
    """Refuse an archive at SCHEMA_VERSION whose tables are not what that version has."""
    problems = schema_problems(conn)
    if problems:
        shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more"
                                           if len(problems) > 6 else "")
        raise ArchiveError(path, f"the archive is damaged: its schema is not what schema "
                                 f"version {SCHEMA_VERSION} has ({shown}); nothing was changed. "
                                 "Restore it from a backup, or copy what it holds out with "
                                 "the sqlite3 shell")


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def up_to_date(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> bool:
    """Whether the schema is at `target` already (or newer, up to this release's)."""
    return target <= user_version(conn) <= SCHEMA_VERSION


def migrate(db: Database, path: str, *, target: int = SCHEMA_VERSION) -> list[str]:
    """Bring the schema up to `target` in one transaction; returns the names of the steps run.

    The caller must not be in a transaction. Either every pending step and the new
    user_version are committed, or nothing is.
    """
    conn = db.conn
    if up_to_date(conn, target):
        return []  # the usual case: no write lock taken, so opening never waits for a crawl
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = user_version(conn)  # again: another process may have upgraded meanwhile
        if current > SCHEMA_VERSION:
            raise SchemaVersionError(
                path, f"the archive has schema version {current}, newer than this release "
                f"understands ({SCHEMA_VERSION}); upgrade scraper to open it")
        done = []
        for step in MIGRATIONS:
            if current < step.version <= target:
                step.apply(db)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (step.version, step.name, iso(utcnow())),
                )
                done.append(f"{step.version:03d}_{step.name}")
        if done:
            conn.execute(f"PRAGMA user_version = {int(target)}")
            if target == SCHEMA_VERSION:
                # Steps leave alone what they do not change: an older archive with a table
                # missing would otherwise come out upgraded yet unusable. Refused here, the
                # upgrade is rolled back and the file stays as it was.
                check_schema(conn, path)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return done


def describe_existing(conn: sqlite3.Connection, path: str) -> int:
    """The schema version of an opened file; refuses a foreign or damaged database."""
    try:
        version = user_version(conn)
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.DatabaseError as exc:
        raise unreadable(path, exc) from exc
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            path, f"the archive has schema version {version}, newer than this release "
            f"understands ({SCHEMA_VERSION}); upgrade scraper to open it")
    if version == 0 and tables:
        shown = ", ".join(sorted(tables)[:5])
        raise ArchiveError(path, f"an SQLite database but not a scraper archive (tables: {shown})")
    if version > 0 and "pages" not in tables:
        raise ArchiveError(path, f"schema version {version} but no pages table: not a scraper "
                                 "archive, or damaged")
    return version
