"""The shared frontier on a real PostgreSQL: concurrent claimers each get every URL once,
leases of a dead claimer come back, host slots hold across claimers, and a server restart
mid-claiming loses and doubles nothing."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from postgres_harness import PostgresServer

from scraper.archive.location import parse_archive_location
from scraper.archive.postgres import schema
from scraper.archive.postgres.core import PostgresCore
from scraper.archive.postgres.frontier import SharedFrontier
from scraper.archive.sharing import SharedRobots
from scraper.models import FrontierItem

SITE = "w"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=30)

OpenWorker = Callable[..., SharedFrontier]


@pytest.fixture
def open_worker(postgres_url: str) -> Iterator[OpenWorker]:
    """Makes workers, each with its own connection, on one migrated database; closes them."""
    cores: list[PostgresCore] = []

    def make(lease_seconds: float = 300.0) -> SharedFrontier:
        core = PostgresCore(parse_archive_location(postgres_url), retry_for=60)
        cores.append(core)
        schema.migrate(core)
        return SharedFrontier.join(core, lease_seconds=lease_seconds)

    yield make
    for core in cores:
        core.close()


def urls(n: int) -> list[FrontierItem]:
    return [FrontierItem(url=f"https://w.example/p{i:05d}", site=SITE) for i in range(n)]


def run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001  (re-raised below)
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]


def claim_until_empty(worker: SharedFrontier, got: list[str], *, batch: int = 10,
                      pause: float = 0.0) -> None:
    while True:
        items = worker.claim(SITE, T0, batch)
        if not items:
            return
        for item in items:
            got.append(item.url)
            assert worker.finish(item.url, fetched_at=T0, next_due=LATER, status=200)
        if pause:
            time.sleep(pause)


def test_enqueue_counts_new_urls_and_a_shorter_path_lowers_the_depth(
        open_worker: OpenWorker) -> None:
    worker = open_worker()
    assert worker.enqueue([FrontierItem("https://w.example/a", SITE, depth=3),
                           FrontierItem("https://w.example/b", SITE, depth=1)], T0) == 2
    assert worker.enqueue([FrontierItem("https://w.example/a", SITE, depth=1,
                                        discovered_from="https://w.example/b"),
                           FrontierItem("https://w.example/a", SITE, depth=2),
                           FrontierItem("https://w.example/c", SITE)], T0) == 1
    a = worker.frontier_item("https://w.example/a")
    assert a is not None and a.depth == 1 and a.discovered_from == "https://w.example/b"
    assert a.next_due == T0 and a.fetch_count == 0
    assert worker.frontier_count() == 3 and worker.pending_count(SITE, T0) == 3
    assert worker.frontier_item("https://w.example/zzz") is None


def test_claims_come_in_due_order_and_finished_urls_are_not_due_again(
        open_worker: OpenWorker) -> None:
    worker = open_worker()
    worker.enqueue([FrontierItem("https://w.example/old", SITE, fetch_count=1,
                                 next_due=T0 - timedelta(hours=5)),
                    FrontierItem("https://w.example/new", SITE),
                    FrontierItem("https://w.example/future", SITE,
                                 next_due=T0 + timedelta(hours=1))], T0)
    assert [i.url for i in worker.due(SITE, T0, 10)] == [
        "https://w.example/new", "https://w.example/old"]
    claimed = worker.claim(SITE, T0, 10)
    assert [i.url for i in claimed] == ["https://w.example/new", "https://w.example/old"]
    assert worker.due(SITE, T0, 10) == [] and worker.claim(SITE, T0, 10) == []
    assert worker.finish("https://w.example/new", fetched_at=T0, next_due=LATER, status=200)
    assert worker.release("https://w.example/old")
    item = worker.frontier_item("https://w.example/new")
    assert item is not None and item.fetch_count == 1 and item.next_due == LATER
    assert [i.url for i in worker.claim(SITE, T0, 10)] == ["https://w.example/old"]


def test_four_concurrent_claimers_claim_each_of_2000_urls_exactly_once(
        open_worker: OpenWorker) -> None:
    workers = [open_worker() for _ in range(4)]
    assert workers[0].enqueue(urls(2000), T0) == 2000
    got: list[list[str]] = [[] for _ in workers]
    run_threads([lambda w=w, g=g: claim_until_empty(w, g)
                 for w, g in zip(workers, got, strict=True)])
    every = [url for mine in got for url in mine]
    assert len(every) == 2000 and set(every) == {i.url for i in urls(2000)}
    assert all(len(mine) > 0 for mine in got)  # all four took part
    assert workers[0].pending_count(SITE, T0) == 0


def test_the_urls_of_a_claimer_that_stops_renewing_go_to_others_after_the_lease(
        open_worker: OpenWorker) -> None:
    dying, other = open_worker(lease_seconds=0.5), open_worker(lease_seconds=0.5)
    dying.enqueue(urls(30), T0)
    taken = {i.url for i in dying.claim(SITE, T0, 20)}
    assert len(taken) == 20
    # While the lease holds, the other claimer gets only the rest.
    rest = other.claim(SITE, T0, 100)
    assert {i.url for i in rest} == {i.url for i in urls(30)} - taken
    for item in rest:
        assert other.finish(item.url, fetched_at=T0, next_due=LATER)
    time.sleep(0.3)
    assert dying.renew() == set()  # renewed once, then the claimer "dies"
    time.sleep(0.3)
    assert other.claim(SITE, T0, 100) == []  # the renewal still holds
    time.sleep(0.4)
    assert {i.url for i in other.claim(SITE, T0, 100)} == taken
    # Back from the dead, the first claimer has lost them.
    assert not dying.finish(min(taken), fetched_at=T0, next_due=LATER)
    assert dying.renew() == taken - {min(taken)}
    assert dying.held == set()


def test_host_slots_hold_concurrency_and_delay_across_claimers(
        open_worker: OpenWorker) -> None:
    workers = [open_worker() for _ in range(4)]
    concurrency, delay = 2, 0.02
    granted: list[datetime] = []
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def fetch_some(worker: SharedFrontier) -> None:
        for _ in range(10):
            while not (slot := worker.acquire_host("h.example", concurrency=concurrency,
                                                   delay_s=delay)).acquired:
                time.sleep(min(slot.wait_s, 0.01) or 0.002)
            start = time.monotonic()
            time.sleep(0.03)  # the "request"
            end = time.monotonic()
            worker.release_host("h.example")
            assert slot.granted_at is not None
            with lock:
                granted.append(slot.granted_at)
                spans.append((start, end))

    run_threads([lambda w=w: fetch_some(w) for w in workers])
    assert len(granted) == 40
    ordered = sorted(granted)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    assert min(gaps) >= delay
    # The most requests in flight at once, from the claimers' own clocks (each span lies
    # inside the slot's time in the database, so this can only undercount).
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    assert peak == concurrency  # reached, never passed
    in_db = workers[0].core.run(lambda c: c.execute(
        "SELECT in_flight FROM hosts WHERE host = 'h.example'").fetchone())
    assert in_db == (0,)


def test_a_dead_workers_slots_and_leases_are_given_back(open_worker: OpenWorker) -> None:
    dead, alive = open_worker(), open_worker()
    dead.enqueue(urls(5), T0)
    assert len(dead.claim(SITE, T0, 5)) == 5
    assert dead.acquire_host("h.example", concurrency=1, delay_s=0).acquired
    assert not alive.acquire_host("h.example", concurrency=1, delay_s=0).acquired
    time.sleep(0.2)
    alive.renew()
    assert alive.reap_dead_workers(stale_after_s=0.1) == [dead.worker_id]
    assert alive.acquire_host("h.example", concurrency=1, delay_s=0).acquired
    assert len(alive.claim(SITE, T0, 5)) == 5
    dead.release_host("h.example")  # it thought it held one: nothing is given back twice
    assert in_flight(alive, "h.example") == 1


def in_flight(worker: SharedFrontier, host: str) -> int:
    row = worker.core.run(lambda c: c.execute(
        "SELECT in_flight FROM hosts WHERE host = %s", (host,)).fetchone())
    return int(row[0]) if row else 0


def test_after_a_reconnect_what_a_lost_commit_took_is_given_back_before_the_retry(
        open_worker: OpenWorker, postgres_server: PostgresServer) -> None:
    worker, watcher = open_worker(), open_worker()
    worker.enqueue(urls(6), T0)
    assert [i.url for i in worker.claim(SITE, T0, 2)] == [i.url for i in urls(2)]
    assert worker.acquire_host("h.example", concurrency=5, delay_s=0).acquired
    # A claim and a slot whose commits happened but whose answers never came back: the
    # database holds them for this worker, the worker does not know.
    worker.core.run(lambda c: c.execute(
        "UPDATE frontier SET leased_by = %s, lease_until = now() + interval '1 hour'"
        " WHERE url = ANY(%s)", (worker.worker_id, [i.url for i in urls(4)[2:]])))
    worker.core.run(lambda c: c.execute(
        "UPDATE hosts SET in_flight = in_flight + 1 WHERE host = 'h.example'"))
    worker.core.run(lambda c: c.execute(
        "UPDATE host_slots SET held = held + 1 WHERE worker_id = %s", (worker.worker_id,)))
    # The connection drops.
    pid = worker.core.run(lambda c: c.execute("SELECT pg_backend_pid()").fetchone())
    assert pid is not None
    watcher.core.run(lambda c: c.execute("SELECT pg_terminate_backend(%s)", pid))
    again = worker.claim(SITE, T0, 10)
    assert worker.core.reconnects == 1
    # The lost claim's URLs were given back and claimed again, now known to the worker.
    assert {i.url for i in again} == {i.url for i in urls(6)[2:]}
    assert worker.held == {i.url for i in urls(6)}
    assert in_flight(worker, "h.example") == 1
    worker.release_host("h.example")
    assert in_flight(worker, "h.example") == 0


def test_robots_txt_is_shared_and_a_newer_fetch_replaces_an_older(
        open_worker: OpenWorker) -> None:
    one, two = open_worker(), open_worker()
    assert two.robots("h.example") == (None, None, None)
    one.store_robots("h.example", SharedRobots("User-agent: *\nDisallow: /x", 200, T0))
    two.store_robots("h.example", SharedRobots("stale", 200, T0 - timedelta(hours=1)))
    assert two.robots("h.example") == ("User-agent: *\nDisallow: /x", 200, T0)


def test_claimers_go_on_through_a_server_restart_losing_and_doubling_nothing(
        open_worker: OpenWorker, postgres_server: PostgresServer) -> None:
    workers = [open_worker() for _ in range(4)]
    workers[0].enqueue(urls(2000), T0)
    got: list[list[str]] = [[] for _ in workers]

    def restart_midway() -> None:
        while sum(map(len, got)) < 400:
            time.sleep(0.005)
        postgres_server.restart()

    run_threads([lambda w=w, g=g: claim_until_empty(w, g, batch=5, pause=0.002)
                 for w, g in zip(workers, got, strict=True)] + [restart_midway])
    every = Counter(url for mine in got for url in mine)
    assert set(every) == {i.url for i in urls(2000)} and max(every.values()) == 1
    assert sum(w.core.reconnects for w in workers) >= 4
    fetched = workers[0].core.run(lambda c: c.execute(
        "SELECT fetch_count, count(*) FROM frontier WHERE leased_by IS NULL"
        " GROUP BY fetch_count").fetchall())
    assert fetched == [(1, 2000)]
