"""What the PostgreSQL archive's parts share: the attributes PostgresArchive sets, and how a
write runs (alone in its own transaction, or as a savepoint inside a batch).

Attributes every mixin of PostgresArchive may use (set by PostgresArchive.__init__):

- `core`: the PostgresCore (one connection; `core.run(op)` for reads and lone writes);
- `path` (a property): the location as messages name it (password hidden);
- `blob_rows`: the PostgresBlobRows under `blobs`; bind it to the operation's connection
  (`with self.blob_rows.bound(conn):`) before calling `blobs`;
- `blobs`: the BlobStore (delta chains, read cache) over `blob_rows`;
- `readonly`: the archive refuses every write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg

from scraper.archive.blobs import BlobStore
from scraper.archive.postgres.blobs import PostgresBlobRows
from scraper.archive.postgres.core import Connection, PostgresCore, archive_error
from scraper.compact_json import compact_json
from scraper.errors import ArchiveError, ClaimLost

R = TypeVar("R")


def dumps(data: object) -> str:
    """JSON text as the SQLite archive stores it, so that a copied archive compares equal."""
    return compact_json(data).decode("utf-8")


class PostgresWrites:
    """The shared state (see the module docstring) and the write paths."""

    core: PostgresCore
    blob_rows: PostgresBlobRows
    blobs: BlobStore
    readonly: bool
    # The connection of the open batch's transaction; None outside a batch.
    _batch_conn: Connection | None = None
    # The registered worker this archive writes for (join_crawl); None: no claims to check.
    worker_id: int | None = None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes inside one transaction, committed when the block ends.

        Each write inside is a savepoint: one that fails is undone and raises, the others
        still commit. A dropped connection loses the whole batch (raised as ArchiveError):
        it is not retried, since the writes before it went with the lost transaction.
        Nested batches join the outer one.
        """
        if self._batch_conn is not None or self.worker_id is not None:
            # A worker's writes commit one by one: see ArchiveBackend.join_crawl.
            yield
            return
        self._refuse_if_readonly()
        try:
            with self.core.transaction() as conn:
                self._batch_conn = conn
                try:
                    yield
                finally:
                    self._batch_conn = None
        except BaseException:
            # Blobs remembered by puts that were rolled back are not stored.
            self.blobs.forget()
            raise

    def _hold_claim(self, conn: Connection, url: str) -> None:
        """Lock `url`'s frontier row for this write; raise ClaimLost when another worker
        holds it (this worker's lease ran out and was taken). A row leased by no one is
        written: a save ends the claim, and a retried write finds it so."""
        if self.worker_id is None:
            return
        row = conn.execute("SELECT leased_by FROM frontier WHERE url = %s FOR UPDATE",
                           (url,)).fetchone()
        self._check_claim(url, None if row is None else row[0])

    def _check_claim(self, url: str, holder: int | None) -> None:
        """Raise ClaimLost when `holder` (the frontier row's leased_by, read under lock) is
        a worker other than this one."""
        if self.worker_id is not None and holder is not None and int(holder) != self.worker_id:
            raise ClaimLost(url, int(holder))

    def _refuse_if_readonly(self) -> None:
        if self.readonly:
            raise ArchiveError(self.core.path, "opened read-only; cannot write")

    def _write(self, op: Callable[[Connection], R], *, doing: str,
               pipelined: bool = False) -> R:
        """`op(conn)` as one all-or-nothing write: its own transaction (retried on a new
        connection while the server is away: PostgresCore.run), or a savepoint of the open
        batch. psycopg errors become ArchiveError naming the database and `doing`.

        `pipelined`: inside a batch, run `op` in pipeline mode; only for an `op` that reads
        no cursor's rowcount (unknown there until the next read)."""
        self._refuse_if_readonly()

        def bound(conn: Connection) -> R:
            try:
                with self.blob_rows.bound(conn):
                    return op(conn)
            except BaseException:
                self.blobs.forget()
                raise

        conn = self._batch_conn
        if conn is None:
            return self.core.run(bound, doing=doing, pipelined=pipelined)
        try:
            # Pipeline mode: the statements whose rows a write does not read (most of a
            # save's, and the savepoint's own two) go without waiting for each answer; a
            # read waits for what was sent before it. An error still surfaces inside the
            # savepoint, which undoes the write. The crawl benchmark's saves made ~20 round
            # trips each, one after another on the archive thread.
            with contextlib.ExitStack() as stack:
                if pipelined:
                    stack.enter_context(conn.pipeline())
                stack.enter_context(conn.transaction())
                return bound(conn)
        except psycopg.Error as exc:
            raise archive_error(self.core.location, doing, exc) from None
