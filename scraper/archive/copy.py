"""Copying an archive between backends (SQLite to PostgreSQL, back, or SQLite to SQLite):
streamed, resumable, verified.

Each table is copied in key order, in batches, each batch committed, so that an interrupted
copy run again continues after the largest key the destination holds, without doubling
rows. The destination's schema is made by opening it with its backend (migrations, SQLite's
full-text index triggers, PostgreSQL's generated search column), so what is copied is rows
only. At the end the two ends must agree on rows per table, pages and versions per site,
every version's content hash and every blob's hash and bytes.

The source must not be written to while it is copied: rows changed after they were copied
would not be copied again, and the verification would refuse the result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from scraper.archive.copy_sides import (
    KEYS,
    TABLES,
    TRANSIENT_COLUMNS,
    CopyEnd,
    Figures,
    Key,
    PostgresEnd,
    Row,
    SQLiteEnd,
    key_text,
)
from scraper.archive.location import ArchiveLocation, parse_archive_location
from scraper.archive.opener import Archive
from scraper.archive.protocol import ArchiveBackend
from scraper.archive.sqlite import SQLiteArchive
from scraper.errors import ArchiveError

DEFAULT_BATCH_ROWS = 1000
# Blob rows hold whole page bodies and their deltas (up to megabytes each): fewer per batch,
# so that a batch stays small in memory.
BLOB_BATCH_DIVISOR = 20


@dataclass(frozen=True, slots=True)
class TableCopied:
    """One table's part of a copy: rows copied by this run (a resumed run copies only the
    rest), the rows the destination ends with, and the text and binary bytes copied."""

    table: str
    rows_copied: int
    rows_total: int
    bytes_copied: int


@dataclass(frozen=True, slots=True)
class BatchCopied:
    """Told to `on_batch` after each committed batch."""

    table: str
    rows: int
    rows_copied: int


@dataclass(frozen=True, slots=True)
class CopyReport:
    source: str
    destination: str
    tables: tuple[TableCopied, ...]
    seconds: float
    figures: Figures

    @property
    def rows_copied(self) -> int:
        return sum(t.rows_copied for t in self.tables)

    @property
    def bytes_copied(self) -> int:
        return sum(t.bytes_copied for t in self.tables)


def copy_archive(source: str | os.PathLike[str] | ArchiveLocation,
                 destination: str | os.PathLike[str] | ArchiveLocation, *,
                 batch_rows: int = DEFAULT_BATCH_ROWS,
                 on_batch: Callable[[BatchCopied], None] | None = None) -> CopyReport:
    """Copy every row of the archive at `source` into the archive at `destination` (made if
    missing), continuing an interrupted copy, and verify the result.

    Raises ArchiveError naming the destination when it holds a different archive (rows that
    are not the source's), and when the two ends disagree after the copy (naming what
    differs); ArchiveError naming either end when it cannot be opened; ValueError for a
    `batch_rows` under 1.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    src_where, dst_where = (_location(source, "source"), _location(destination, "destination"))
    if (src_where.kind, _same_place(src_where)) == (dst_where.kind, _same_place(dst_where)):
        raise ArchiveError(dst_where.display, "is the source archive itself: give another "
                                              "destination")
    started = time.monotonic()
    with ExitStack() as stack:
        src = stack.enter_context(_end(src_where, create=False))
        dst = stack.enter_context(_end(dst_where, create=True))
        # PostgreSQL's column types say which values are times and flags; SQLite's text and
        # integers are read and written as those.
        kinds = src.kinds or dst.kinds
        src.kinds = dst.kinds = kinds
        columns = {table: _common_columns(src, dst, table) for table in TABLES}
        for table in TABLES:
            _check_resumable(src, dst, table, columns[table])
        copied = tuple(_copy_table(src, dst, table, columns[table], batch_rows, on_batch)
                       for table in TABLES)
        dst.finish()
        figures = _verify(src, dst)
    return CopyReport(src_where.display, dst_where.display, copied,
                      time.monotonic() - started, figures)


def _location(value: str | os.PathLike[str] | ArchiveLocation, key: str) -> ArchiveLocation:
    if isinstance(value, ArchiveLocation):
        return value
    return parse_archive_location(os.fspath(value), key=key)


def _same_place(where: ArchiveLocation) -> str:
    return where.path_or_dsn if where.is_postgres else os.path.realpath(where.path_or_dsn)


@contextmanager
def _end(where: ArchiveLocation, *, create: bool) -> Iterator[CopyEnd]:
    archive: ArchiveBackend = Archive.open(where, create=create)
    try:
        if isinstance(archive, SQLiteArchive):
            yield SQLiteEnd(archive.conn, where.display)
        else:
            from scraper.archive.postgres.archive import PostgresArchive

            assert isinstance(archive, PostgresArchive)
            yield PostgresEnd(archive.core, where.display)
    finally:
        archive.close()


def _common_columns(src: CopyEnd, dst: CopyEnd, table: str) -> list[str]:
    have = set(src.columns(table)) - TRANSIENT_COLUMNS.get(table, frozenset())
    return [c for c in dst.columns(table) if c in have]


def _check_resumable(src: CopyEnd, dst: CopyEnd, table: str, columns: list[str]) -> None:
    """Refuse a destination whose rows of `table` are not the first rows of the source's:
    another archive, or this one's copy after either end was written to."""
    held = dst.count(table)
    last = dst.max_key(table)
    if not held or last is None:
        return
    theirs = src.row_at(table, columns, last)
    if theirs is None or theirs != dst.row_at(table, columns, last):
        raise ArchiveError(dst.display, f"holds a different archive: its {table} row "
                                        f"{key_text(table, last)} is not the source's; copy "
                                        "into an empty archive")
    if src.count(table, upto=last) != held:
        raise ArchiveError(dst.display, f"holds a different archive: {held} {table} rows up "
                                        f"to {key_text(table, last)}, the source has "
                                        f"{src.count(table, upto=last)}; copy into an empty "
                                        "archive")


def _size(row: Row) -> int:
    return sum(len(v) if isinstance(v, (bytes, str)) else 0 for v in row)


def _copy_table(src: CopyEnd, dst: CopyEnd, table: str, columns: list[str], batch_rows: int,
                on_batch: Callable[[BatchCopied], None] | None) -> TableCopied:
    limit = max(1, batch_rows // BLOB_BATCH_DIVISOR) if table == "blobs" else batch_rows
    key_at = [columns.index(name) for name in KEYS[table]]
    after: Key | None = dst.max_key(table)
    rows_copied = bytes_copied = 0
    while True:
        rows = src.read(table, columns, after, limit)
        if not rows:
            break
        dst.insert(table, columns, rows)
        rows_copied += len(rows)
        bytes_copied += sum(_size(row) for row in rows)
        after = tuple(rows[-1][i] for i in key_at)
        if on_batch is not None:
            on_batch(BatchCopied(table, len(rows), rows_copied))
        if len(rows) < limit:
            break
    return TableCopied(table, rows_copied, dst.count(table), bytes_copied)


def _verify(src: CopyEnd, dst: CopyEnd) -> Figures:
    theirs, ours = src.figures(), dst.figures()
    differences = []
    for (table, want), (_, got) in zip(theirs.table_rows, ours.table_rows, strict=True):
        if want != got:
            differences.append(f"{table}: {got} rows, the source has {want}")
    if theirs.sites != ours.sites:
        differences.append(f"pages and versions per site: {_sites(ours)}, the source has "
                           f"{_sites(theirs)}")
    if theirs.versions_digest != ours.versions_digest:
        differences.append("the versions' content hashes differ")
    if theirs.blobs_digest != ours.blobs_digest:
        differences.append("the blobs' hashes or bytes differ")
    if differences:
        raise ArchiveError(dst.display, "the copy does not verify: " + "; ".join(differences))
    return ours


def _sites(figures: Figures) -> str:
    return ", ".join(f"{site} {pages}/{versions}" for site, pages, versions in figures.sites)
