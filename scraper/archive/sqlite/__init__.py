"""The SQLite backend of the archive: one file, WAL, one writer at a time."""

from __future__ import annotations

from scraper.archive.sqlite.archive import SQLiteArchive
from scraper.archive.sqlite.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SQLiteArchive"]
