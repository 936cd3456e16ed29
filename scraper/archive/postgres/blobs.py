"""The PostgreSQL archive's `blobs` table under scraper.archive.blobs.BlobStore: one row per
blob, read and written on the connection of the operation that is running.

BlobStore holds its rows object for the archive's life, but PostgresCore replaces a broken
connection, and every operation gets its connection from PostgresCore.run or a batch. So
the archive binds that connection for the span of the operation (`with rows.bound(conn):`),
and every call runs in that connection's current transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from scraper.archive.blobs import ChainLink, Encoded
from scraper.archive.postgres.core import Connection


class PostgresBlobRows:
    """BlobRows over the connection bound with `bound(conn)`."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        # Whether blobs are stored, as read inside the bound operation by a statement that
        # asked for more than that (a save's first): `has` answers these without a query.
        self._known: dict[str, bool] = {}

    @contextlib.contextmanager
    def bound(self, conn: Connection) -> Iterator[PostgresBlobRows]:
        """Use `conn` for the calls made inside the block (nested binds restore the outer)."""
        outer, self._conn = self._conn, conn
        outer_known, self._known = self._known, {}
        try:
            yield self
        finally:
            self._conn, self._known = outer, outer_known

    def know(self, asked: Iterable[str], present: Iterable[str]) -> None:
        """Record that of the blobs `asked` (read in the bound operation's transaction),
        those in `present` are stored and the others are not."""
        stored = set(present)
        self._known.update((blob_hash, blob_hash in stored) for blob_hash in asked)

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            # A programming error, not a storage one: every caller binds first.
            raise RuntimeError("PostgresBlobRows used outside bound(conn)")
        return self._conn

    def link(self, blob_hash: str) -> ChainLink | None:
        row = self.conn.execute(
            "SELECT hash, depth, keyframe, base FROM blobs WHERE hash = %s", (blob_hash,)
        ).fetchone()
        if row is None:
            return None
        return ChainLink(row[0], row[1], bool(row[2]), row[3])

    def has(self, blob_hash: str) -> bool:
        known = self._known.get(blob_hash)
        if known is not None:
            return known
        return self.conn.execute(
            "SELECT 1 FROM blobs WHERE hash = %s", (blob_hash,)).fetchone() is not None

    def stored(self, blob_hash: str) -> tuple[bytes, str | None] | None:
        row = self.conn.execute(
            "SELECT data, base FROM blobs WHERE hash = %s", (blob_hash,)).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

    def insert(self, blob_hash: str, kind: str, size: int, encoded: Encoded,
               created_at: str) -> None:
        self._known[blob_hash] = True
        self.conn.execute(
            "INSERT INTO blobs (hash, kind, size, stored_size, base, depth, keyframe, created_at,"
            " data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s)"
            # Two writers storing the same bytes at once (two pages with one body, saved by
            # two workers): the second finds the first's row when it commits, and uses it.
            " ON CONFLICT (hash) DO NOTHING",
            (blob_hash, kind, size, len(encoded.data), encoded.base, encoded.depth,
             encoded.keyframe, created_at, encoded.data))
