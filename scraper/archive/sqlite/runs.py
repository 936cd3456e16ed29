"""Runs in the SQLite archive: started, finished, killed ones found, and read back."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from scraper.archive.records import KILLED, RUN_STATUSES
from scraper.archive.sqlite.core import ArchiveCore, dumps, translated
from scraper.archive.sqlite.links import settle_links
from scraper.archive.sqlite.outbox import queue_breakage
from scraper.errors import ArchiveError
from scraper.lock import holds as holds_crawl_lock
from scraper.models import CrawlStats
from scraper.timeutil import from_iso, iso

log = logging.getLogger(__name__)

# Runs started in this process and not finished yet, by archive file (st_dev, st_ino): the
# `running` rows that start_run must not take for a killed run's.
_runs_here: dict[tuple[int, int], set[int]] = {}


class RunStore(ArchiveCore):
    """Run methods of SQLiteArchive."""

    @translated
    def start_run(self, sites: Sequence[str], config: Mapping[str, Any],
                  started_at: datetime) -> int:
        """A new run row, `running` until finish_run.

        When this process holds the crawl lock on the file (scraper.lock.ArchiveLock, as
        `scraper crawl` does), no other crawl can be running on it: a row still `running`
        that this process did not start belongs to a run that was killed (SIGKILL, the OOM
        killer, a power cut) or could not record its end (a full disk). It is marked
        `killed` in the same transaction (see _close_killed_runs). Without the lock nothing
        is marked: another process may be crawling.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, status, sites, config) VALUES (?, 'running', ?, ?)",
                (iso(started_at), dumps(list(sites)), dumps(dict(config))))
            run_id = int(cursor.lastrowid or 0)
            key = self._held_key
            if key is not None and holds_crawl_lock(self.path):
                self._close_killed_runs(conn, run_id, _runs_here.get(key, set()))
        if key is not None:
            _runs_here.setdefault(key, set()).add(run_id)
        return run_id

    @staticmethod
    def _close_killed_runs(conn: sqlite3.Connection, run_id: int, ours: set[int]) -> None:
        """Mark `killed` the runs left `running` by a process that died, other than `run_id`
        and the runs this process started (several configs crawled at once each have one).

        Their end time is their last recorded write (a version, a failure or a skip; else
        their start), and the counts that their rows show are filled in: `new_versions`,
        `failed` and `skipped`. The other counts were only known to the dead process and
        stay 0. `extra.closed_by_run` names the run that found them."""
        stale = conn.execute("SELECT id, started_at FROM runs WHERE status = 'running'"
                             " AND id != ?", (run_id,)).fetchall()
        for stale_id, started in stale:
            if stale_id in ours:
                continue
            versions, last_version = conn.execute(
                "SELECT count(*), max(fetched_at) FROM snapshots WHERE run_id = ?",
                (stale_id,)).fetchone()
            failed, last_failure = conn.execute(
                "SELECT count(*), max(at) FROM failures WHERE run_id = ?", (stale_id,)).fetchone()
            skipped, last_skip = conn.execute(
                "SELECT count(*), max(at) FROM skips WHERE run_id = ?", (stale_id,)).fetchone()
            ended = max([t for t in (last_version, last_failure, last_skip) if t] or [started])
            try:
                elapsed = max(0.0, (from_iso(ended) - from_iso(started)).total_seconds())
            except ValueError:
                elapsed = 0.0
            conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, new_versions = ?, failed = ?,"
                " skipped = ?, elapsed_s = ?,"
                " extra = json_set(CASE WHEN json_valid(extra) THEN extra ELSE '{}' END,"
                " '$.closed_by_run', ?) WHERE id = ?",
                (KILLED, ended, versions, failed, skipped, elapsed, run_id, stale_id))
            log.warning("run %d never recorded its end (the process was killed, or could not "
                        "write); marked %s", stale_id, KILLED)

    @translated
    def finish_run(self, run_id: int, stats: CrawlStats, *, status: str, ended_at: datetime,
                   alerts: Sequence[Mapping[str, Any]] = ()) -> None:
        if status not in RUN_STATUSES:
            raise ArchiveError(self.path, f"run {run_id}: unknown status {status!r}; expected "
                                          f"one of {', '.join(RUN_STATUSES)}")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET ended_at = ?, status = ?, fetched = ?, new_versions = ?,"
                " unchanged = ?, not_modified = ?, failed = ?, skipped = ?, retried = ?,"
                " queued = ?, elapsed_s = ?, alerts = ?, extra = ? WHERE id = ?",
                (iso(ended_at), status, stats.fetched, stats.new_versions, stats.unchanged,
                 stats.not_modified, stats.failed, stats.skipped, stats.retried, stats.queued,
                 stats.elapsed_s, dumps([dict(a) for a in alerts]), dumps(stats.extra), run_id))
            if cursor.rowcount != 1:
                raise ArchiveError(self.path, f"no run {run_id} to finish")
            queue_breakage(conn, run_id, iso(ended_at), alerts)
            settle_links(conn)
        if self._held_key is not None:
            _runs_here.get(self._held_key, set()).discard(run_id)

    @translated
    def run_statuses(self) -> dict[str, int]:
        """How many runs ended with each status (`running`: in progress, or killed and not
        yet found by the next crawl), most frequent first."""
        return {status: count for status, count in self.conn.execute(
            "SELECT status, count(*) FROM runs GROUP BY status ORDER BY count(*) DESC, status")}

    @translated
    def last_run(self, site: str | None = None, *, status: str | None = None,
                 before: int | None = None) -> dict[str, Any] | None:
        """The most recent run (of `site`, that ended with `status`, older than run id
        `before`), with its JSON columns decoded; None if none."""
        where: list[str] = []
        params: list[Any] = []
        if site is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(runs.sites) WHERE value = ?)")
            params.append(site)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if before is not None:
            where.append("id < ?")
            params.append(before)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        cursor = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", params)
        row = cursor.fetchone()
        if row is None:
            return None
        data = dict(zip([d[0] for d in cursor.description], row))
        for key in ("sites", "config", "alerts", "extra"):
            data[key] = json.loads(data[key])
        return data
