"""SQLiteArchive: the archive in one SQLite file; opening it (checks and schema upgrades),
closing it, and the parts that make it up."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from types import TracebackType
from typing import Self

from scraper.archive.blobs import DEFAULT_FULL_COPY_EVERY, DEFAULT_LEVEL
from scraper.archive.sharing import DEFAULT_LEASE_SECONDS, CrawlWorker, SoloWorker, worker_label
from scraper.archive.sqlite import files, schema
from scraper.archive.sqlite.core import describe_sqlite_error, unreadable
from scraper.archive.sqlite.frontier_store import FrontierStore
from scraper.archive.sqlite.outbox import NotifyOutbox
from scraper.archive.sqlite.reads import ArchiveReads
from scraper.archive.sqlite.runs import RunStore
from scraper.archive.sqlite.store import VersionStore
from scraper.errors import ArchiveError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
WAL_CHECKPOINT_FRAMES = 16_384  # 64 MB of 4 KB pages
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


class SQLiteArchive(VersionStore, RunStore, ArchiveReads, FrontierStore, NotifyOutbox):
    """Versioned snapshots of crawled pages in one SQLite file: the SQLite backend of
    scraper.archive.protocol.ArchiveBackend. Use it from one thread at a time."""

    def __init__(self, path: str, conn: sqlite3.Connection, *,
                 full_copy_every: int = DEFAULT_FULL_COPY_EVERY, readonly: bool = False,
                 level: int = DEFAULT_LEVEL) -> None:
        self._init_core(path, conn, full_copy_every=full_copy_every, readonly=readonly)
        self.blobs.level = level

    # opening and closing

    @classmethod
    def open(cls, path: str, *, create: bool = True, readonly: bool = False,
             full_copy_every: int = DEFAULT_FULL_COPY_EVERY) -> SQLiteArchive:
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
            files.check_header(path)
            if not readonly:
                why = files.is_read_only(path)
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
            archive._held_key = files.hold(path)
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
        archive._held_key = files.hold(path)
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
    def memory(cls, *, full_copy_every: int = DEFAULT_FULL_COPY_EVERY) -> SQLiteArchive:
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

    def join_crawl(self, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> CrawlWorker:
        """The crawl's only worker: the file's crawl lock (scraper.lock) keeps others out,
        so a claim is a look at the due URLs and politeness stays in the process."""
        return SoloWorker(self.due, worker_label(socket.gethostname(), os.getpid()))

    def close(self) -> None:
        self.conn.close()
        files.release(self._held_key)
        self._held_key = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
