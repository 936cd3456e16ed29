"""The PostgreSQL blob rows under BlobStore: delta chains stored and read back exactly."""

from __future__ import annotations

import pytest

from scraper.archive.blobs import BlobStore
from scraper.archive.location import parse_archive_location
from scraper.archive.postgres import schema
from scraper.archive.postgres.blobs import PostgresBlobRows
from scraper.archive.postgres.core import PostgresCore


def test_a_chain_of_versions_is_stored_as_deltas_and_read_back(postgres_url: str) -> None:
    core = PostgresCore(parse_archive_location(postgres_url))
    try:
        schema.migrate(core)
        rows = PostgresBlobRows()
        store = BlobStore(rows, max_depth=4)
        base = b"".join(b"<p>paragraph %d of the article</p>\n" % i for i in range(300))
        bodies = [base + b"edit %d" % n for n in range(6)]
        hashes: list[str] = []
        with core.transaction() as conn, rows.bound(conn):
            previous = None
            for body in bodies:
                blob_hash, _ = store.put(body, "body", previous, "2026-03-01T00:00:00+00:00")
                hashes.append(blob_hash)
                previous = blob_hash
            assert store.put(bodies[0], "body", None, "2026-03-01T00:00:00+00:00")[1] == 0
        store.forget()
        with core.transaction() as conn, rows.bound(conn):
            assert [store.get(h) for h in hashes] == bodies
            depths = [rows.link(h) for h in hashes]
            assert all(link is not None and link.depth <= 4 for link in depths)
            assert any(link is not None and link.base is not None for link in depths)
            assert not rows.has("0" * 64) and rows.stored("0" * 64) is None
    finally:
        core.close()


def test_rows_used_without_a_connection_say_so() -> None:
    with pytest.raises(RuntimeError, match="outside bound"):
        PostgresBlobRows().has("x")
