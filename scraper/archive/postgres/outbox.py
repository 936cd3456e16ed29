"""The notification outbox in the PostgreSQL archive (schema version 5), as the SQLite
archive's (scraper/archive/sqlite/outbox.py, which says the why of each statement)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from scraper.archive.notify_records import DELIVERY_STATUSES, NotifyBacklog, OutboxChange
from scraper.archive.postgres.core import Connection
from scraper.archive.postgres.writing import PostgresWrites
from scraper.archive.queries import prune_outbox_sql
from scraper.errors import ArchiveError


def queue_breakage(conn: Connection, run_id: int, ended_at: datetime,
                   alerts: Sequence[Mapping[str, Any]]) -> None:
    """An outbox row per parser-breakage alert of a run, in finish_run's transaction."""
    for alert in alerts:
        examples = alert.get("examples") or [""]
        conn.execute(
            "INSERT INTO notify_outbox (site, url, event, version, run_id, at, detail)"
            " VALUES (%s, %s, 'breakage', NULL, %s, %s, %s)",
            (str(alert.get("site", "")), str(examples[0]), run_id, ended_at,
             str(alert.get("message", ""))))


_DUE = (
    "SELECT o.id, o.site, o.url, o.event, o.version, o.run_id, o.at, o.detail,"
    " coalesce(d.attempts, 0)"
    " FROM notify_outbox o LEFT JOIN notify_deliveries d"
    "  ON d.target = %(target)s AND d.change_id = o.id"
    " WHERE o.site = %(site)s AND o.id > %(since)s AND (d.change_id IS NULL"
    "  OR (d.status = 'pending' AND (d.next_attempt IS NULL OR d.next_attempt <= %(now)s)))"
    " ORDER BY o.id LIMIT %(limit)s")

_BACKLOG = (
    "SELECT t.site, t.target, t.label, t.since_id,"
    " (SELECT count(*) FROM notify_outbox o LEFT JOIN notify_deliveries d"
    "   ON d.target = t.target AND d.change_id = o.id"
    "   WHERE o.site = t.site AND o.id > t.since_id"
    "   AND (d.status IS NULL OR d.status = 'pending')),"
    " (SELECT count(*) FROM notify_deliveries d JOIN notify_outbox o ON o.id = d.change_id"
    "   WHERE d.target = t.target AND o.site = t.site AND d.status = 'sent'),"
    " (SELECT min(d.next_attempt) FROM notify_deliveries d JOIN notify_outbox o"
    "   ON o.id = d.change_id WHERE d.target = t.target AND o.site = t.site"
    "   AND d.status = 'pending'),"
    " (SELECT max(d.attempts) FROM notify_deliveries d JOIN notify_outbox o"
    "   ON o.id = d.change_id WHERE d.target = t.target AND o.site = t.site"
    "   AND d.status = 'pending'),"
    " (SELECT d.last_error FROM notify_deliveries d JOIN notify_outbox o"
    "   ON o.id = d.change_id WHERE d.target = t.target AND o.site = t.site"
    "   AND d.status = 'pending' AND d.last_error IS NOT NULL"
    "   ORDER BY d.next_attempt DESC NULLS LAST LIMIT 1)"
    " FROM notify_targets t")


class PostgresNotifyOutbox(PostgresWrites):
    """Outbox methods of PostgresArchive (see ArchiveBackend)."""

    @property
    def _where(self) -> str:
        return self.core.path

    def register_notify_target(self, site: str, target: str, label: str,
                               now: datetime) -> int:
        def op(conn: Connection) -> int:
            _lock_site(conn, site)
            conn.execute(
                "INSERT INTO notify_targets (site, target, label, since_id, added_at)"
                " SELECT %s, %s, %s, coalesce(max(id), 0), %s FROM notify_outbox"
                " ON CONFLICT (site, target) DO UPDATE SET label = excluded.label",
                (site, target, label, now))
            row = conn.execute("SELECT since_id FROM notify_targets WHERE site = %s AND"
                               " target = %s", (site, target)).fetchone()
            assert row is not None
            return int(row[0])

        return self._write(op, doing=f"registering a notification target of {site}")

    def due_changes(self, site: str, target: str, now: datetime,
                    limit: int = 10_000) -> list[OutboxChange]:
        def op(conn: Connection) -> list[OutboxChange]:
            row = conn.execute("SELECT since_id FROM notify_targets WHERE site = %s AND"
                               " target = %s", (site, target)).fetchone()
            if row is None:
                raise ArchiveError(self._where, f"notification target {target} of site "
                                                f"{site!r} was never registered")
            rows = conn.execute(_DUE, {"target": target, "site": site, "since": int(row[0]),
                                       "now": now, "limit": limit}).fetchall()
            return [OutboxChange(id=int(r[0]), site=r[1], url=r[2], event=r[3],
                                 version=None if r[4] is None else int(r[4]),
                                 run_id=None if r[5] is None else int(r[5]), at=r[6],
                                 detail=r[7] or "", attempts=int(r[8])) for r in rows]

        return self.core.run(op, doing="reading the notification outbox")

    def record_deliveries(self, target: str, change_ids: Sequence[int], *, status: str,
                          now: datetime, error: str | None = None,
                          next_attempt: datetime | None = None) -> None:
        if status not in DELIVERY_STATUSES:
            raise ArchiveError(self._where, f"unknown delivery status {status!r}; expected "
                                            f"one of {', '.join(DELIVERY_STATUSES)}")
        ids = [int(i) for i in change_ids]

        def op(conn: Connection) -> None:
            if status == "failed":
                conn.execute(
                    "INSERT INTO notify_deliveries AS d (target, change_id, status, attempts,"
                    " next_attempt, last_error) SELECT %s, u, 'pending', 1, %s, %s"
                    " FROM unnest(%s::bigint[]) AS u ON CONFLICT (target, change_id) DO UPDATE"
                    " SET attempts = d.attempts + 1, next_attempt = excluded.next_attempt,"
                    " last_error = excluded.last_error WHERE d.status = 'pending'",
                    (target, next_attempt, error, ids))
            else:
                conn.execute(
                    "INSERT INTO notify_deliveries AS d (target, change_id, status, sent_at)"
                    " SELECT %s, u, %s, %s FROM unnest(%s::bigint[]) AS u"
                    " ON CONFLICT (target, change_id) DO UPDATE SET status = excluded.status,"
                    " sent_at = excluded.sent_at, next_attempt = NULL"
                    " WHERE d.status = 'pending'", (target, status, now, ids))

        self._write(op, doing=f"recording deliveries to {target}")

    def prune_outbox(self, site: str) -> int:
        def op(conn: Connection) -> int:
            _lock_site(conn, site)
            return int(conn.execute(prune_outbox_sql("%s"), (site, site)).rowcount)

        return self._write(op, doing=f"pruning the notification outbox of {site}")

    @contextlib.contextmanager
    def sending_to(self, site: str, target: str) -> Iterator[None]:
        # A session-level advisory lock on this archive's connection: workers sending to
        # one target take turns, and one that dies (or loses its connection) mid-send
        # frees it with its session; its changes stay pending, sent again later.
        key = f"scraper notify {site} {target}"
        self.core.run(lambda conn: conn.execute("SELECT pg_advisory_lock(hashtext(%s))",
                                                (key,)), doing=f"waiting to send to {target}")
        try:
            yield
        finally:
            with contextlib.suppress(ArchiveError):
                self.core.run(lambda conn: conn.execute(
                    "SELECT pg_advisory_unlock(hashtext(%s))", (key,)),
                    doing=f"done sending to {target}")

    def notify_backlog(self, site: str | None = None) -> list[NotifyBacklog]:
        sql = _BACKLOG + (" WHERE t.site = %s" if site is not None else "")
        sql += " ORDER BY t.site, t.added_at, t.target"

        def op(conn: Connection) -> list[NotifyBacklog]:
            rows = conn.execute(sql, () if site is None else (site,)).fetchall()
            return [NotifyBacklog(site=r[0], target=r[1], label=r[2], since_id=int(r[3]),
                                  pending=int(r[4]), sent=int(r[5]), next_attempt=r[6],
                                  attempts=int(r[7] or 0), last_error=r[8]) for r in rows]

        return self.core.run(op, doing="reading the notification outbox")


def _lock_site(conn: Connection, site: str) -> None:
    """Registering a target of `site` and pruning its outbox take turns (until the
    transaction ends): a prune never drops changes a target registered meanwhile is due."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"scraper outbox {site}",))
