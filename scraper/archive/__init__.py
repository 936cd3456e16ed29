"""The archive: versioned snapshots of crawled pages in SQLite (the only module that uses it)."""

from __future__ import annotations

from scraper.archive.schema import SCHEMA_VERSION
from scraper.archive.store import RUN_STATUSES, Archive, SaveResult

__all__ = ["RUN_STATUSES", "SCHEMA_VERSION", "Archive", "SaveResult"]
