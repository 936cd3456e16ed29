"""The notification outbox in the SQLite archive (schema version 6): the changes queued by
the writes that make them, the targets that have seen them and the state of each delivery.
See scraper/archive/notify_records.py."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from scraper.archive.notify_records import DELIVERY_STATUSES, NotifyBacklog, OutboxChange
from scraper.archive.queries import prune_outbox_sql
from scraper.archive.sqlite.core import ArchiveCore, translated
from scraper.errors import ArchiveError
from scraper.timeutil import from_iso, iso


def queue_breakage(conn: sqlite3.Connection, run_id: int, stamp: str,
                   alerts: Sequence[Mapping[str, Any]]) -> None:
    """An outbox row per parser-breakage alert of a run, in finish_run's transaction."""
    for alert in alerts:
        examples = alert.get("examples") or [""]
        conn.execute(
            "INSERT INTO notify_outbox (site, url, event, version, run_id, at, detail)"
            " VALUES (?, ?, 'breakage', NULL, ?, ?, ?)",
            (str(alert.get("site", "")), str(examples[0]), run_id, stamp,
             str(alert.get("message", ""))))


# A change is due for a target when it came after the target was first seen, belongs to its
# site, and has no delivery row yet or a failed one whose retry time has come.
_DUE = (
    "SELECT o.id, o.site, o.url, o.event, o.version, o.run_id, o.at, o.detail,"
    " coalesce(d.attempts, 0)"
    " FROM notify_outbox o LEFT JOIN notify_deliveries d ON d.target = ? AND d.change_id = o.id"
    " WHERE o.site = ? AND o.id > ? AND (d.change_id IS NULL"
    "  OR (d.status = 'pending' AND (d.next_attempt IS NULL OR d.next_attempt <= ?)))"
    " ORDER BY o.id LIMIT ?")

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
    "   AND d.status = 'pending' AND d.last_error IS NOT NULL ORDER BY d.next_attempt DESC"
    "   LIMIT 1)"
    " FROM notify_targets t")


def change_from_row(row: Sequence[Any], at: datetime) -> OutboxChange:
    return OutboxChange(id=int(row[0]), site=row[1], url=row[2], event=row[3],
                        version=None if row[4] is None else int(row[4]),
                        run_id=None if row[5] is None else int(row[5]), at=at,
                        detail=row[7] or "", attempts=int(row[8]))


def check_status(path: str, status: str) -> None:
    if status not in DELIVERY_STATUSES:
        raise ArchiveError(path, f"unknown delivery status {status!r}; expected one of "
                                 f"{', '.join(DELIVERY_STATUSES)}")


class NotifyOutbox(ArchiveCore):
    """Outbox methods of SQLiteArchive (see ArchiveBackend)."""

    @translated
    def register_notify_target(self, site: str, target: str, label: str,
                               now: datetime) -> int:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO notify_targets (site, target, label, since_id, added_at)"
                " SELECT ?, ?, ?, coalesce(max(id), 0), ? FROM notify_outbox"
                " WHERE true ON CONFLICT (site, target) DO UPDATE SET label = excluded.label",
                (site, target, label, iso(now)))
            row = conn.execute("SELECT since_id FROM notify_targets WHERE site = ? AND"
                               " target = ?", (site, target)).fetchone()
        return int(row[0])

    @translated
    def due_changes(self, site: str, target: str, now: datetime,
                    limit: int = 10_000) -> list[OutboxChange]:
        row = self.conn.execute("SELECT since_id FROM notify_targets WHERE site = ? AND"
                                " target = ?", (site, target)).fetchone()
        if row is None:
            raise ArchiveError(self.path, f"notification target {target} of site {site!r} "
                                          "was never registered")
        rows = self.conn.execute(_DUE, (target, site, int(row[0]), iso(now), limit)).fetchall()
        return [change_from_row(r, from_iso(r[6])) for r in rows]

    @translated
    def record_deliveries(self, target: str, change_ids: Sequence[int], *, status: str,
                          now: datetime, error: str | None = None,
                          next_attempt: datetime | None = None) -> None:
        check_status(self.path, status)
        stamp = iso(now)
        retry = None if next_attempt is None else iso(next_attempt)
        with self._write() as conn:
            for change_id in change_ids:
                if status == "failed":
                    conn.execute(
                        "INSERT INTO notify_deliveries (target, change_id, status, attempts,"
                        " next_attempt, last_error) VALUES (?, ?, 'pending', 1, ?, ?)"
                        " ON CONFLICT (target, change_id) DO UPDATE SET"
                        " attempts = attempts + 1, next_attempt = excluded.next_attempt,"
                        " last_error = excluded.last_error WHERE status = 'pending'",
                        (target, change_id, retry, error))
                else:
                    conn.execute(
                        "INSERT INTO notify_deliveries (target, change_id, status, sent_at)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT (target, change_id) DO UPDATE SET"
                        " status = excluded.status, sent_at = excluded.sent_at,"
                        " next_attempt = NULL WHERE status = 'pending'",
                        (target, change_id, status, stamp))

    @translated
    def prune_outbox(self, site: str) -> int:
        with self._write() as conn:
            return int(conn.execute(prune_outbox_sql("?"), (site, site)).rowcount)

    @contextlib.contextmanager
    def sending_to(self, site: str, target: str) -> Iterator[None]:
        # One crawl at a time holds a SQLite archive (its lock file), and only a crawl
        # sends: nothing else can be sending to the target.
        yield

    @translated
    def notify_backlog(self, site: str | None = None) -> list[NotifyBacklog]:
        sql = _BACKLOG + (" WHERE t.site = ?" if site is not None else "")
        sql += " ORDER BY t.site, t.added_at, t.target"
        rows = self.conn.execute(sql, () if site is None else (site,)).fetchall()
        return [NotifyBacklog(site=r[0], target=r[1], label=r[2], since_id=int(r[3]),
                              pending=int(r[4]), sent=int(r[5]),
                              next_attempt=None if r[6] is None else from_iso(r[6]),
                              attempts=int(r[7] or 0), last_error=r[8]) for r in rows]
