"""The `blobs` table under scraper.archive.blobs.BlobStore: one row per blob."""

from __future__ import annotations

import sqlite3

from scraper.archive.blobs import ChainLink, Encoded


class SQLiteBlobRows:
    """BlobRows over an SQLite connection; each call runs in the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def link(self, blob_hash: str) -> ChainLink | None:
        row = self.conn.execute(
            "SELECT hash, depth, keyframe, base FROM blobs WHERE hash = ?", (blob_hash,)
        ).fetchone()
        if row is None:
            return None
        return ChainLink(row[0], row[1], bool(row[2]), row[3])

    def has(self, blob_hash: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM blobs WHERE hash = ?", (blob_hash,)).fetchone() is not None

    def stored(self, blob_hash: str) -> tuple[bytes, str | None] | None:
        row = self.conn.execute(
            "SELECT data, base FROM blobs WHERE hash = ?", (blob_hash,)).fetchone()
        return None if row is None else (row[0], row[1])

    def insert(self, blob_hash: str, kind: str, size: int, encoded: Encoded,
               created_at: str) -> None:
        self.conn.execute(
            "INSERT INTO blobs (hash, kind, size, stored_size, base, depth, keyframe, created_at,"
            " data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (blob_hash, kind, size, len(encoded.data), encoded.base, encoded.depth,
             int(encoded.keyframe), created_at, encoded.data))
