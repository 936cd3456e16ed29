"""SharedHostGate (scraper/crawl/shared_politeness.py) over a real PostgreSQL archive: a
worker hands a host slot from one of its requests to the next without the database while
the host asks no delay, never holds more slots than the host's concurrency, gives a slot
back after HANDOFF_S and whenever a delay must be spaced in the archive, and loses no slot
to a request cancelled while it waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from scraper.archive.postgres.archive import PostgresArchive
from scraper.archive.sharing import HostSlot, SharedHosts
from scraper.config import Politeness
from scraper.crawl import shared_politeness
from scraper.crawl.shared_politeness import SharedHostGate, SharedHostsCaller

HOST = "h.example:80"


class CountingHosts:
    """The worker's SharedHosts, counting its calls and the most slots the archive ever
    counted in flight for the host (read right after each slot is taken)."""

    def __init__(self, hosts: SharedHosts, url: str) -> None:
        self.hosts = hosts
        self.url = url
        self.acquired = 0
        self.released = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def acquire_host(self, host: str, **kwargs: Any) -> HostSlot:
        slot = self.hosts.acquire_host(host, **kwargs)
        if slot.acquired:
            with self._lock:
                self.acquired += 1
                self.most_in_flight = max(self.most_in_flight, in_flight(self.url))
        return slot

    def release_host(self, host: str) -> None:
        self.hosts.release_host(host)
        with self._lock:
            self.released += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hosts, name)


def in_flight(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT in_flight FROM hosts WHERE host = %s", (HOST,)).fetchone()
    return 0 if row is None else int(row[0])


@pytest.fixture
def counting(postgres_url: str) -> Iterator[tuple[CountingHosts, SharedHostsCaller]]:
    archive = PostgresArchive.open(postgres_url)
    worker = archive.join_crawl()
    assert worker.shared_hosts is not None
    hosts = CountingHosts(worker.shared_hosts, postgres_url)
    caller = SharedHostsCaller(hosts)  # type: ignore[arg-type]
    try:
        yield hosts, caller
    finally:
        caller.close()
        archive.close()


def polite(concurrency: int, delay: float = 0.0) -> Politeness:
    return Politeness(concurrency=concurrency, delay=delay, robots_txt=False, user_agent="t")


async def requests(gate: SharedHostGate, count: int, *, each_s: float = 0.01) -> int:
    """`count` requests through `gate` at once, each holding its slot `each_s`; returns
    the most that were inside the gate together."""
    inside = 0
    most = 0

    async def one() -> None:
        nonlocal inside, most
        async with gate:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(each_s)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(count)))
    return most


def test_a_waiting_request_gets_the_finished_ones_slot_without_the_database(
        counting: tuple[CountingHosts, SharedHostsCaller], postgres_url: str) -> None:
    hosts, caller = counting
    gate = SharedHostGate(HOST, polite(concurrency=2), caller)
    most = asyncio.run(requests(gate, 20))
    assert most == 2
    # Two slots taken once each and handed along the queue; given back at the end.
    assert (hosts.acquired, hosts.released) == (2, 2)
    assert hosts.most_in_flight == 2
    assert in_flight(postgres_url) == 0


def test_a_delay_is_spaced_in_the_archive_so_each_request_takes_its_own_slot(
        counting: tuple[CountingHosts, SharedHostsCaller], postgres_url: str) -> None:
    hosts, caller = counting
    gate = SharedHostGate(HOST, polite(concurrency=2, delay=0.02), caller)
    asyncio.run(requests(gate, 6))
    assert (hosts.acquired, hosts.released) == (6, 6)
    assert in_flight(postgres_url) == 0


def test_a_slot_held_past_the_handoff_time_goes_back_to_the_archive(
        counting: tuple[CountingHosts, SharedHostsCaller], postgres_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared_politeness, "HANDOFF_S", 0.1)
    hosts, caller = counting
    gate = SharedHostGate(HOST, polite(concurrency=1), caller)
    most = asyncio.run(requests(gate, 20, each_s=0.01))
    assert most == 1
    # The requests take 0.2 s or more: every 0.1 s the slot went back and was taken again.
    # Some hand-offs, not all (~10 per slot; bounds loose enough for a slow machine).
    assert 2 <= hosts.acquired <= 15
    assert hosts.acquired == hosts.released
    assert hosts.most_in_flight == 1
    assert in_flight(postgres_url) == 0


@pytest.mark.parametrize("cancel_after_s", [0.0, 0.015, 0.03])
def test_requests_cancelled_while_they_wait_lose_no_slot_and_stall_none(
        counting: tuple[CountingHosts, SharedHostsCaller], postgres_url: str,
        cancel_after_s: float) -> None:
    """Cancelled before, while and after the slot is handed to them: the others still all
    go, and every slot is given back."""
    hosts, caller = counting
    gate = SharedHostGate(HOST, polite(concurrency=1), caller)
    done: list[int] = []

    async def one(number: int) -> None:
        async with gate:
            await asyncio.sleep(0.01)
            done.append(number)

    async def scenario() -> None:
        tasks = [asyncio.ensure_future(one(n)) for n in range(8)]
        await asyncio.sleep(cancel_after_s)
        for task in tasks[2::2]:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
        async with gate:  # nothing stalled: a place and a slot are there to take
            pass

    asyncio.run(scenario())
    assert {0, 1, 3, 5, 7} <= set(done)
    assert hosts.acquired == hosts.released
    assert hosts.most_in_flight == 1
    assert in_flight(postgres_url) == 0
