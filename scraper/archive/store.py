"""The Archive: opening a file, and everything a crawl writes (runs, fetch results, failures)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import orjson

from scraper.archive import schema
from scraper.archive.blobs import DEFAULT_FULL_COPY_EVERY, DEFAULT_LEVEL
from scraper.archive.core import describe_sqlite_error, dumps, translated, unreadable
from scraper.archive.encode import EncodedPage, encode_page
from scraper.archive.frontier_store import FrontierStore, enqueue_rows
from scraper.archive.reads import ArchiveReads
from scraper.archive.records import KILLED, RUN_STATUSES, SaveResult
from scraper.compact_json import compact_json
from scraper.errors import ArchiveError
from scraper.lock import holds as holds_crawl_lock
from scraper.models import (
    CrawlStats,
    FetchResult,
    FrontierItem,
    Page,
    RevisionMeta,
)
from scraper.timeutil import from_iso, iso

log = logging.getLogger(__name__)

# Runs started in this process and not finished yet, by archive file (st_dev, st_ino): the
# `running` rows that start_run must not take for a killed run's.
_runs_here: dict[tuple[int, int], set[int]] = {}

BUSY_TIMEOUT_MS = 10_000
WAL_CHECKPOINT_FRAMES = 16_384  # 64 MB of 4 KB pages
# A run moves its links to links_settled when it ends, and also whenever this many wait in
# links_recent (about 20,000 pages of 100 links): reads by target scan links_recent, and one
# move at the end of a very long run would hold the write lock for minutes.
RECENT_LINKS_MAX = 2_000_000
# prepare_bulk_writes: with SQLite's default 2 MB of cache, a transaction's dirty pages would
# spill to the log before its commit.
BULK_WRITE_CACHE_KIB = 64 * 1024


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    # isolation_level=None: every transaction is explicit (BEGIN IMMEDIATE in _write), so
    # the sqlite3 module never opens or commits one behind our back.
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class Archive(ArchiveReads, FrontierStore):
    """Versioned snapshots of crawled pages in one SQLite file.

    All storage goes through this class, so another backend (PostgreSQL) can implement the
    same methods. Use it from one thread at a time.
    """

    def __init__(self, path: str, conn: sqlite3.Connection, *,
                 full_copy_every: int = DEFAULT_FULL_COPY_EVERY, readonly: bool = False,
                 level: int = DEFAULT_LEVEL) -> None:
        self._init_core(path, conn, full_copy_every=full_copy_every, readonly=readonly)
        self.blobs.level = level
        self._held_key: tuple[int, int] | None = None

    # opening and closing

    @classmethod
    def open(cls, path: str, *, create: bool = True, readonly: bool = False,
             full_copy_every: int = DEFAULT_FULL_COPY_EVERY) -> Archive:
        """Open (and with `create`, make) the archive at `path`, upgrading an older schema.

        Raises ArchiveError naming the file for: a missing file without `create`, a file that
        is not SQLite or is truncated, a foreign database, a read-only file when writing is
        needed; SchemaVersionError for a schema newer than this release.
        """
        path = os.fspath(path)
        exists = os.path.exists(path)
        if exists and os.path.isdir(path):
            raise ArchiveError(path, "is a directory, not an archive file")
        if not exists:
            if not create or readonly:
                raise ArchiveError(path, "no archive here (run a crawl first, or check --archive)")
            parent = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise ArchiveError(path, f"cannot create its directory: {exc.strerror}") from exc
        else:
            schema.check_header(path)
            if not readonly:
                why = schema.is_read_only(path)
                if why:
                    raise ArchiveError(path, f"{why}; open it read-only to read it")
        version = cls._inspect(path) if exists else 0
        if readonly:
            if version == 0:
                raise ArchiveError(path, "an empty file, not an archive (run a crawl first)")
            if version < schema.SCHEMA_VERSION:
                raise ArchiveError(path, f"schema version {version} is older than this release's "
                                         f"({schema.SCHEMA_VERSION}); open it once for writing "
                                         "to upgrade it")
            conn = _connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
            archive = cls(path, conn, full_copy_every=full_copy_every, readonly=True)
            archive._held_key = schema.hold(path)
            return archive
        if version == 0 and exists and not create:
            raise ArchiveError(path, "an empty file, not an archive (run a crawl first)")
        try:
            conn = _connect(path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                log.warning("%s: journal mode is %s, not WAL", path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            # Every stored page touches a hundred or more scattered index pages (its links'
            # targets, its frontier rows), so each commit adds hundreds of frames to the log;
            # SQLite's default checkpoint at 1,000 frames then ran every few pages, each one
            # writing and syncing 4 MB. A larger log is checkpointed less often, and a page
            # rewritten many times in it is copied to the file once.
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_FRAMES}")
        except sqlite3.Error as exc:
            raise ArchiveError(path, f"cannot open: {describe_sqlite_error(exc)}") from exc
        archive = cls(path, conn, full_copy_every=full_copy_every)
        archive._upgrade(version)
        archive._held_key = schema.hold(path)
        return archive

    @staticmethod
    def _inspect(path: str) -> int:
        """The schema version of an existing file, read through a read-only connection so
        that a damaged or foreign file is refused before anything writes to it."""
        try:
            probe = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True,
                                    isolation_level=None)
        except sqlite3.Error as exc:
            raise ArchiveError(path, f"cannot open: {describe_sqlite_error(exc)}") from exc
        try:
            version = schema.describe_existing(probe, path)
            if version == schema.SCHEMA_VERSION:
                schema.check_schema(probe, path)
            if version:
                # Touch every table's root page so truncation inside the file shows up now.
                for (name,) in probe.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                        " AND name NOT LIKE 'pages_fts%'").fetchall():
                    probe.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchall()
        except sqlite3.DatabaseError as exc:
            raise unreadable(path, exc) from exc
        finally:
            probe.close()
        return version

    def _upgrade(self, version: int) -> None:
        try:
            # Checked before self.db is made: most opens need no step, nor sqlite-utils.
            steps = [] if schema.up_to_date(self.conn) else schema.migrate(self.db, self.path)
        except sqlite3.Error as exc:
            self.conn.close()
            text = describe_sqlite_error(exc)
            if "no such" in text or "malformed" in text:
                # A step met something missing that the version it upgrades from had.
                text = f"the archive is damaged: {text}"
            raise ArchiveError(self.path, f"schema upgrade from version {version} failed, "
                                          f"nothing changed: {text}") from exc
        except BaseException:
            self.conn.close()
            raise
        if steps and version:
            log.info("%s: upgraded the schema from version %d: %s", self.path, version,
                     ", ".join(steps))

    @classmethod
    def memory(cls, *, full_copy_every: int = DEFAULT_FULL_COPY_EVERY) -> Archive:
        """A throwaway archive in memory (tests)."""
        archive = cls(":memory:", _connect(":memory:"), full_copy_every=full_copy_every)
        archive._upgrade(0)
        return archive

    def prepare_bulk_writes(self) -> None:
        """A larger page cache for this connection, which a crawl's long transactions need:
        memory that readers (an export must stay in constant memory) do not."""
        self.conn.execute(f"PRAGMA cache_size = -{BULK_WRITE_CACHE_KIB}")

    @property
    def schema_version(self) -> int:
        return schema.user_version(self.conn)

    def close(self) -> None:
        self.conn.close()
        schema.release(self._held_key)
        self._held_key = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # runs

    @translated
    def start_run(self, sites: Sequence[str], config: Mapping[str, Any],
                  started_at: datetime) -> int:
        """A new run row, `running` until finish_run.

        When this process holds the crawl lock on the file (scraper.lock.ArchiveLock, as
        `scraper crawl` does), no other crawl can be running on it: a row still `running`
        that this process did not start belongs to a run that was killed (SIGKILL, the OOM
        killer, a power cut) or could not record its end (a full disk). It is marked
        `killed` in the same transaction (see _close_killed_runs). Without the lock nothing
        is marked: another process may be crawling.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, status, sites, config) VALUES (?, 'running', ?, ?)",
                (iso(started_at), dumps(list(sites)), dumps(dict(config))))
            run_id = int(cursor.lastrowid or 0)
            key = self._held_key
            if key is not None and holds_crawl_lock(self.path):
                self._close_killed_runs(conn, run_id, _runs_here.get(key, set()))
        if key is not None:
            _runs_here.setdefault(key, set()).add(run_id)
        return run_id

    @staticmethod
    def _close_killed_runs(conn: sqlite3.Connection, run_id: int, ours: set[int]) -> None:
        """Mark `killed` the runs left `running` by a process that died, other than `run_id`
        and the runs this process started (several configs crawled at once each have one).

        Their end time is their last recorded write (a version, a failure or a skip; else
        their start), and the counts that their rows show are filled in: `new_versions`,
        `failed` and `skipped`. The other counts were only known to the dead process and
        stay 0. `extra.closed_by_run` names the run that found them."""
        stale = conn.execute("SELECT id, started_at FROM runs WHERE status = 'running'"
                             " AND id != ?", (run_id,)).fetchall()
        for stale_id, started in stale:
            if stale_id in ours:
                continue
            versions, last_version = conn.execute(
                "SELECT count(*), max(fetched_at) FROM snapshots WHERE run_id = ?",
                (stale_id,)).fetchone()
            failed, last_failure = conn.execute(
                "SELECT count(*), max(at) FROM failures WHERE run_id = ?", (stale_id,)).fetchone()
            skipped, last_skip = conn.execute(
                "SELECT count(*), max(at) FROM skips WHERE run_id = ?", (stale_id,)).fetchone()
            ended = max([t for t in (last_version, last_failure, last_skip) if t] or [started])
            try:
                elapsed = max(0.0, (from_iso(ended) - from_iso(started)).total_seconds())
            except ValueError:
                elapsed = 0.0
            conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, new_versions = ?, failed = ?,"
                " skipped = ?, elapsed_s = ?,"
                " extra = json_set(CASE WHEN json_valid(extra) THEN extra ELSE '{}' END,"
                " '$.closed_by_run', ?) WHERE id = ?",
                (KILLED, ended, versions, failed, skipped, elapsed, run_id, stale_id))
            log.warning("run %d never recorded its end (the process was killed, or could not "
                        "write); marked %s", stale_id, KILLED)

    @translated
    def finish_run(self, run_id: int, stats: CrawlStats, *, status: str, ended_at: datetime,
                   alerts: Sequence[Mapping[str, Any]] = ()) -> None:
        if status not in RUN_STATUSES:
            raise ArchiveError(self.path, f"run {run_id}: unknown status {status!r}; expected "
                                          f"one of {', '.join(RUN_STATUSES)}")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET ended_at = ?, status = ?, fetched = ?, new_versions = ?,"
                " unchanged = ?, not_modified = ?, failed = ?, skipped = ?, retried = ?,"
                " queued = ?, elapsed_s = ?, alerts = ?, extra = ? WHERE id = ?",
                (iso(ended_at), status, stats.fetched, stats.new_versions, stats.unchanged,
                 stats.not_modified, stats.failed, stats.skipped, stats.retried, stats.queued,
                 stats.elapsed_s, dumps([dict(a) for a in alerts]), dumps(stats.extra), run_id))
            if cursor.rowcount != 1:
                raise ArchiveError(self.path, f"no run {run_id} to finish")
            self._settle_links(conn)
        if self._held_key is not None:
            _runs_here.get(self._held_key, set()).discard(run_id)

    @translated
    def run_statuses(self) -> dict[str, int]:
        """How many runs ended with each status (`running`: in progress, or killed and not
        yet found by the next crawl), most frequent first."""
        return {status: count for status, count in self.conn.execute(
            "SELECT status, count(*) FROM runs GROUP BY status ORDER BY count(*) DESC, status")}

    @translated
    def last_run(self, site: str | None = None, *, status: str | None = None,
                 before: int | None = None) -> dict[str, Any] | None:
        """The most recent run (of `site`, that ended with `status`, older than run id
        `before`), with its JSON columns decoded; None if none."""
        where: list[str] = []
        params: list[Any] = []
        if site is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(runs.sites) WHERE value = ?)")
            params.append(site)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if before is not None:
            where.append("id < ?")
            params.append(before)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        cursor = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", params)
        row = cursor.fetchone()
        if row is None:
            return None
        data = dict(zip([d[0] for d in cursor.description], row))
        for key in ("sites", "config", "alerts", "extra"):
            data[key] = json.loads(data[key])
        return data

    # fetch results

    @translated
    def save(self, run_id: int, site: str, fetch: FetchResult, page: Page, *,
             next_due: datetime, discovered: Sequence[FrontierItem] = (),
             revision: RevisionMeta | None = None, change_gist: str = "",
             encoded: EncodedPage | None = None) -> SaveResult:
        """Store one fetched and parsed page, in one transaction.

        A new version is made only when content_hash(page) differs from the current
        version's; otherwise the page is only marked seen. The frontier row of `fetch.url`
        is updated and the `discovered` URLs are enqueued in the same transaction.

        :param encoded: encode_page(page, fetch.body, ...) made ahead (a crawl makes it in
            its parse workers); made here when not given.
        """
        if encoded is None:
            encoded = encode_page(page, fetch.body, first_version=False)
        new_hash = encoded.content_hash
        stamp = iso(fetch.fetched_at)
        with self._write() as conn:
            current = conn.execute(
                "SELECT p.id, p.current_version, s.content_hash, s.body_hash, s.fields_hash"
                " FROM pages p JOIN snapshots s ON s.page_id = p.id"
                " AND s.version = p.current_version WHERE p.url = ?", (page.url,)).fetchone()
            if current is not None and current[2] == new_hash:
                page_id, version, body_hash = current[0], current[1], current[3]
                conn.execute(
                    "UPDATE pages SET last_fetched = ?, seen_count = seen_count + 1, gone = 0,"
                    " gone_at = NULL WHERE id = ?", (stamp, page_id))
                conn.execute(
                    "UPDATE snapshots SET last_seen = ?, seen_count = seen_count + 1"
                    " WHERE page_id = ? AND version = ?", (stamp, page_id, version))
                result = SaveResult(version, False, new_hash, body_hash, 0)
            else:
                result, page_id = self._new_version(
                    conn, run_id, site, fetch, page, encoded, current, revision, change_gist)
            self._fetched(conn, site, fetch.url, page_id, stamp, iso(next_due), fetch.status,
                          fetch.etag, fetch.last_modified)
            if discovered:
                enqueue_rows(conn, discovered, fetch.fetched_at)
        return result

    def _new_version(self, conn: sqlite3.Connection, run_id: int, site: str, fetch: FetchResult,
                     page: Page, encoded: EncodedPage, current: tuple[Any, ...] | None,
                     revision: RevisionMeta | None, change_gist: str) -> tuple[SaveResult, int]:
        stamp = iso(fetch.fetched_at)
        new_hash = encoded.content_hash
        prev_body = current[3] if current else None
        prev_fields = current[4] if current else None
        body_hash, body_added = self.blobs.put(fetch.body, "body", prev_body, stamp,
                                               ready=encoded.body_copy)
        fields_hash, fields_added = self.blobs.put(encoded.fields_json, "fields", prev_fields,
                                                   stamp, ready=encoded.fields_copy)
        if current is None:
            version = 1
            cursor = conn.execute(
                "INSERT INTO pages (url, site, kind, title, summary, text, first_seen,"
                " last_fetched, last_changed, current_version, seen_count)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
                (page.url, site, page.kind, page.title, page.summary, page.text, stamp, stamp,
                 stamp))
            page_id = int(cursor.lastrowid or 0)
        else:
            page_id, version = current[0], current[1] + 1
            conn.execute(
                "UPDATE pages SET site = ?, kind = ?, title = ?, summary = ?, text = ?,"
                " last_fetched = ?, last_changed = ?, current_version = ?,"
                " seen_count = seen_count + 1, gone = 0, gone_at = NULL WHERE id = ?",
                (site, page.kind, page.title, page.summary, page.text, stamp, stamp, version,
                 page_id))
        rev_id = revision.revision_id if revision else page.revision_id
        conn.execute(
            "INSERT INTO snapshots (page_id, version, run_id, fetched_at, last_seen, status,"
            " final_url, etag, last_modified, revision_id, revision_timestamp, revision_user,"
            " revision_comment, kind, title, summary, image, categories, infobox, text_length,"
            " link_count, entry_count, parser, parser_version, content_hash, body_hash,"
            " body_size, fields_hash, headers, change_gist, summary_truncated, related)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?, ?)",
            (page_id, version, run_id, stamp, stamp, fetch.status, fetch.final_url, fetch.etag,
             fetch.last_modified, rev_id, revision.timestamp if revision else None,
             revision.user if revision else None, revision.comment if revision else None,
             page.kind, page.title, page.summary, page.image, encoded.row.categories,
             encoded.row.infobox, len(page.text), len(page.links),
             len(page.entries), page.parser, page.parser_version, new_hash, body_hash,
             len(fetch.body), fields_hash, dumps([list(h) for h in fetch.headers]),
             change_gist, int(page.summary_truncated), encoded.row.related))
        self._update_links(conn, page_id, version, encoded.row.links)
        if self._recent_links(conn) > RECENT_LINKS_MAX:
            self._settle_links(conn)
        return SaveResult(version, True, new_hash, body_hash, body_added + fields_added), page_id

    @staticmethod
    def _update_links(conn: sqlite3.Connection, page_id: int, version: int,
                      links_json: str) -> None:
        """Close the intervals of links the new version dropped and open those it added.
        `links_json`: the new version's [target, kind, anchor], once each, in page order
        (VersionRow.links).

        Each goes in as one statement over json_each, not one per link: sqlite3 lets the GIL
        go and takes it back for every statement it steps, and the event loop of a crawl
        waits for the GIL each time this thread takes it.
        """
        current = {(r[1], r[2], r[3]): r[0] for r in conn.execute(
            "SELECT id, target, kind, anchor FROM links WHERE page_id = ? AND to_version IS NULL",
            (page_id,))}
        if current:
            links = [(url, kind, anchor) for url, kind, anchor in orjson.loads(links_json)]
            wanted = set(links)
            dropped = compact_json([link_id for key, link_id in current.items()
                                    if key not in wanted]).decode("utf-8")
            # Ids are unique across both tables: the one that has the row updates it.
            for table in ("links_recent", "links_settled"):
                conn.execute(f"UPDATE {table} SET to_version = ?"
                             " WHERE id IN (SELECT value FROM json_each(?))", (version - 1, dropped))
            links_json = compact_json([link for link in links
                                       if link not in current]).decode("utf-8")
        # In page order, so that ids follow the page.
        conn.execute(
            "INSERT INTO links_recent (page_id, target, kind, anchor, from_version)"
            " SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
            " json_extract(value, '$[2]'), ? FROM json_each(?) ORDER BY key",
            (page_id, version, links_json))

    @staticmethod
    def _recent_links(conn: sqlite3.Connection) -> int:
        """About how many links wait in links_recent (ids are dense: one sequence)."""
        first, last = conn.execute("SELECT (SELECT min(id) FROM links_recent),"
                                   " (SELECT max(id) FROM links_recent)").fetchone()
        return 0 if first is None else int(last - first + 1)

    @staticmethod
    def _settle_links(conn: sqlite3.Connection) -> None:
        """Move the links stored since the last move into links_settled, whose index by
        target then takes them in one pass (see schema.V4_RECENT_LINKS).

        When links_settled holds at most twice as many rows as are moved (a site's first
        crawl, say), its indexes are dropped and made again after the move, from their own
        stored definitions: sorting every row once is then cheaper than putting the new rows
        one by one at scattered places (on the crawl benchmark's 417,000 links, 1.6 s against
        2.4 s)."""
        moved = Archive._recent_links(conn)
        if not moved:
            return
        # Counted up to the bound only, so that a large archive is not scanned.
        settled = conn.execute("SELECT count(*) FROM (SELECT 1 FROM links_settled LIMIT ?)",
                               (2 * moved + 1,)).fetchone()[0]
        rebuild = settled <= 2 * moved
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'links_settled' AND sql IS NOT NULL").fetchall() if rebuild else []
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute(
            "INSERT INTO links_settled (id, page_id, target, kind, anchor, from_version,"
            " to_version) SELECT id, page_id, target, kind, anchor, from_version, to_version"
            " FROM links_recent ORDER BY id")
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("DELETE FROM links_recent")

    @staticmethod
    def _fetched(conn: sqlite3.Connection, site: str, url: str, page_id: int | None, stamp: str,
                 next_due: str, status: int, etag: str | None, last_modified: str | None) -> None:
        """The frontier row after a completed fetch (made if the caller never enqueued it)."""
        conn.execute(
            "INSERT INTO frontier (url, site, added_at, next_due, fetch_count, last_fetched,"
            " last_status, etag, last_modified, page_id)"
            " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)"
            " ON CONFLICT (url) DO UPDATE SET next_due = excluded.next_due, attempts = 0,"
            " fetch_count = fetch_count + 1, last_fetched = excluded.last_fetched,"
            " last_status = excluded.last_status,"
            " etag = coalesce(excluded.etag, CASE WHEN excluded.last_status = 304 THEN etag END),"
            " last_modified = coalesce(excluded.last_modified,"
            "   CASE WHEN excluded.last_status = 304 THEN last_modified END),"
            " page_id = coalesce(excluded.page_id, page_id), gone = 0",
            (url, site, stamp, next_due, stamp, status, etag, last_modified, page_id))

    @translated
    def record_not_modified(self, run_id: int, site: str, fetch: FetchResult, *,
                            next_due: datetime) -> None:
        """A 304 answer: the current version was seen again; no body is stored."""
        stamp = iso(fetch.fetched_at)
        with self._write() as conn:
            page_id = self._page_id(fetch.url)
            if page_id is not None:
                conn.execute(
                    "UPDATE pages SET last_fetched = ?, not_modified_count = not_modified_count"
                    " + 1, gone = 0, gone_at = NULL WHERE id = ?", (stamp, page_id))
                conn.execute(
                    "UPDATE snapshots SET last_seen = ? WHERE page_id = ? AND version ="
                    " (SELECT current_version FROM pages WHERE id = ?)",
                    (stamp, page_id, page_id))
            else:
                log.warning("%s: 304 Not Modified for a page with no stored version", fetch.url)
            self._fetched(conn, site, fetch.url, page_id, stamp, iso(next_due), fetch.status,
                          fetch.etag, fetch.last_modified)

    @translated
    def record_failure(self, run_id: int, site: str, url: str, *, reason: str, attempts: int,
                       status: int | None, now: datetime, next_due: datetime,
                       gone: bool = False) -> None:
        """A failed fetch: a `failures` row; the frontier row's failures-in-a-row count grows
        and it is due again at `next_due`. `gone` marks the page (and URL) gone."""
        stamp = iso(now)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO failures (run_id, site, url, reason, attempts, status, gone, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, site, url, reason, attempts, status, int(gone), stamp))
            conn.execute(
                "INSERT INTO frontier (url, site, added_at, next_due, attempts, last_status, gone)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " attempts = attempts + 1, next_due = excluded.next_due,"
                " last_status = excluded.last_status, gone = max(gone, excluded.gone)",
                (url, site, stamp, iso(next_due), status, int(gone)))
            if gone:
                page_id = self._page_id(url)
                if page_id is not None:
                    conn.execute("UPDATE pages SET gone = 1, gone_at = ? WHERE id = ? AND gone = 0",
                                 (stamp, page_id))

    @translated
    def record_skipped(self, run_id: int, site: str, url: str, *, reason: str, now: datetime,
                       next_due: datetime) -> None:
        """A URL deliberately not archived (non-HTML, robots.txt, blocked address)."""
        stamp = iso(now)
        with self._write() as conn:
            conn.execute("INSERT INTO skips (run_id, site, url, reason, at) VALUES (?, ?, ?, ?, ?)",
                         (run_id, site, url, reason, stamp))
            conn.execute(
                "INSERT INTO frontier (url, site, added_at, next_due) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET next_due = excluded.next_due, attempts = 0",
                (url, site, stamp, iso(next_due)))
