"""A crawl's share of the work: what the crawl asks of the archive to take URLs and to be
polite to hosts, whether it crawls alone or with other workers.

ArchiveBackend.join_crawl gives a CrawlWorker. On SQLite (one process holds the archive's
lock) it is a SoloWorker: a claim is a look at the due URLs, there are no leases, and
politeness stays in the process (`shared_hosts` is None). On PostgreSQL every crawl process
is one worker of a crawl that others may share: claims lease URLs in the database, and
host slots and robots.txt are shared there too (scraper.archive.postgres.worker).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from scraper.models import FrontierItem

if TYPE_CHECKING:
    from scraper.archive.protocol import ArchiveBackend

# How long a leased URL stays with a worker that stops renewing it (it died, or lost the
# database): then any worker may take it. Workers renew every LEASE_RENEW_FRACTION of it.
DEFAULT_LEASE_SECONDS = 300.0
LEASE_RENEW_FRACTION = 1 / 3


@dataclass(frozen=True, slots=True)
class HostSlot:
    """The answer to a request for one of a host's request slots."""

    acquired: bool
    # Refused: seconds until the host's delay has passed (0 when it is its concurrency that
    # is full). Acquired: 0.
    wait_s: float
    granted_at: datetime | None = None  # the server's time the slot was given


@dataclass(frozen=True, slots=True)
class SharedRobots:
    """A host's robots.txt as a worker fetched it for all: the text (None: the host has
    none, everything is allowed) and when it was fetched."""

    text: str | None
    status: int
    fetched_at: datetime


class SharedHosts(Protocol):
    """Per-host politeness that holds across every worker of a crawl. Blocking calls: the
    crawl makes them off its event loop, one at a time."""

    def acquire_host(self, host: str, *, concurrency: int, delay_s: float) -> HostSlot:
        """Take one of `host`'s slots if fewer than `concurrency` requests are in flight
        from all workers and `delay_s` has passed since the last was given."""
        ...

    def release_host(self, host: str) -> None:
        """Give back one of `host`'s slots that this worker holds."""
        ...

    def shared_robots(self, host: str, *, fresh_after: datetime) -> SharedRobots | None:
        """`host`'s robots.txt as some worker fetched it after `fresh_after`; None if none."""
        ...

    def claim_robots_fetch(self, host: str, *, fresh_after: datetime,
                           hold_s: float) -> bool:
        """True when this worker is to fetch `host`'s robots.txt for all (no fresh copy,
        and no other worker fetching it within the last `hold_s` seconds)."""
        ...

    def store_robots(self, host: str, robots: SharedRobots) -> None:
        """Share `host`'s robots.txt with every worker."""
        ...


class CrawlWorker(Protocol):
    """This process's part in a crawl. Its frontier calls are made on the crawl's archive
    thread, like the archive's own."""

    @property
    def worker_id(self) -> int | None:
        """The worker's id in the archive; None when the crawl has no other workers."""
        ...

    @property
    def label(self) -> str:
        """Who this worker is, for logs and summaries (`host:pid`)."""
        ...

    @property
    def lease_seconds(self) -> float | None:
        """How long a claim lasts without renewal; None when claims are not leased."""
        ...

    @property
    def shared_hosts(self) -> SharedHosts | None:
        """Per-host politeness shared with other workers; None: the process's own."""
        ...

    @property
    def writers(self) -> int:
        """How many archive connections this worker may write through at once (each write
        its own transaction): 1 for a file, more for a server, whose work on one page's
        write then overlaps another's."""
        ...

    def open_writer(self) -> ArchiveBackend:
        """One more archive object on the same archive, writing for this worker (when
        `writers` > 1). The caller closes it."""
        ...

    def claim(self, site: str, now: datetime, limit: int,
              exclude: Collection[str] = (),
              only: Collection[str] | None = None) -> list[FrontierItem]:
        """Up to `limit` URLs of `site` due at `now` for this worker to fetch (in `due`'s
        order), none of `exclude`, and with `only` none but those (crawl --url); each is
        this worker's until saved, failed, skipped or released. A save, failure or skip
        ends the claim."""
        ...

    def renew(self) -> set[str]:
        """Keep this worker's claims (and tell the others it lives); returns the URLs whose
        claim was lost (its lease ran out and another worker took it): drop them."""
        ...

    def release(self, urls: Sequence[str]) -> None:
        """Give claimed URLs back unfetched (a run interrupted): due as they were."""
        ...

    def claimed_elsewhere(self, site: str, now: datetime) -> int:
        """How many URLs of `site` due at `now` other live workers hold: a worker with
        nothing to claim waits for them (their pages may add links) instead of ending."""
        ...

    def leave(self) -> None:
        """This worker stops: whatever it still holds is given back."""
        ...


class SoloWorker:
    """The only worker of a crawl (an SQLite archive, held by one process): a claim is a
    look at the due URLs, and there is nothing to renew, release or wait for."""

    def __init__(self, due: Callable[[str, datetime, int, Collection[str],
                                      Collection[str] | None], list[FrontierItem]],
                 label: str) -> None:
        self._due = due
        self._label = label

    @property
    def worker_id(self) -> int | None:
        return None

    @property
    def label(self) -> str:
        return self._label

    @property
    def lease_seconds(self) -> float | None:
        return None

    @property
    def shared_hosts(self) -> SharedHosts | None:
        return None

    @property
    def writers(self) -> int:
        return 1

    def open_writer(self) -> ArchiveBackend:
        raise NotImplementedError("a file archive has one writer: the process that holds it")

    def claim(self, site: str, now: datetime, limit: int,
              exclude: Collection[str] = (),
              only: Collection[str] | None = None) -> list[FrontierItem]:
        return self._due(site, now, limit, exclude, only)

    def renew(self) -> set[str]:
        return set()

    def release(self, urls: Sequence[str]) -> None:
        return None

    def claimed_elsewhere(self, site: str, now: datetime) -> int:
        return 0

    def leave(self) -> None:
        return None


def worker_label(host: str, pid: int) -> str:
    return f"{host}:{pid}"
