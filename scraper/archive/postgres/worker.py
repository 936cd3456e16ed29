"""A crawl process's part in a crawl shared through a PostgreSQL archive: the CrawlWorker
(scraper.archive.sharing) of PostgresArchive.join_crawl.

A worker has three connections: the archive's own (its writes), one for its claims (made on
the crawl's archive thread, each committed at once so that other workers see the lease), and
one for host slots and robots.txt (asked for before every request, from a thread of its own,
so that a request never waits behind a page's writes).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from scraper.archive.location import ArchiveLocation
from scraper.archive.postgres.core import PostgresCore
from scraper.archive.postgres.frontier import SharedFrontier, register_worker
from scraper.archive.sharing import (
    SharedHosts,
    worker_label,
)
from scraper.models import FrontierItem

if TYPE_CHECKING:
    from scraper.archive.protocol import ArchiveBackend

log = logging.getLogger(__name__)

# Archive connections a worker writes through at once. One page's write waits on the
# server (its CPU, its answers) for most of its time: with one connection the crawl's
# archive thread was the bottleneck of a one-worker crawl, at ~11 ms a page.
DEFAULT_WRITERS = 4


class PostgresCrawlWorker:
    """One registered worker: its claims (leases) and its share of the hosts' politeness."""

    def __init__(self, location: ArchiveLocation, *, lease_seconds: float,
                 open_writer: Callable[[int], ArchiveBackend],
                 writers: int = DEFAULT_WRITERS) -> None:
        """`open_writer(worker_id)`: a new archive object writing as this worker."""
        self._open_writer = open_writer
        self._writers = writers
        self._claims_core = PostgresCore(location, application_name="scraper claims")
        try:
            host, pid = socket.gethostname(), os.getpid()
            self._id = register_worker(self._claims_core, host=host, pid=pid)
            self._label = worker_label(host, pid)
            self._lease_seconds = lease_seconds
            self.frontier = SharedFrontier(self._claims_core, self._id,
                                           lease_seconds=lease_seconds,
                                           keeps=frozenset({"leases"}))
            self._hosts_core = PostgresCore(location, application_name="scraper hosts")
        except BaseException:
            self._claims_core.close()
            raise
        # SharedFrontier's host members are the SharedHosts protocol.
        self._hosts = SharedFrontier(self._hosts_core, self._id, lease_seconds=lease_seconds,
                                     keeps=frozenset({"slots"}))
        self._left = False

    @property
    def worker_id(self) -> int | None:
        return self._id

    @property
    def label(self) -> str:
        return self._label

    @property
    def lease_seconds(self) -> float | None:
        return self._lease_seconds

    @property
    def shared_hosts(self) -> SharedHosts | None:
        return self._hosts

    @property
    def writers(self) -> int:
        return self._writers

    def open_writer(self) -> ArchiveBackend:
        return self._open_writer(self._id)

    def claim(self, site: str, now: datetime, limit: int,
              exclude: Collection[str] = (),
              only: Collection[str] | None = None) -> list[FrontierItem]:
        return self.frontier.claim(site, now, limit, exclude, only)

    def renew(self) -> set[str]:
        lost = self.frontier.renew()
        dead = self.frontier.reap_dead_workers(stale_after_s=self._lease_seconds)
        if dead:
            log.warning("workers %s stopped beating for %g s: their URLs and host slots "
                        "are given back", ", ".join(map(str, dead)), self._lease_seconds)
        return lost

    def release(self, urls: Sequence[str]) -> None:
        self.frontier.release_many(urls)

    def claimed_elsewhere(self, site: str, now: datetime) -> int:
        return self.frontier.claimed_elsewhere(site, now)

    @property
    def left(self) -> bool:
        return self._left

    def leave(self) -> None:
        if self._left:
            return
        self._left = True
        try:
            self.frontier.leave()
        finally:
            self._claims_core.close()
            self._hosts_core.close()
