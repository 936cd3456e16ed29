"""Records every archive backend returns or understands: what a save did, and run statuses."""

from __future__ import annotations

from dataclasses import dataclass

# How a run can end (finish_run).
RUN_STATUSES = ("completed", "max_pages", "max_time", "interrupted", "failed")
# The status the next crawl gives a run that never recorded its end (start_run).
KILLED = "killed"


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What ArchiveBackend.save did with one fetch."""

    version: int  # the version now current
    created: bool  # False: the extracted content was unchanged, no new version
    content_hash: str
    body_hash: str  # the body of the version now current
    stored_bytes: int  # bytes added to blobs (0 when deduplicated or unchanged)
