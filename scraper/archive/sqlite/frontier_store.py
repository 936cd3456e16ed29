"""The persisted frontier in the SQLite archive: URLs waiting to be fetched, with depth, due
time and back-off."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from scraper.archive.sqlite.core import ArchiveCore, translated
from scraper.compact_json import compact_json
from scraper.models import FrontierItem
from scraper.timeutil import from_iso, iso

FRONTIER_COLUMNS = ("url, site, depth, discovered_from, link_kind, attempts, fetch_count,"
                    " next_due, last_fetched, gone")


def item_from_row(row: tuple[Any, ...]) -> FrontierItem:
    return FrontierItem(
        url=row[0], site=row[1], depth=row[2], discovered_from=row[3], link_kind=row[4],
        attempts=row[5], fetch_count=row[6], next_due=from_iso(row[7]),
        last_fetched=from_iso(row[8]) if row[8] else None, gone=bool(row[9]),
    )


def enqueue_rows(conn: sqlite3.Connection, items: Iterable[FrontierItem], now: datetime) -> int:
    """Insert unknown URLs and lower the depth of known ones; inside the caller's transaction."""
    stamp = iso(now)
    rows = [
        (item.url, item.site, item.depth, item.discovered_from, item.link_kind, stamp,
         iso(item.next_due) if item.next_due is not None else stamp, item.attempts,
         item.fetch_count, iso(item.last_fetched) if item.last_fetched else None, int(item.gone))
        for item in items
    ]
    if not rows:
        return 0
    # Two statements over json_each for all the rows: one per row would make sqlite3 let the
    # GIL go and take it back for each, which a crawl's event loop then waits for.
    rows_json = compact_json(rows).decode("utf-8")
    before = conn.total_changes
    conn.execute(
        "INSERT INTO frontier (url, site, depth, discovered_from, link_kind, added_at, next_due,"
        " attempts, fetch_count, last_fetched, gone)"
        f" SELECT {_ROW_VALUES} FROM json_each(?) WHERE true ORDER BY key"
        " ON CONFLICT (url) DO NOTHING", (rows_json,))
    added = conn.total_changes - before
    # A shorter path to a known URL lowers its depth, so depth limits follow the best path
    # (the shortest of the rows, when a URL comes more than once: min() picks that row's
    # discovered_from and link_kind).
    conn.execute(
        "UPDATE frontier SET depth = best.depth, discovered_from = best.discovered_from,"
        " link_kind = best.link_kind"
        " FROM (SELECT url, min(depth) AS depth, discovered_from, link_kind"
        f"       FROM (SELECT {_ROW_VALUES} FROM json_each(?)) GROUP BY url) AS best"
        " WHERE frontier.url = best.url AND frontier.depth > best.depth", (rows_json,))
    return added


_ROW_VALUES = ", ".join(
    f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(
        ("url", "site", "depth", "discovered_from", "link_kind", "added_at", "next_due",
         "attempts", "fetch_count", "last_fetched", "gone")))


class FrontierStore(ArchiveCore):
    """Frontier methods of SQLiteArchive. URLs arrive normalised; this layer only stores them."""

    @translated
    def enqueue(self, items: Iterable[FrontierItem], now: datetime) -> int:
        """Add URLs to the frontier (due at `now` unless the item says otherwise).

        Known URLs keep their row; a smaller depth replaces a larger one. Returns how many
        URLs were new.
        """
        with self._write() as conn:
            return enqueue_rows(conn, items, now)

    @translated
    def requeue_modified(self, site: str, lastmods: Sequence[tuple[str, datetime]],
                         now: datetime) -> int:
        """Make due at `now` each fetched URL of `site` whose (url, lastmod) pair says its
        page changed after its last fetch; those never fetched, backing off after a failure
        or already due are left alone. Returns how many were made due."""
        if not lastmods:
            return 0
        stamp = iso(now)
        pairs = compact_json([(url, iso(lastmod)) for url, lastmod in lastmods]).decode("utf-8")
        with self._write() as conn:
            before = conn.total_changes
            # Times are iso() text in UTC with microseconds: they compare as text.
            conn.execute(
                "UPDATE frontier SET next_due = ? FROM (SELECT json_extract(value, '$[0]') AS url,"
                " max(json_extract(value, '$[1]')) AS lastmod FROM json_each(?) GROUP BY 1) AS m"
                " WHERE frontier.url = m.url AND frontier.site = ? AND frontier.attempts = 0"
                " AND frontier.last_fetched IS NOT NULL AND frontier.last_fetched < m.lastmod"
                " AND frontier.next_due > ?", (stamp, pairs, site, stamp))
            return conn.total_changes - before

    @translated
    def enqueue_now(self, items: Iterable[FrontierItem], now: datetime) -> int:
        """Queue URLs given by hand: unknown ones are added, known ones made due at `now`
        (their depth, counts and history kept). Returns how many were new."""
        listed = list(items)
        stamp = iso(now)
        with self._write() as conn:
            added = enqueue_rows(conn, listed, now)
            conn.executemany("UPDATE frontier SET next_due = ? WHERE url = ? AND next_due > ?",
                             [(stamp, item.url, stamp) for item in listed])
        return added

    @translated
    def forget(self, site: str, pattern: re.Pattern[str], *,
               dry_run: bool = False) -> list[str]:
        """Drop the frontier rows of `site` whose URL `pattern` finds a match in (never a
        page or a version); returns their URLs, sorted. `dry_run`: only list them."""
        if dry_run:
            return self._matching(self.conn, site, pattern)
        with self._write() as conn:
            urls = self._matching(conn, site, pattern)
            if urls:
                conn.execute("DELETE FROM frontier WHERE site = ? AND url IN"
                             " (SELECT value FROM json_each(?))", (site, json.dumps(urls)))
        return urls

    @staticmethod
    def _matching(conn: sqlite3.Connection, site: str, pattern: re.Pattern[str]) -> list[str]:
        return [row[0] for row in conn.execute(
            "SELECT url FROM frontier WHERE site = ? ORDER BY url", (site,))
            if pattern.search(row[0])]

    @translated
    def due(self, site: str, now: datetime, limit: int,
            exclude: Collection[str] = (),
            only: Collection[str] | None = None) -> list[FrontierItem]:
        """Up to `limit` URLs of `site` due at `now`: never fetched first, then most overdue.

        `exclude` holds URLs in flight; `only`, when given, the URLs that may be returned.
        Pages marked gone are returned too when due: the caller sets their next_due, and a
        page may come back.
        """
        if limit <= 0:
            return []
        found: list[FrontierItem] = []
        stamp = iso(now)
        # Not copied: a crawl passes the set of every URL of its run, once per page.
        excluded = exclude if isinstance(exclude, (set, frozenset, dict)) else set(exclude)
        if only is not None:
            # URLs named by hand (crawl --url): a few, looked up by key.
            rows = self.conn.execute(
                f"SELECT {FRONTIER_COLUMNS} FROM frontier WHERE url IN"
                " (SELECT value FROM json_each(?)) AND site = ? AND next_due <= ?",
                (json.dumps(sorted(only)), site, stamp)).fetchall()
            picked = [item_from_row(row) for row in rows if row[0] not in excluded]
            picked.sort(key=lambda item: (item.fetch_count > 0, item.next_due))
            return picked[:limit]
        # Two range scans of the (site, fetched?, next_due) index instead of one sort.
        for fetched in (0, 1):
            cursor = self.conn.execute(
                f"SELECT {FRONTIER_COLUMNS} FROM frontier"
                " WHERE site = ? AND (fetch_count > 0) = ? AND next_due <= ?"
                " ORDER BY next_due", (site, fetched, stamp))
            for row in cursor:
                if row[0] in excluded:
                    continue
                found.append(item_from_row(row))
                if len(found) >= limit:
                    cursor.close()
                    return found
        return found

    @translated
    def pending_count(self, site: str, now: datetime) -> int:
        """How many URLs of `site` are due at `now`."""
        row = self.conn.execute(
            "SELECT count(*) FROM frontier WHERE site = ? AND next_due <= ?", (site, iso(now))
        ).fetchone()
        return int(row[0])

    @translated
    def waiting_retries(self, site: str, now: datetime) -> tuple[int, datetime | None]:
        """How many failed URLs of `site` wait for their retry after `now`, and the
        earliest retry."""
        count, first = self.conn.execute(
            "SELECT count(*), min(next_due) FROM frontier WHERE site = ? AND attempts > 0"
            " AND next_due > ?", (site, iso(now))).fetchone()
        return int(count), (datetime.fromisoformat(first) if first else None)

    @translated
    def frontier_count(self, site: str | None = None) -> int:
        """How many URLs the frontier holds (due or not)."""
        if site is None:
            return int(self.conn.execute("SELECT count(*) FROM frontier").fetchone()[0])
        return int(self.conn.execute(
            "SELECT count(*) FROM frontier WHERE site = ?", (site,)).fetchone()[0])

    @translated
    def frontier_item(self, url: str) -> FrontierItem | None:
        row = self.conn.execute(
            f"SELECT {FRONTIER_COLUMNS} FROM frontier WHERE url = ?", (url,)).fetchone()
        return item_from_row(row) if row else None

    @translated
    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) of the latest stored fetch of `url`, for a conditional GET."""
        row = self.conn.execute(
            "SELECT etag, last_modified FROM frontier WHERE url = ?", (url,)).fetchone()
        if row is not None and (row[0] or row[1]):
            return row[0], row[1]
        page_id = self._page_id(url)
        if page_id is None:
            return None, None
        row = self.conn.execute(
            "SELECT s.etag, s.last_modified FROM snapshots s JOIN pages p ON p.id = s.page_id"
            " WHERE p.id = ? AND s.version = p.current_version", (page_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)
