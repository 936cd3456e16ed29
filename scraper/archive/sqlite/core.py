"""The SQLite archive's connection, transactions, error translation and row-to-record helpers."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

from scraper.archive.blobs import BlobStore
from scraper.archive.queries import snapshot_from_row as read_snapshot
from scraper.archive.sqlite.blobs import SQLiteBlobRows
from scraper.compact_json import compact_json
from scraper.errors import ArchiveError
from scraper.timeutil import from_iso

if TYPE_CHECKING:
    from sqlite_utils import Database

P = ParamSpec("P")
R = TypeVar("R")

# Snapshot rows of this backend: fetched_at is ISO text.
snapshot_from_row = functools.partial(read_snapshot, read_time=from_iso)


def translated(func: Callable[P, R]) -> Callable[P, R]:
    """Turn sqlite3 errors escaping a public method into ArchiveError naming the file."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as exc:
            self = args[0]
            path = getattr(self, "path", "?")
            raise ArchiveError(path, f"{func.__name__}: {describe_sqlite_error(exc)}") from exc

    return wrapper


def describe_sqlite_error(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "disk is full" in text:
        return f"{text} (free some space; the write that failed was not kept)"
    if "disk I/O error" in text:
        return f"{text} (is the disk full or failing? the archive file itself may be intact)"
    if "readonly" in text or "read-only" in text:
        return f"{text} (the archive or its directory is read-only)"
    if "malformed" in text or "not a database" in text:
        return f"{text} (the archive is damaged; `sqlite3 FILE .recover` may save its contents)"
    if "locked" in text or "busy" in text:
        return f"{text} (another process is writing the archive)"
    return text


def unreadable(path: str, exc: sqlite3.Error) -> ArchiveError:
    """The error for a file SQLite could not read: damage only when SQLite says so (an
    OperationalError, such as a full disk or a missing -shm, says nothing about the file)."""
    if isinstance(exc, sqlite3.OperationalError):
        return ArchiveError(path, f"cannot read the archive: {describe_sqlite_error(exc)}")
    text = describe_sqlite_error(exc)
    if "damaged" not in text:
        text += " (the archive is damaged; `sqlite3 FILE .recover` may save its contents)"
    return ArchiveError(path, f"corrupt or not an archive: {text}")


def dumps(data: Any) -> str:
    return compact_json(data).decode("utf-8")


class ArchiveCore:
    """State shared by the archive's parts: the path, the connection and the blob store."""

    path: str
    conn: sqlite3.Connection
    blobs: BlobStore
    readonly: bool
    # The file's (st_dev, st_ino) while this archive holds it open (files.hold); None in memory.
    _held_key: tuple[int, int] | None

    def _init_core(self, path: str, conn: sqlite3.Connection, *, full_copy_every: int,
                   readonly: bool) -> None:
        self.path = path
        self.conn = conn
        self.blobs = BlobStore(SQLiteBlobRows(conn), max_depth=full_copy_every)
        self.readonly = readonly
        self._held_key = None
        self._checked_sound = False
        self._batch_open = False

    @functools.cached_property
    def db(self) -> Database:
        """sqlite-utils over the same connection, for schema steps and FTS quoting. Made on
        first use: importing sqlite-utils costs 0.1 s, which commands that only read or
        crawl need not pay."""
        from sqlite_utils import Database

        return Database(self.conn, execute_plugins=False)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes inside one transaction, committed at the end.

        Each write inside stays all-or-nothing on its own (a savepoint): one that fails is
        undone and raises, and the others still commit. A crawl stores its pages in batches
        because a commit writes every page of the file that the transaction touched (the
        index and full-text pages that every stored page touches included): one commit for
        many stored pages writes those once. Nested batches join the outer one.
        """
        if self._batch_open:
            yield
            return
        with self._transaction():
            self._batch_open = True
            try:
                yield
            finally:
                self._batch_open = False

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole or rolled back whole (inside a batch, a
        savepoint released or rolled back whole)."""
        if not self._batch_open:
            with self._transaction() as conn:
                yield conn
            return
        conn = self.conn
        if not conn.in_transaction:
            # SQLite ended the batch's transaction on an earlier error (a full disk does):
            # outside it this write would commit alone while the batch reports failure.
            raise ArchiveError(self.path, "an earlier error in this batch of writes rolled "
                                          "it back; nothing of it was kept")
        conn.execute("SAVEPOINT write")
        try:
            yield conn
            conn.execute("RELEASE write")
        except BaseException as exc:  # noqa: BLE001 - undone, then raised again
            if conn.in_transaction:
                conn.execute("ROLLBACK TO write")
                conn.execute("RELEASE write")
            self.blobs.forget()
            self._reraise(exc)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._begin()
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - undone, then raised again
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # Blobs remembered by puts that were rolled back are not stored.
            self.blobs.forget()
            self._reraise(exc)

    def _reraise(self, exc: BaseException) -> NoReturn:
        """Raise `exc` again, an SQLite error as ArchiveError naming the file."""
        if isinstance(exc, sqlite3.Error):
            raise ArchiveError(self.path, describe_sqlite_error(exc)) from exc
        raise exc

    def _begin(self) -> sqlite3.Connection:
        if self.readonly:
            raise ArchiveError(self.path, "opened read-only; cannot write")
        if not self._checked_sound:
            self._check_sound()
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise ArchiveError(self.path, f"cannot start a write: {describe_sqlite_error(exc)}"
                               ) from exc
        return conn

    def _check_sound(self) -> None:
        """Refuse to write into a damaged file. SQLite notices damage only in the pages a
        statement reads, so without this a crawl could add rows to a broken b-tree and end
        "completed". quick_check reads every page once (well under a second per GB cached)
        and runs only before this connection's first write, so reads never pay for it."""
        try:
            rows = [str(r[0]) for r in self.conn.execute("PRAGMA quick_check(3)").fetchall()]
        except sqlite3.DatabaseError as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            found = "; ".join(line for row in rows for line in row.splitlines()
                              if not line.startswith("***"))[:300]
            raise ArchiveError(self.path, f"the archive is damaged ({found}); nothing was "
                               "written. `sqlite3 FILE .recover` may save its contents")
        self._checked_sound = True

    def _page_id(self, url: str) -> int | None:
        """The page stored under `url`, or the page the frontier URL `url` last resolved to."""
        row = self.conn.execute("SELECT id FROM pages WHERE url = ?", (url,)).fetchone()
        if row is None:
            row = self.conn.execute(
                "SELECT page_id FROM frontier WHERE url = ? AND page_id IS NOT NULL", (url,)
            ).fetchone()
        return None if row is None else int(row[0])

    def _require_page(self, url: str) -> int:
        page_id = self._page_id(url)
        if page_id is None:
            raise ArchiveError(self.path, f"no page {url} in the archive")
        return page_id

    def _version_row(self, url: str, version: int | None, columns: str) -> tuple[Any, ...]:
        """Columns of one snapshot (s: snapshots, p: pages); the latest when version is None."""
        page_id = self._require_page(url)
        if version is None:
            row = self.conn.execute(
                f"SELECT {columns} FROM snapshots s JOIN pages p ON p.id = s.page_id "
                "WHERE s.page_id = ? AND s.version = p.current_version", (page_id,)
            ).fetchone()
        else:
            row = self.conn.execute(
                f"SELECT {columns} FROM snapshots s JOIN pages p ON p.id = s.page_id "
                "WHERE s.page_id = ? AND s.version = ?", (page_id, version)
            ).fetchone()
        if row is None:
            latest = self.conn.execute(
                "SELECT current_version FROM pages WHERE id = ?", (page_id,)).fetchone()[0]
            raise ArchiveError(self.path, f"{url} has no version {version} (versions 1 to {latest})")
        return tuple(row)

    def _blob(self, blob_hash: str, url: str) -> bytes:
        try:
            return self.blobs.get(blob_hash)
        except (LookupError, ValueError) as exc:
            raise ArchiveError(self.path, f"{url}: stored body unreadable: {exc}") from exc
