"""The read-only web view of an archive (`scraper serve`): search, sites and recent changes,
a page's timeline, any version's fields and sandboxed body, and diffs between versions."""

from __future__ import annotations

from scraper.serve.access import ServeSettings, check_settings, is_loopback
from scraper.serve.app import create_app
from scraper.serve.readers import ArchiveReaders

__all__ = ["ArchiveReaders", "ServeSettings", "check_settings", "create_app", "is_loopback"]
