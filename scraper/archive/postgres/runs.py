"""Runs in the PostgreSQL archive: started, finished, and read back in the SQLite archive's
record shapes (times as the archive's ISO text, JSON columns decoded)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from scraper.archive.postgres.core import Connection
from scraper.archive.postgres.outbox import queue_breakage
from scraper.archive.postgres.writing import PostgresWrites, dumps
from scraper.archive.records import RUN_STATUSES
from scraper.archive.sharing import DEFAULT_LEASE_SECONDS, worker_label
from scraper.errors import ArchiveError
from scraper.models import CrawlStats
from scraper.timeutil import iso

PART_COUNTS = ("fetched", "new_versions", "unchanged", "not_modified", "failed", "skipped",
               "retried")

# A running run of these sites (JSON text) in which a live worker's part is open.
_JOINABLE_RUN = """
SELECT r.id FROM runs r
WHERE r.status = 'running' AND r.sites = %s AND EXISTS (
    SELECT 1 FROM run_workers rw JOIN workers w ON w.id = rw.worker_id
    WHERE rw.run_id = r.id AND rw.ended_at IS NULL AND w.stopped_at IS NULL
      AND w.last_heartbeat >= now() - %s * interval '1 second')
ORDER BY r.id DESC LIMIT 1
"""

# Whether another live worker's part of a run is still open.
_OPEN_PARTS = """
SELECT EXISTS (
    SELECT 1 FROM run_workers rw JOIN workers w ON w.id = rw.worker_id
    WHERE rw.run_id = %s AND rw.ended_at IS NULL AND w.stopped_at IS NULL
      AND w.last_heartbeat >= now() - %s * interval '1 second')
"""


def run_parts(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    """Each worker's part of a run: who (id, `host:pid`), its status and counts."""
    rows = conn.execute(
        "SELECT rw.worker_id, w.host, w.pid, rw.status, " + ", ".join(
            f"rw.{key}" for key in PART_COUNTS)
        + " FROM run_workers rw JOIN workers w ON w.id = rw.worker_id WHERE rw.run_id = %s"
        " ORDER BY rw.worker_id", (run_id,)).fetchall()
    return [{"worker": int(row[0]), "label": worker_label(str(row[1]), int(row[2])),
             "status": row[3] or "running",
             **{key: int(value) for key, value in zip(PART_COUNTS, row[4:], strict=True)}}
            for row in rows]


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
        """A new run row, `running` until finish_run; for a worker (join_crawl), the
        running run of the same sites that live workers take part in, joined.

        Runs left `running` are not marked `killed` here: on PostgreSQL no process lock
        says that no other worker is crawling. A dead worker is found by its heartbeat
        (SharedFrontier.reap_dead_workers), and a run whose last part it was ends `killed`.
        """
        sites_json = dumps(list(sites))
        worker = self.worker_id

        def op(conn: Connection) -> int:
            if worker is not None:
                # Two workers starting together must agree on one run.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                             ("scraper run " + sites_json,))
                row = conn.execute(_JOINABLE_RUN, (sites_json, self._stale_after())).fetchone()
                if row is not None:
                    run_id = int(row[0])
                    conn.execute("INSERT INTO run_workers (run_id, worker_id) VALUES (%s, %s)"
                                 " ON CONFLICT DO NOTHING", (run_id, worker))
                    return run_id
            row = conn.execute(
                "INSERT INTO runs (started_at, status, sites, config)"
                " VALUES (%s, 'running', %s, %s) RETURNING id",
                (started_at, sites_json, dumps(dict(config)))).fetchone()
            assert row is not None
            if worker is not None:
                conn.execute("INSERT INTO run_workers (run_id, worker_id) VALUES (%s, %s)",
                             (row[0], worker))
            return int(row[0])

        return self._write(op, doing="start_run")

    def _stale_after(self) -> float:
        """Seconds without a heartbeat after which a worker is taken for dead."""
        worker = getattr(self, "worker", None)
        lease = worker.lease_seconds if worker is not None else None
        return float(lease) if lease else DEFAULT_LEASE_SECONDS

    def finish_run(self, run_id: int, stats: CrawlStats, *, status: str, ended_at: datetime,
                   alerts: Sequence[Mapping[str, Any]] = ()) -> None:
        if status not in RUN_STATUSES:
            raise ArchiveError(self.core.path, f"run {run_id}: unknown status {status!r}; expected "
                                          f"one of {', '.join(RUN_STATUSES)}")
        if self.worker_id is not None:
            self._finish_part(run_id, stats, status=status, ended_at=ended_at, alerts=alerts)
            return

        def op(conn: Connection) -> int:
            updated = conn.execute(
                "UPDATE runs SET ended_at = %s, status = %s, fetched = %s, new_versions = %s,"
                " unchanged = %s, not_modified = %s, failed = %s, skipped = %s, retried = %s,"
                " queued = %s, elapsed_s = %s, alerts = %s, extra = %s WHERE id = %s",
                (ended_at, status, stats.fetched, stats.new_versions, stats.unchanged,
                 stats.not_modified, stats.failed, stats.skipped, stats.retried, stats.queued,
                 stats.elapsed_s, dumps([dict(a) for a in alerts]), dumps(stats.extra),
                 run_id)).rowcount
            if updated == 1:
                queue_breakage(conn, run_id, ended_at, alerts)
            return updated

        if self._write(op, doing="finish_run") != 1:
            raise ArchiveError(self.core.path, f"no run {run_id} to finish")

    def _finish_part(self, run_id: int, stats: CrawlStats, *, status: str,
                     ended_at: datetime, alerts: Sequence[Mapping[str, Any]]) -> None:
        """This worker's part of a shared run ends; the run adds up the parts, and ends
        when no live worker's part is open."""
        worker = self.worker_id

        def op(conn: Connection) -> None:
            run = conn.execute("SELECT started_at, alerts, extra FROM runs WHERE id = %s"
                               " FOR UPDATE", (run_id,)).fetchone()
            if run is None:
                raise ArchiveError(self.core.path, f"no run {run_id} to finish")
            conn.execute(
                "INSERT INTO run_workers (run_id, worker_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING", (run_id, worker))
            conn.execute(
                "UPDATE run_workers SET ended_at = %s, status = %s, fetched = %s,"
                " new_versions = %s, unchanged = %s, not_modified = %s, failed = %s,"
                " skipped = %s, retried = %s WHERE run_id = %s AND worker_id = %s",
                (ended_at, status, stats.fetched, stats.new_versions, stats.unchanged,
                 stats.not_modified, stats.failed, stats.skipped, stats.retried, run_id,
                 worker))
            parts = run_parts(conn, run_id)
            open_parts = conn.execute(_OPEN_PARTS, (run_id, self._stale_after())).fetchone()
            still_open = bool(open_parts and open_parts[0])
            totals = {key: sum(int(part[key]) for part in parts) for key in PART_COUNTS}
            extra = {**json.loads(run[2]), **stats.extra, "workers": parts}
            all_alerts = [*json.loads(run[1]), *(dict(a) for a in alerts)]
            queue_breakage(conn, run_id, ended_at, alerts)
            conn.execute(
                "UPDATE runs SET fetched = %s, new_versions = %s, unchanged = %s,"
                " not_modified = %s, failed = %s, skipped = %s, retried = %s, queued = %s,"
                " alerts = %s, extra = %s WHERE id = %s",
                (*(totals[key] for key in PART_COUNTS), stats.queued, dumps(all_alerts),
                 dumps(extra), run_id))
            if not still_open:
                conn.execute("UPDATE runs SET status = %s, ended_at = %s, elapsed_s ="
                             " extract(epoch FROM %s - started_at) WHERE id = %s",
                             (status, ended_at, ended_at, run_id))

        self._write(op, doing="finish_run")

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
