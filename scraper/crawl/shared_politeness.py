"""Politeness that holds across the workers of a shared crawl: a host's request slots and
its robots.txt live in the archive (scraper.archive.sharing.SharedHosts), so N workers never
send a host more than one would, and one of them fetches its robots.txt for all.

SharedHosts' calls block (a database round trip): they run on one thread of their own,
never on the event loop and never behind the archive thread's writes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self, TypeVar

from scraper.archive.sharing import HostSlot, SharedHosts
from scraper.config import Politeness
from scraper.crawl.adaptive import HostPace

T = TypeVar("T")

# While a host's slots are all taken, a waiting request asks again after FIRST_POLL_S,
# doubling up to MAX_POLL_S: soon enough to follow requests of tens of milliseconds, rarely
# enough that waiting workers do not load the database.
FIRST_POLL_S = 0.005
MAX_POLL_S = 0.1


class SharedHostsCaller:
    """Runs SharedHosts calls on a thread of their own, one at a time."""

    def __init__(self, hosts: SharedHosts) -> None:
        self.hosts = hosts
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shared-hosts")

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`func(*args, **kwargs)` on the thread. Cancelling the caller does not stop a call
        that has begun: what it did (a slot taken) must be known, so it is waited for."""
        future = asyncio.get_running_loop().run_in_executor(
            self._thread, functools.partial(func, *args, **kwargs))
        return await future

    async def call_through(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """As call, but finished even when the caller is cancelled meanwhile; the
        cancellation is raised after it."""
        future = asyncio.ensure_future(self.call(func, *args, **kwargs))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    def close(self) -> None:
        self._thread.shutdown(wait=True)


class SharedHostGate(HostPace):
    """At most `concurrency` requests in flight to one host from all workers, starts at
    least `delay()` apart: the slot is taken in the archive. A local semaphore first holds
    this worker's own requests to `concurrency`, so that only those that could go ask.

    With `politeness.adaptive` each worker adapts from the answers it sees and asks for
    each slot with its current delay: the hosts row spaces the next start by the delay of
    the worker that took the last slot."""

    def __init__(self, host: str, politeness: Politeness, caller: SharedHostsCaller) -> None:
        self._init_pace(host, politeness)
        self._caller = caller
        self._local = asyncio.Semaphore(politeness.concurrency)

    async def __aenter__(self) -> Self:
        await self._local.acquire()
        try:
            await self._take_slot()
        except BaseException:
            self._local.release()
            raise
        return self

    async def _take_slot(self) -> None:
        poll = FIRST_POLL_S
        hosts = self._caller.hosts
        while True:
            future = asyncio.ensure_future(self._caller.call(
                hosts.acquire_host, self.host, concurrency=self.politeness.concurrency,
                delay_s=self.delay()))
            try:
                slot: HostSlot = await asyncio.shield(future)
            except asyncio.CancelledError:
                # Stopped while asking: a slot the archive gave meanwhile goes back.
                await asyncio.wait([future])
                if not future.cancelled() and future.exception() is None \
                        and future.result().acquired:
                    await self._caller.call_through(hosts.release_host, self.host)
                raise
            if slot.acquired:
                return
            if slot.wait_s > 0:
                await asyncio.sleep(slot.wait_s)
            else:
                await asyncio.sleep(poll)
                poll = min(poll * 2, MAX_POLL_S)

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._caller.call_through(self._caller.hosts.release_host, self.host)
        finally:
            self._local.release()
