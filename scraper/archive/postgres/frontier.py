"""The shared frontier: many workers take URLs from one PostgreSQL frontier, each URL leased
to one worker at a time, and share each host's politeness (concurrency, delay, robots.txt).

A claim is one statement: the due rows are picked with `FOR UPDATE SKIP LOCKED` (a row
another claimer is taking is skipped, not waited for) and leased (worker id, lease expiry)
in the same UPDATE. A lease that runs out, because its worker died or stopped renewing,
makes the row claimable again. Lease and host times are the server's clock (`now()`,
`clock_timestamp()`), so workers on several machines need not agree on theirs; `next_due` is
the caller's time, as in the SQLite archive.

A host's politeness is one `hosts` row: taking a slot is one UPDATE that succeeds only while
fewer than `concurrency` requests are in flight and the host's delay has passed, so N
workers never send a host more than one worker would. `host_slots` records who holds them,
so that a dead worker's slots can be given back (`reap_dead_workers`).

Operations go through PostgresCore.run, which does them again on a new connection after a
dropped one. A commit whose answer was lost must not count twice: what this worker holds
(its leased URLs, its host slots) is kept here, and after a reconnect the database is set
back to that (`_resync`) before the operation runs again. A claim whose answer was lost is
so undone and made again, and a slot taken or given back is counted once.

The method names and meanings follow the SQLite FrontierStore where they overlap (enqueue,
due, pending_count, waiting_retries, frontier_count, frontier_item, validators), so that the
PostgreSQL archive can implement the protocol's frontier members with them.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg

from scraper.archive.postgres.core import Connection, PostgresCore
from scraper.archive.sharing import DEFAULT_LEASE_SECONDS, HostSlot, SharedRobots
from scraper.models import FrontierItem

FRONTIER_COLUMNS = ("url, site, depth, discovered_from, link_kind, attempts, fetch_count,"
                    " next_due, last_fetched, gone")


def item_from_row(row: tuple[Any, ...]) -> FrontierItem:
    return FrontierItem(
        url=row[0], site=row[1], depth=row[2], discovered_from=row[3], link_kind=row[4],
        attempts=row[5], fetch_count=row[6], next_due=row[7], last_fetched=row[8],
        gone=bool(row[9]),
    )


def _due_order(item: FrontierItem) -> tuple[bool, datetime]:
    assert item.next_due is not None
    return (item.fetch_count > 0, item.next_due)


def _claim_sql(only: str) -> str:
    """The claim statement; `only`: a further condition on the URLs picked."""
    return f"""
WITH picked AS MATERIALIZED (
    SELECT url FROM frontier
    WHERE site = %(site)s AND next_due <= %(now)s
      AND (lease_until IS NULL OR lease_until < clock_timestamp())
      AND NOT (url = ANY(%(exclude)s)){only}
    ORDER BY (fetch_count > 0), next_due
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
UPDATE frontier f
SET leased_by = %(worker)s, lease_until = clock_timestamp() + %(lease)s * interval '1 second'
FROM picked WHERE f.url = picked.url
RETURNING {", ".join(f"f.{c.strip()}" for c in FRONTIER_COLUMNS.split(","))}
"""


_CLAIM = _claim_sql("")
# A claim of URLs named by hand (crawl --url): among those only.
_CLAIM_ONLY = _claim_sql(" AND url = ANY(%(only)s)")

# Finished only by the worker that holds the lease; a retry after a lost commit finds the
# row already finished by it (no lease, last_fetched = this fetch) and says so.
_FINISH = """
WITH row AS (SELECT url, leased_by, last_fetched FROM frontier WHERE url = %(url)s FOR UPDATE),
done AS (
    UPDATE frontier f SET leased_by = NULL, lease_until = NULL, next_due = %(next_due)s,
        attempts = 0, fetch_count = f.fetch_count + 1, last_fetched = %(fetched_at)s,
        last_status = coalesce(%(status)s, f.last_status)
    FROM row WHERE f.url = row.url AND row.leased_by = %(worker)s
    RETURNING 1)
SELECT EXISTS (SELECT 1 FROM done)
    OR coalesce((SELECT leased_by IS NULL AND last_fetched = %(fetched_at)s FROM row), false)
"""

_TAKE_SLOT = """
WITH took AS (
    UPDATE hosts h SET in_flight = h.in_flight + 1,
        next_allowed_at = c.t + %(delay)s * interval '1 second'
    FROM (SELECT clock_timestamp() AS t) c
    WHERE h.host = %(host)s AND h.in_flight < %(concurrency)s AND h.next_allowed_at <= c.t
    RETURNING h.host, c.t),
mine AS (
    INSERT INTO host_slots (host, worker_id, held) SELECT host, %(worker)s, 1 FROM took
    ON CONFLICT (host, worker_id) DO UPDATE SET held = host_slots.held + 1)
SELECT (SELECT t FROM took),
       (SELECT extract(epoch FROM greatest(next_allowed_at, c.t) - c.t)
        FROM hosts, (SELECT clock_timestamp() AS t) c WHERE host = %(host)s)
"""

_GIVE_SLOT = """
WITH mine AS (
    UPDATE host_slots SET held = held - 1
    WHERE host = %(host)s AND worker_id = %(worker)s AND held > 0 RETURNING host)
UPDATE hosts SET in_flight = in_flight - 1 WHERE host IN (SELECT host FROM mine)
RETURNING 1
"""


def register_worker(core: PostgresCore, *, host: str | None = None,
                    pid: int | None = None) -> int:
    """A new row in `workers` for this process; returns its id."""

    def op(conn: Connection) -> int:
        row = conn.execute("INSERT INTO workers (host, pid) VALUES (%s, %s) RETURNING id",
                           (host or socket.gethostname(), os.getpid() if pid is None else pid)
                           ).fetchone()
        assert row is not None
        return int(row[0])

    # Not retried blindly: a lost commit would leave a second row, which is harmless (it
    # holds nothing and is reaped as dead).
    return core.run(op, doing="registering the worker")


def enqueue_rows(conn: Connection, items: Sequence[FrontierItem],
                 now: datetime) -> psycopg.Cursor[tuple[Any, ...]]:
    """Add `items` to the frontier inside the caller's transaction (SharedFrontier.enqueue,
    or a save's): known URLs keep their row, a shorter path lowers a known URL's depth.
    Returns the INSERT's cursor (its rowcount: the new URLs; unknown in pipeline mode).
    Rows go in URL order, so that two writers adding overlapping lists take the unique
    index's locks in one order."""
    rows = sorted(((i.url, i.site, i.depth, i.discovered_from, i.link_kind,
                    i.next_due if i.next_due is not None else now, i.attempts, i.fetch_count,
                    i.last_fetched, i.gone) for i in items), key=lambda row: (row[0], row[2]))
    columns = [list(column) for column in zip(*rows, strict=True)]
    inserted = conn.execute(
        "INSERT INTO frontier (url, site, depth, discovered_from, link_kind, next_due,"
        " attempts, fetch_count, last_fetched, gone, added_at)"
        " SELECT u.*, %s FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[],"
        " %s::text[], %s::timestamptz[], %s::int[], %s::int[], %s::timestamptz[],"
        " %s::boolean[]) AS u ON CONFLICT (url) DO NOTHING", (now, *columns))
    # A shorter path to a known URL lowers its depth (the shortest of the rows when a URL
    # comes more than once), so depth limits follow the best path.
    conn.execute(
        "UPDATE frontier f SET depth = b.depth, discovered_from = b.discovered_from,"
        " link_kind = b.link_kind FROM (SELECT DISTINCT ON (url) url, depth,"
        " discovered_from, link_kind FROM unnest(%s::text[], %s::int[], %s::text[],"
        " %s::text[]) AS u(url, depth, discovered_from, link_kind)"
        " ORDER BY url, depth) b WHERE f.url = b.url AND f.depth > b.depth",
        (columns[0], columns[2], columns[3], columns[4]), prepare=False)  # see core.py
    return inserted


class SharedFrontier:
    """One worker's view of the shared frontier and host table. Not thread-safe on its own
    bookkeeping: one per worker, used by one thread at a time."""

    def __init__(self, core: PostgresCore, worker_id: int, *,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 keeps: frozenset[str] = frozenset({"leases", "slots"})) -> None:
        """`keeps`: what this object's connection holds for the worker and sets back after
        a reconnect ("leases", "slots"). A worker using two connections (claims on one,
        host slots on the other) gives each its own part, so that neither undoes the
        other's."""
        self.core = core
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.held: set[str] = set()  # URLs this worker has claimed and not yet finished
        # `held` is read and changed from the crawl's archive threads and its renewals;
        # never taken while calling the database, so it cannot wait on the core's lock.
        self._held_lock = threading.Lock()
        self.slots: Counter[str] = Counter()  # host slots this worker holds
        self._known_hosts: set[str] = set()
        if "leases" in keeps:
            core.on_reconnect(self._resync_leases)
        if "slots" in keeps:
            core.on_reconnect(self._resync_slots)

    @classmethod
    def join(cls, core: PostgresCore, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
             host: str | None = None, pid: int | None = None) -> SharedFrontier:
        """Register a new worker and return its frontier."""
        return cls(core, register_worker(core, host=host, pid=pid), lease_seconds=lease_seconds)

    # --- the frontier, as the SQLite FrontierStore ---------------------------------------

    def enqueue(self, items: Iterable[FrontierItem], now: datetime) -> int:
        """Add URLs to the frontier (due at `now` unless the item says otherwise).

        Known URLs keep their row; a smaller depth replaces a larger one. Returns how many
        URLs were new.
        """
        listed = list(items)
        if not listed:
            return 0
        # Retried as a whole: a lost commit's rows are known by then and not counted again.
        return self.core.run(lambda conn: enqueue_rows(conn, listed, now).rowcount,
                             doing="enqueue")

    def enqueue_now(self, items: Iterable[FrontierItem], now: datetime) -> int:
        """Queue URLs given by hand: unknown ones are added, known ones made due at `now`
        (their depth, counts and history kept). Returns how many were new."""
        listed = list(items)
        if not listed:
            return 0

        def op(conn: Connection) -> int:
            added = enqueue_rows(conn, listed, now).rowcount
            conn.execute("UPDATE frontier SET next_due = %s WHERE url = ANY(%s)"
                         " AND next_due > %s", (now, [item.url for item in listed], now),
                         prepare=False)  # planned each call: see core.py
            return added

        return self.core.run(op, doing="queueing URLs given by hand")

    def forget(self, site: str, pattern: re.Pattern[str], *,
               dry_run: bool = False) -> list[str]:
        """Drop the frontier rows of `site` whose URL `pattern` finds a match in (never a
        page or a version), but those a live worker holds; returns their URLs, sorted.
        `dry_run`: only list them."""

        def op(conn: Connection) -> list[str]:
            # The regex is Python's (checked by the config's guard), so rows are matched here,
            # read without a lock; only the matching rows are locked, by the delete, which
            # leaves a row leased meanwhile and says what it dropped.
            urls = [str(row[0]) for row in conn.execute(
                "SELECT url FROM frontier WHERE site = %s"
                " AND (lease_until IS NULL OR lease_until < clock_timestamp())",
                (site,)) if pattern.search(row[0])]
            if urls and not dry_run:
                urls = [str(row[0]) for row in conn.execute(
                    "DELETE FROM frontier WHERE site = %s AND url = ANY(%s)"
                    " AND (lease_until IS NULL OR lease_until < clock_timestamp())"
                    " RETURNING url", (site, urls))]
            return sorted(urls)

        return self.core.run(op, doing="forgetting queued URLs")

    def due(self, site: str, now: datetime, limit: int,
            exclude: Collection[str] = (),
            only: Collection[str] | None = None) -> list[FrontierItem]:
        """Up to `limit` URLs of `site` due at `now` and leased by no one: never fetched
        first, then most overdue; with `only`, none but those. Only a look: `claim` takes
        them."""
        if limit <= 0:
            return []
        chosen = "" if only is None else " AND url = ANY(%s)"
        extra: tuple[Any, ...] = () if only is None else (list(only),)

        def op(conn: Connection) -> list[FrontierItem]:
            rows = conn.execute(
                f"SELECT {FRONTIER_COLUMNS} FROM frontier WHERE site = %s AND next_due <= %s"
                " AND (lease_until IS NULL OR lease_until < clock_timestamp())"
                f" AND NOT (url = ANY(%s)){chosen} ORDER BY (fetch_count > 0), next_due"
                " LIMIT %s", (site, now, list(exclude), *extra, limit)).fetchall()
            return [item_from_row(row) for row in rows]

        return self.core.run(op, doing="due")

    def requeue_modified(self, site: str, lastmods: Sequence[tuple[str, datetime]],
                         now: datetime) -> int:
        """Make due at `now` each fetched URL of `site` whose (url, lastmod) pair says its
        page changed after its last fetch; those never fetched, backing off after a failure
        or already due are left alone (a leased row too: its worker sets its next_due).
        Returns how many were made due."""
        if not lastmods:
            return 0
        urls = [url for url, _ in lastmods]
        times = [lastmod for _, lastmod in lastmods]

        def op(conn: Connection) -> int:
            cursor = conn.execute(
                "UPDATE frontier f SET next_due = %s FROM (SELECT url, max(lastmod) AS lastmod"
                " FROM unnest(%s::text[], %s::timestamptz[]) AS u(url, lastmod) GROUP BY url) m"
                " WHERE f.url = m.url AND f.site = %s AND f.attempts = 0"
                " AND f.last_fetched < m.lastmod AND f.next_due > %s AND f.leased_by IS NULL",
                (now, urls, times, site, now), prepare=False)  # planned each call: see core.py
            return cursor.rowcount

        # Running it twice after a lost commit finds those rows due: none counted twice.
        return self.core.run(op, doing="requeueing URLs a sitemap says changed")

    def pending_count(self, site: str, now: datetime) -> int:
        """How many URLs of `site` are due at `now` (leased or not)."""
        return self._count("SELECT count(*) FROM frontier WHERE site = %s AND next_due <= %s",
                           (site, now))

    def waiting_retries(self, site: str, now: datetime) -> tuple[int, datetime | None]:
        """How many failed URLs of `site` wait for their retry after `now`, and the earliest."""

        def op(conn: Connection) -> tuple[int, datetime | None]:
            row = conn.execute(
                "SELECT count(*), min(next_due) FROM frontier WHERE site = %s AND attempts > 0"
                " AND next_due > %s", (site, now)).fetchone()
            assert row is not None
            return int(row[0]), row[1]

        return self.core.run(op, doing="waiting_retries")

    def frontier_count(self, site: str | None = None) -> int:
        """How many URLs the frontier holds (due or not)."""
        if site is None:
            return self._count("SELECT count(*) FROM frontier", ())
        return self._count("SELECT count(*) FROM frontier WHERE site = %s", (site,))

    def frontier_item(self, url: str) -> FrontierItem | None:
        def op(conn: Connection) -> FrontierItem | None:
            row = conn.execute(f"SELECT {FRONTIER_COLUMNS} FROM frontier WHERE url = %s",
                               (url,)).fetchone()
            return item_from_row(row) if row else None

        return self.core.run(op, doing="frontier_item")

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) of the latest stored fetch of `url`, for a conditional GET."""

        def op(conn: Connection) -> tuple[str | None, str | None]:
            row = conn.execute("SELECT etag, last_modified FROM frontier WHERE url = %s",
                               (url,)).fetchone()
            if row is not None and (row[0] or row[1]):
                return row[0], row[1]
            row = conn.execute(
                "SELECT s.etag, s.last_modified FROM snapshots s JOIN pages p"
                " ON p.id = s.page_id AND s.version = p.current_version WHERE p.url = %s",
                (url,)).fetchone()
            return (row[0], row[1]) if row else (None, None)

        return self.core.run(op, doing="validators")

    def _count(self, query: str, params: tuple[Any, ...]) -> int:
        def op(conn: Connection) -> int:
            row = conn.execute(query, params).fetchone()
            return int(row[0]) if row else 0

        return self.core.run(op, doing="counting the frontier")

    # --- leases ------------------------------------------------------------------------------

    def claim(self, site: str, now: datetime, limit: int,
              exclude: Collection[str] = (),
              only: Collection[str] | None = None) -> list[FrontierItem]:
        """Lease up to `limit` URLs of `site` due at `now` to this worker, in `due`'s order,
        none of `exclude` (with `only`, none but those). Rows another worker is claiming at
        the same moment are skipped, not waited for."""
        if limit <= 0:
            return []
        excluded = list(exclude)
        query = _CLAIM if only is None else _CLAIM_ONLY
        chosen = None if only is None else list(only)

        def op(conn: Connection) -> list[FrontierItem]:
            rows = conn.execute(query, {"site": site, "now": now, "limit": limit,
                                        "worker": self.worker_id, "exclude": excluded,
                                        "lease": self.lease_seconds,
                                        "only": chosen}).fetchall()
            return sorted((item_from_row(row) for row in rows), key=_due_order)

        items = self.core.run(op, doing="claiming URLs")
        with self._held_lock:
            self.held.update(item.url for item in items)
        return items

    def renew(self) -> set[str]:
        """Extend the lease of every URL this worker holds, and beat its heartbeat. Returns
        the URLs whose lease was lost (expired and taken by another worker): drop them.
        A URL whose claim a save ended (the archive's writes clear the lease) is among them
        too, and is forgotten here: its fetch is done."""
        with self._held_lock:
            held = sorted(self.held)

        def op(conn: Connection) -> set[str]:
            # A worker taken for dead (it lost the database longer than a lease) that
            # beats again is alive: what it held was given back, what it claims now is its.
            conn.execute("UPDATE workers SET last_heartbeat = now(), stopped_at = NULL"
                         " WHERE id = %s", (self.worker_id,))
            if not held:
                return set()
            kept = {str(row[0]) for row in conn.execute(
                "UPDATE frontier SET lease_until = clock_timestamp() + %s * interval '1 second'"
                " WHERE leased_by = %s AND url = ANY(%s) RETURNING url",
                (self.lease_seconds, self.worker_id, held), prepare=False)}  # see core.py
            return set(held) - kept

        lost = self.core.run(op, doing="renewing leases")
        with self._held_lock:
            self.held -= lost
        return lost

    def finish(self, url: str, *, fetched_at: datetime, next_due: datetime,
               status: int | None = None) -> bool:
        """A claimed URL was fetched: its lease ends, it is due again at `next_due`. False
        when this worker's lease had been lost (another worker may have fetched it)."""

        def op(conn: Connection) -> bool:
            row = conn.execute(_FINISH, {"url": url, "worker": self.worker_id,
                                         "next_due": next_due, "fetched_at": fetched_at,
                                         "status": status}).fetchone()
            return bool(row and row[0])

        done = self.core.run(op, doing="finishing a claim")
        with self._held_lock:
            self.held.discard(url)
        return done

    def release_many(self, urls: Collection[str]) -> None:
        """Give claimed URLs back unfetched, due as they were."""
        wanted = sorted(set(urls))
        if not wanted:
            return
        self.core.run(lambda conn: conn.execute(
            "UPDATE frontier SET leased_by = NULL, lease_until = NULL"
            " WHERE leased_by = %s AND url = ANY(%s)", (self.worker_id, wanted),
            prepare=False),  # planned each call: see core.py
            doing="releasing claims")
        with self._held_lock:
            self.held.difference_update(wanted)

    def claimed_elsewhere(self, site: str, now: datetime) -> int:
        """How many URLs of `site` due at `now` other workers hold under a live lease."""
        return self._count(
            "SELECT count(*) FROM frontier WHERE site = %s AND next_due <= %s"
            " AND leased_by IS NOT NULL AND leased_by <> %s"
            " AND lease_until >= clock_timestamp()", (site, now, self.worker_id))

    def release(self, url: str, *, next_due: datetime | None = None) -> bool:
        """Give a claimed URL back unfetched (due again at `next_due`, or as it was).
        False when this worker's lease had been lost."""

        def op(conn: Connection) -> bool:
            row = conn.execute(
                "UPDATE frontier SET leased_by = NULL, lease_until = NULL,"
                " next_due = coalesce(%s, next_due) WHERE url = %s AND leased_by = %s"
                " RETURNING 1", (next_due, url, self.worker_id)).fetchone()
            return row is not None

        released = self.core.run(op, doing="releasing a claim")
        with self._held_lock:
            self.held.discard(url)
        return released

    # --- hosts -------------------------------------------------------------------------------

    def acquire_host(self, host: str, *, concurrency: int, delay_s: float) -> HostSlot:
        """Take one of `host`'s slots if fewer than `concurrency` requests are in flight from
        all workers and `delay_s` has passed since the last slot was given; otherwise say how
        long to wait."""
        if concurrency < 1:
            raise ValueError(f"concurrency for {host} must be at least 1, got {concurrency}")

        def op(conn: Connection) -> HostSlot:
            if host not in self._known_hosts:
                conn.execute("INSERT INTO hosts (host) VALUES (%s) ON CONFLICT DO NOTHING",
                             (host,))
            row = conn.execute(_TAKE_SLOT, {"host": host, "concurrency": concurrency,
                                            "delay": delay_s,
                                            "worker": self.worker_id}).fetchone()
            assert row is not None
            if row[0] is not None:
                return HostSlot(True, 0.0, row[0])
            return HostSlot(False, float(row[1] or 0.0))

        slot = self.core.run(op, doing=f"taking a slot of host {host}")
        self._known_hosts.add(host)
        if slot.acquired:
            self.slots[host] += 1
        return slot

    def release_host(self, host: str) -> None:
        """Give back one of `host`'s slots that this worker holds."""
        if self.slots[host] <= 0:
            raise ValueError(f"this worker holds no slot of host {host}")
        self.core.run(lambda conn: conn.execute(
            _GIVE_SLOT, {"host": host, "worker": self.worker_id}).fetchall(),
            doing=f"giving back a slot of host {host}")
        self.slots[host] -= 1

    def robots(self, host: str) -> tuple[str | None, int | None, datetime | None]:
        """(robots.txt body, HTTP status, when fetched) as some worker stored it for `host`;
        (None, None, None) when none has."""

        def op(conn: Connection) -> tuple[str | None, int | None, datetime | None]:
            row = conn.execute("SELECT robots_txt, robots_status, robots_fetched_at FROM hosts"
                               " WHERE host = %s", (host,)).fetchone()
            return (row[0], row[1], row[2]) if row else (None, None, None)

        return self.core.run(op, doing=f"reading robots.txt of host {host}")

    def shared_robots(self, host: str, *, fresh_after: datetime) -> SharedRobots | None:
        """`host`'s robots.txt as a worker fetched it after `fresh_after`; None if none."""
        body, status, fetched_at = self.robots(host)
        if status is None or fetched_at is None or fetched_at <= fresh_after:
            return None
        return SharedRobots(body, status, fetched_at)

    def claim_robots_fetch(self, host: str, *, fresh_after: datetime, hold_s: float) -> bool:
        """True when this worker is to fetch `host`'s robots.txt for all: none fetched after
        `fresh_after`, and no other worker took the fetch within `hold_s` seconds."""

        def op(conn: Connection) -> bool:
            conn.execute("INSERT INTO hosts (host) VALUES (%s) ON CONFLICT DO NOTHING", (host,))
            row = conn.execute(
                "UPDATE hosts SET robots_claimed_by = %s,"
                " robots_claimed_until = clock_timestamp() + %s * interval '1 second'"
                " WHERE host = %s AND (robots_fetched_at IS NULL OR robots_fetched_at <= %s)"
                " AND (robots_claimed_until IS NULL OR robots_claimed_until < clock_timestamp()"
                "      OR robots_claimed_by = %s) RETURNING 1",
                (self.worker_id, hold_s, host, fresh_after, self.worker_id)).fetchone()
            return row is not None

        return self.core.run(op, doing=f"taking the robots.txt fetch of host {host}")

    def store_robots(self, host: str, robots: SharedRobots) -> None:
        """Share `host`'s robots.txt with every worker (a newer fetch replaces an older)."""
        self.core.run(lambda conn: conn.execute(
            "INSERT INTO hosts (host, robots_txt, robots_status, robots_fetched_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (host) DO UPDATE SET"
            " robots_txt = excluded.robots_txt, robots_status = excluded.robots_status,"
            " robots_fetched_at = excluded.robots_fetched_at, robots_claimed_until = NULL"
            " WHERE hosts.robots_fetched_at IS NULL"
            " OR hosts.robots_fetched_at < excluded.robots_fetched_at",
            (host, robots.text, robots.status, robots.fetched_at)),
            doing=f"storing robots.txt of host {host}")

    # --- workers -----------------------------------------------------------------------------

    def leave(self) -> None:
        """This worker stops: its leases and host slots are given back at once."""
        self.core.run(lambda conn: _give_back(conn, [self.worker_id]),
                      doing="leaving the shared crawl")
        with self._held_lock:
            self.held.clear()
        self.slots.clear()

    def reap_dead_workers(self, stale_after_s: float) -> list[int]:
        """Workers whose heartbeat is older than `stale_after_s` are taken for dead: their
        host slots and leases are given back. Returns their ids."""

        def op(conn: Connection) -> list[int]:
            dead = [int(row[0]) for row in conn.execute(
                "SELECT id FROM workers WHERE stopped_at IS NULL AND id <> %s"
                " AND last_heartbeat < now() - %s * interval '1 second'"
                " ORDER BY id FOR UPDATE SKIP LOCKED", (self.worker_id, stale_after_s))]
            if dead:
                _give_back(conn, dead)
            return dead

        return self.core.run(op, doing="reaping dead workers")

    def _resync_leases(self, conn: Connection) -> None:
        """After a reconnect: make the database lease to this worker exactly what it holds
        here (see the module docstring)."""
        conn.execute("UPDATE frontier SET leased_by = NULL, lease_until = NULL"
                     " WHERE leased_by = %s AND NOT (url = ANY(%s))",
                     (self.worker_id, self._held_now()))

    def _held_now(self) -> list[str]:
        with self._held_lock:
            return sorted(self.held)

    def _resync_slots(self, conn: Connection) -> None:
        """After a reconnect: make the database count for this worker exactly the host
        slots it holds here."""
        recorded = {str(host): int(held) for host, held in conn.execute(
            "SELECT host, held FROM host_slots WHERE worker_id = %s ORDER BY host FOR UPDATE",
            (self.worker_id,))}
        for host in sorted(set(recorded) | {h for h, n in self.slots.items() if n > 0}):
            change = self.slots[host] - recorded.get(host, 0)
            if change == 0:
                continue
            conn.execute("UPDATE hosts SET in_flight = in_flight + %s WHERE host = %s",
                         (change, host))
            conn.execute(
                "INSERT INTO host_slots (host, worker_id, held) VALUES (%s, %s, %s)"
                " ON CONFLICT (host, worker_id) DO UPDATE SET held = excluded.held",
                (host, self.worker_id, self.slots[host]))


def _give_back(conn: Connection, workers: list[int]) -> None:
    """Return the host slots and leases of `workers` and mark them stopped."""
    conn.execute(
        "UPDATE hosts h SET in_flight = greatest(h.in_flight - s.held, 0)"
        " FROM (SELECT host, sum(held) AS held FROM host_slots WHERE worker_id = ANY(%s)"
        " GROUP BY host) s WHERE h.host = s.host", (workers,))
    conn.execute("DELETE FROM host_slots WHERE worker_id = ANY(%s)", (workers,))
    conn.execute("UPDATE frontier SET leased_by = NULL, lease_until = NULL"
                 " WHERE leased_by = ANY(%s)", (workers,))
    conn.execute("UPDATE workers SET stopped_at = now() WHERE id = ANY(%s)", (workers,))
    # Their unfinished parts of runs end `killed`; a run none of whose parts is still open
    # ends so too (the others finished theirs: the run's work is as far as it got).
    conn.execute("UPDATE run_workers SET ended_at = now(), status = 'killed'"
                 " WHERE worker_id = ANY(%s) AND ended_at IS NULL", (workers,))
    conn.execute(
        "UPDATE runs r SET status = 'killed', ended_at = now(),"
        " elapsed_s = extract(epoch FROM now() - r.started_at) FROM"
        " (SELECT DISTINCT run_id FROM run_workers WHERE worker_id = ANY(%s)) mine"
        " WHERE r.id = mine.run_id AND r.status = 'running' AND NOT EXISTS"
        " (SELECT 1 FROM run_workers o WHERE o.run_id = r.id AND o.ended_at IS NULL)",
        (workers,))
