"""crawl(): one run of several configs at once, sharing one HTTP client, one politeness gate
per host, one archive thread and one parse pool; each config's part is a SiteCrawl."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import httpx

from scraper.archive import ArchiveBackend
from scraper.archive.sharing import LEASE_RENEW_FRACTION, CrawlWorker
from scraper.config import CrawlConfig
from scraper.crawl.archive_gate import ArchiveGate
from scraper.crawl.archive_pool import ArchivePool
from scraper.crawl.client import check_one_proxy, make_client
from scraper.crawl.events import CrawlEvent, EventSink
from scraper.crawl.fetch import Fetcher
from scraper.crawl.loop import CrawlLimits, RunResult, SiteCrawl
from scraper.crawl.netpolicy import AddressPolicy
from scraper.crawl.parse_pool import ParsePool
from scraper.timeutil import utcnow

__all__ = ["crawl"]

# No limits but the configs' own (a frozen value, safe as a default).
NO_LIMITS = CrawlLimits()


async def crawl(configs: Sequence[CrawlConfig], archive: ArchiveBackend, *,
                limits: CrawlLimits = NO_LIMITS, events: EventSink | None = None,
                client: httpx.AsyncClient | None = None,
                clock: Callable[[], datetime] = utcnow,
                parse_pool: ParsePool | None = None,
                stop: asyncio.Event | None = None) -> list[RunResult]:
    """Run one crawl of every config against `archive`, sharing one client and one
    politeness gate per host. Returns a result per config. Failed URLs are recorded, never
    raised.

    :param parse_pool: where pages are parsed, for the caller to close; by default a pool
        of threads only (see ParsePool on when worker processes are safe).
    :param stop: set it to end the runs now (Ctrl-C): pages in progress are dropped, what
        was stored stays, each run row is finished `interrupted` and its result returned.
    """
    policies: dict[str, AddressPolicy] = {}
    if client is None:
        check_one_proxy(configs)
    worker = archive.join_crawl(lease_seconds=limits.lease_seconds)
    own_client = client is None
    gate: ArchiveGate | None = None
    parsers = ParsePool(processes=0) if parse_pool is None else parse_pool
    try:
        if client is None:
            client = make_client(configs[0].network, policies)
        fetcher = Fetcher(client, policies=policies, shared_hosts=worker.shared_hosts)
        deadline = time.monotonic() + limits.max_time if limits.max_time else None
        gate = _archive_gate(archive, worker)
        runs = [SiteCrawl(cfg, gate, fetcher, limits, deadline, events or _ignore, clock,
                          parsers, worker) for cfg in configs]
        keeper = asyncio.ensure_future(_keep_claims(worker, gate, runs))
        try:
            if stop is None:
                return list(await asyncio.gather(*(run.run() for run in runs)))
            return await _until_stopped(runs, stop)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            fetcher.close()
    finally:
        if parse_pool is None:
            parsers.close(wait=False)
        try:
            if gate is not None:
                gate.close()
        finally:
            # After the last write: what the worker still holds (pages of an interrupted
            # run) goes back to the others now rather than when its lease runs out.
            worker.leave()
            if own_client and client is not None:
                await client.aclose()


def _archive_gate(archive: ArchiveBackend, worker: CrawlWorker) -> ArchiveGate:
    """One archive thread batching writes (a file), or a pool of threads with a connection
    each when the archive takes several writers at once (a server)."""
    if worker.writers <= 1:
        return ArchiveGate(archive)
    writers: list[ArchiveBackend] = []
    try:
        for _ in range(worker.writers - 1):
            writers.append(worker.open_writer())
    except BaseException:
        for writer in writers:
            writer.close()
        raise
    return ArchivePool(archive, writers)


async def _keep_claims(worker: CrawlWorker, gate: ArchiveGate,
                       runs: Sequence[SiteCrawl]) -> None:
    """Renew the worker's claims while it crawls (nothing to do when they are not leased),
    dropping the pages whose claim another worker took meanwhile."""
    if worker.lease_seconds is None:
        return
    while True:
        await asyncio.sleep(worker.lease_seconds * LEASE_RENEW_FRACTION)
        lost = await gate.run(worker.renew)
        if lost:
            for run in runs:
                run.drop_lost(lost)


async def _until_stopped(runs: Sequence[SiteCrawl], stop: asyncio.Event) -> list[RunResult]:
    """The runs' results; when `stop` is set first, each run is cancelled, finishes its row
    as `interrupted` (SiteCrawl.run) and gives what it had done. A run that raises ends the
    others the same way, and its error is raised."""
    tasks = [asyncio.ensure_future(run.run()) for run in runs]
    stopped = asyncio.ensure_future(stop.wait())
    try:
        waiting = set(tasks)
        while waiting and not stop.is_set():
            done, _ = await asyncio.wait([*waiting, stopped], return_when=asyncio.FIRST_COMPLETED)
            waiting -= done
            if any(not t.cancelled() and t.exception() is not None for t in done & set(tasks)):
                break
    finally:
        stopped.cancel()
        for task in tasks:
            task.cancel()  # nothing for those done
        # Each run finishes its row in its own `finally`, cancelled or not.
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome,
                                                                asyncio.CancelledError):
            raise outcome
    results = []
    for run, outcome in zip(runs, outcomes, strict=True):
        result = outcome if isinstance(outcome, RunResult) else run.result
        if result is None:
            raise RuntimeError(f"{run.config.name}: the run ended without a result")
        results.append(result)
    return results


def _ignore(event: CrawlEvent) -> None:
    return None
