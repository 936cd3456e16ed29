"""Runs in the PostgreSQL archive: started, finished, and read back in the SQLite archive's
record shapes (times as the archive's ISO text, JSON columns decoded)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from scraper.archive.postgres.core import Connection
from scraper.archive.postgres.writing import PostgresWrites, dumps
from scraper.archive.records import RUN_STATUSES
from scraper.errors import ArchiveError
from scraper.models import CrawlStats
from scraper.timeutil import iso

RUN_COLUMNS = ("id", "started_at", "ended_at", "status", "sites", "config", "fetched",
               "new_versions", "unchanged", "not_modified", "failed", "skipped", "retried",
               "queued", "elapsed_s", "alerts", "extra")


class PostgresRunStore(PostgresWrites):
    """Run methods of PostgresArchive."""

    def prepare_bulk_writes(self) -> None:
        """Nothing to do: the server's memory is the server's to size (shared_buffers), and
        a crawl's transactions need no more of this connection than a reader's."""

    def start_run(self, sites: Sequence[str], config: Mapping[str, Any],
                  started_at: datetime) -> int:
        """A new run row, `running` until finish_run.

        Runs left `running` are not marked `killed` here: on PostgreSQL no process lock
        says that no other worker is crawling, and a run spans the workers that take part
        in it (dead workers are found by their heartbeats: SharedFrontier.reap_dead_workers).
        """

        def op(conn: Connection) -> int:
            row = conn.execute(
                "INSERT INTO runs (started_at, status, sites, config)"
                " VALUES (%s, 'running', %s, %s) RETURNING id",
                (started_at, dumps(list(sites)), dumps(dict(config)))).fetchone()
            assert row is not None
            return int(row[0])

        return self._write(op, doing="start_run")

    def finish_run(self, run_id: int, stats: CrawlStats, *, status: str, ended_at: datetime,
                   alerts: Sequence[Mapping[str, Any]] = ()) -> None:
        if status not in RUN_STATUSES:
            raise ArchiveError(self.core.path, f"run {run_id}: unknown status {status!r}; expected "
                                          f"one of {', '.join(RUN_STATUSES)}")

        def op(conn: Connection) -> int:
            return conn.execute(
                "UPDATE runs SET ended_at = %s, status = %s, fetched = %s, new_versions = %s,"
                " unchanged = %s, not_modified = %s, failed = %s, skipped = %s, retried = %s,"
                " queued = %s, elapsed_s = %s, alerts = %s, extra = %s WHERE id = %s",
                (ended_at, status, stats.fetched, stats.new_versions, stats.unchanged,
                 stats.not_modified, stats.failed, stats.skipped, stats.retried, stats.queued,
                 stats.elapsed_s, dumps([dict(a) for a in alerts]), dumps(stats.extra),
                 run_id)).rowcount

        if self._write(op, doing="finish_run") != 1:
            raise ArchiveError(self.core.path, f"no run {run_id} to finish")

    def run_statuses(self) -> dict[str, int]:
        """How many runs ended with each status, most frequent first."""

        def op(conn: Connection) -> dict[str, int]:
            return {str(status): int(count) for status, count in conn.execute(
                "SELECT status, count(*) FROM runs GROUP BY status"
                " ORDER BY count(*) DESC, status COLLATE \"C\"")}

        return self.core.run(op, doing="run_statuses")

    def last_run(self, site: str | None = None, *, status: str | None = None,
                 before: int | None = None) -> dict[str, Any] | None:
        """The most recent run (of `site`, that ended with `status`, older than run id
        `before`), with its JSON columns decoded; None if none."""
        where: list[str] = []
        params: list[Any] = []
        if site is not None:
            where.append("EXISTS (SELECT 1 FROM json_array_elements_text(runs.sites::json) v"
                         " WHERE v = %s)")
            params.append(site)
        if status is not None:
            where.append("status = %s")
            params.append(status)
        if before is not None:
            where.append("id < %s")
            params.append(before)
        sql = (f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT 1")

        def op(conn: Connection) -> tuple[Any, ...] | None:
            return conn.execute(sql, params).fetchone()

        row = self.core.run(op, doing="last_run")
        if row is None:
            return None
        data = dict(zip(RUN_COLUMNS, row, strict=True))
        for key in ("started_at", "ended_at"):
            if data[key] is not None:
                data[key] = iso(data[key])
        for key in ("sites", "config", "alerts", "extra"):
            data[key] = json.loads(data[key])
        return data
