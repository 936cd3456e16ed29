"""The archive: versioned snapshots of crawled pages (the only package that stores them).

Callers type against ArchiveBackend (scraper.archive.protocol) and never see its storage.
"""

from __future__ import annotations

from scraper.archive.protocol import ArchiveBackend
from scraper.archive.records import RUN_STATUSES, SaveResult
from scraper.archive.schema import SCHEMA_VERSION
from scraper.archive.store import Archive

__all__ = ["RUN_STATUSES", "SCHEMA_VERSION", "Archive", "ArchiveBackend", "SaveResult"]
