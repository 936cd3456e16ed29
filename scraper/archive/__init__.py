"""The archive: versioned snapshots of crawled pages (the only package that stores them).

Archive.open(location) picks the backend (scraper.archive.sqlite); callers type against
ArchiveBackend (scraper.archive.protocol) and never see its storage.
"""

from __future__ import annotations

from scraper.archive.opener import Archive
from scraper.archive.protocol import ArchiveBackend
from scraper.archive.records import RUN_STATUSES, SaveResult

__all__ = ["RUN_STATUSES", "Archive", "ArchiveBackend", "SaveResult"]
