"""A run's end figures as the archive keeps them: the counts, and what the summary tells
beyond them (read from the archive at the run's end)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from scraper.archive import ArchiveBackend
from scraper.crawl.source import RunCounts
from scraper.models import CrawlStats


def run_stats(archive: ArchiveBackend, site: str, counts: RunCounts, started: datetime,
              ended: datetime, worker: str | None,
              host_delays: dict[str, dict[str, float | int]] | None = None) -> CrawlStats:
    """The run's counts, what is left queued and its outcome notes. `worker`: this
    worker's label in a crawl that workers share (None when it crawls alone);
    `host_delays`: each host's adaptive delay at the end (Fetcher.host_delays)."""
    c = counts
    return CrawlStats(
        fetched=c.fetched, new_versions=c.new_versions, unchanged=c.unchanged,
        not_modified=c.not_modified, failed=c.failed, skipped=c.skipped, retried=c.retried,
        queued=archive.pending_count(site, ended),
        elapsed_s=(ended - started).total_seconds(),
        extra=outcome_notes(archive, site, counts, ended, worker, host_delays),
    )


def outcome_notes(archive: ArchiveBackend, site: str, counts: RunCounts, ended: datetime,
                  worker: str | None,
                  host_delays: dict[str, dict[str, float | int]] | None = None
                  ) -> dict[str, Any]:
    """What the summary tells beyond the counts: hosts that could not be reached, how many
    failed URLs wait and when the first is tried again, start URLs that were refused, pages
    whose claim another worker took, which worker this was, and the adaptive delays."""
    c = counts
    notes: dict[str, Any] = {}
    waiting, first_retry = archive.waiting_retries(site, ended)
    if waiting:
        notes["waiting_retries"] = waiting
        notes["next_retry"] = first_retry.isoformat() if first_retry else None
    if c.unreachable:
        notes["unreachable"] = dict(c.unreachable)
    if c.start_skips:
        notes["start_skips"] = list(c.start_skips)
    if c.claims_lost:
        notes["claims_lost"] = c.claims_lost
    if worker is not None:
        notes["worker"] = worker
    if host_delays:
        notes["host_delays"] = host_delays
    return notes


def with_run_parts(archive: ArchiveBackend, site: str, run_id: int,
                   stats: CrawlStats) -> CrawlStats:
    """`stats` with each worker's part of run `run_id` as its finished row lists them
    (`workers`), for the summary to say who fetched what."""
    run = archive.last_run(site, before=run_id + 1)
    parts = run["extra"].get("workers") if run is not None and run["id"] == run_id else None
    if not parts:
        return stats
    return dataclasses.replace(stats, extra={**stats.extra, "workers": parts})
