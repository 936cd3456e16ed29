"""Politeness that holds across the workers of a shared crawl: a host's request slots and
its robots.txt live in the archive (scraper.archive.sharing.SharedHosts), so N workers never
send a host more than one would, and one of them fetches its robots.txt for all.

SharedHosts' calls block (a database round trip): they run on one thread of their own,
never on the event loop and never behind the archive thread's writes.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
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
# How long a worker may hand one host slot from request to request of its own without giving
# it back to the archive (see SharedHostGate).
HANDOFF_S = 1.0


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
    least `delay()` apart: the slot is taken in the archive. This worker's own requests
    queue here first (at most `concurrency` of them hold a place), so that only those that
    could go ask the archive.

    A slot is handed from a finished request straight to this worker's next request waiting
    for the host, with no database call, while the host asks for no delay between starts
    (a delay must be spaced in the archive, across workers) and for at most HANDOFF_S after
    the slot was taken: the archive still counts it in flight, so the workers together stay
    within `concurrency`, and a worker with a queue gives its slots back now and then, as
    it did after each request before. Without the hand-off each request made two database
    calls through one thread, and its successor waited for both: in the one-worker crawl
    benchmark that slot hand-over cost more time than the server's answer.

    With `politeness.adaptive` each worker adapts from the answers it sees and asks for
    each slot with its current delay: the hosts row spaces the next start by the delay of
    the worker that took the last slot."""

    def __init__(self, host: str, politeness: Politeness, caller: SharedHostsCaller) -> None:
        self._init_pace(host, politeness)
        self._caller = caller
        self._places = 0  # this worker's requests holding a place (taking a slot, or sending)
        # Requests waiting for a place; each future is set to True when it is handed a slot,
        # False when it has a place and must take a slot itself.
        self._queue: deque[asyncio.Future[bool]] = deque()
        self._taken: list[float] = []  # when each slot this gate holds was taken (monotonic)

    async def __aenter__(self) -> Self:
        while self._queue and self._queue[0].done():  # cancelled while they waited
            self._queue.popleft()
        if self._places < self.politeness.concurrency and not self._queue:
            self._places += 1
        else:
            turn: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._queue.append(turn)
            try:
                handed = await turn
            except asyncio.CancelledError:
                if turn.cancelled() or not turn.done():
                    turn.cancel()  # passed over by _next_turn
                    raise
                # Given a place or a slot just as it was cancelled: passed on.
                await self._leave(holding_slot=turn.result())
                raise
            if handed:
                return self
        try:
            await self._take_slot()
        except BaseException:
            self._free_place()
            raise
        self._taken.append(time.monotonic())
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
        await self._leave(holding_slot=True)

    async def _leave(self, *, holding_slot: bool) -> None:
        """A request is done with its place, and with its slot when `holding_slot`: the
        slot goes to the next waiting request if it may, else back to the archive."""
        handed = False
        try:
            if holding_slot:
                handed = self._hand_on()
                if not handed:
                    # Slots are alike: the one given back is the one held longest.
                    self._taken.remove(min(self._taken))
                    await self._caller.call_through(self._caller.hosts.release_host,
                                                    self.host)
        finally:
            if not handed:
                self._free_place()

    def _hand_on(self) -> bool:
        """Hand a slot to the next waiting request, when it may (see the class docstring)."""
        if self.delay() > 0 or time.monotonic() - min(self._taken) >= HANDOFF_S:
            return False
        turn = self._next_turn()
        if turn is None:
            return False
        turn.set_result(True)
        return True

    def _free_place(self) -> None:
        """A place is free: the next waiting request takes it (and a slot of its own)."""
        turn = self._next_turn()
        if turn is None:
            self._places -= 1
        else:
            turn.set_result(False)

    def _next_turn(self) -> asyncio.Future[bool] | None:
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():  # one cancelled while it waited is passed over
                return turn
        return None
