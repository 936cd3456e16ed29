"""Workers sharing a crawl through one PostgreSQL archive, at the archive's level: claims and
their leases, ClaimLost, runs that span workers, shared robots.txt, and the host slots of
a request cancelled while it waits (scraper/archive/postgres/worker.py, sharing.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from scraper.archive.postgres.archive import PostgresArchive
from scraper.archive.sharing import CrawlWorker, SharedRobots
from scraper.config import Politeness
from scraper.crawl.shared_politeness import SharedHostGate, SharedHostsCaller
from scraper.errors import ClaimLost
from scraper.models import CrawlStats, FetchResult, FrontierItem, Page

T0 = datetime(2024, 5, 1, tzinfo=UTC)
SITE = "w"
URLS = [f"https://w.example/p{i}" for i in range(6)]

OpenArchive = Callable[[], PostgresArchive]


@pytest.fixture
def open_archive(postgres_url: str) -> Iterator[OpenArchive]:
    """Opens archives on one database, each as another worker would; closes them."""
    opened: list[PostgresArchive] = []

    def make() -> PostgresArchive:
        archive = PostgresArchive.open(postgres_url)
        opened.append(archive)
        return archive

    yield make
    for archive in opened:
        archive.close()


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def fetch(url: str, body: bytes = b"<html>x</html>") -> FetchResult:
    return FetchResult(url, url, 200, (("Content-Type", "text/html"),), body, T0, 0.01)


def page(url: str, text: str = "text") -> Page:
    return Page(url, kind="article", title="T", summary="S.", text=text, parser="generic")


def enqueued(archive: PostgresArchive) -> None:
    archive.enqueue([FrontierItem(url=u, site=SITE) for u in URLS], T0)


def stats(fetched: int) -> CrawlStats:
    return CrawlStats(fetched=fetched, new_versions=fetched, elapsed_s=1.0)


def test_claims_split_the_due_urls_and_a_lost_lease_makes_the_late_write_a_claim_lost(
        open_archive: OpenArchive, postgres_url: str) -> None:
    one, two = open_archive(), open_archive()
    enqueued(one)
    first = one.join_crawl(lease_seconds=0.5)
    second = two.join_crawl(lease_seconds=60)
    mine = first.claim(SITE, T0, 3)
    theirs = second.claim(SITE, T0, 10)
    assert {i.url for i in mine} | {i.url for i in theirs} == set(URLS)
    assert not {i.url for i in mine} & {i.url for i in theirs}
    assert second.claimed_elsewhere(SITE, T0) == 3 and first.claimed_elsewhere(SITE, T0) == 3

    # The first worker stalls past its lease; the second takes its URLs.
    time.sleep(0.7)
    taken = second.claim(SITE, T0, 10)
    assert {i.url for i in taken} == {i.url for i in mine}
    late = mine[0].url
    run = one.start_run([SITE], {}, T0)
    with pytest.raises(ClaimLost, match="lost to worker"):
        one.save(run, SITE, fetch(late), page(late), next_due=T0 + timedelta(days=1))
    with pytest.raises(ClaimLost):
        one.record_failure(run, SITE, late, reason="x", attempts=1, status=500, now=T0,
                           next_due=T0)
    # Nothing of the late write was kept; the holder's write is.
    assert rows(postgres_url, "SELECT count(*) FROM pages")[0][0] == 0
    assert rows(postgres_url, "SELECT count(*) FROM failures")[0][0] == 0
    two.save(run, SITE, fetch(late), page(late), next_due=T0 + timedelta(days=1))
    assert rows(postgres_url, "SELECT leased_by, fetch_count FROM frontier WHERE url = %s",
                late) == [(None, 1)]
    # The first worker's renewal tells it which of its URLs it lost.
    assert first.renew() >= {i.url for i in mine}


def test_a_worker_that_leaves_gives_its_claims_back(open_archive: OpenArchive) -> None:
    one, two = open_archive(), open_archive()
    enqueued(one)
    leaving = one.join_crawl()
    assert len(leaving.claim(SITE, T0, 10)) == len(URLS)
    staying = two.join_crawl()
    assert staying.claim(SITE, T0, 10) == []
    leaving.release([URLS[0]])
    assert [i.url for i in staying.claim(SITE, T0, 10)] == [URLS[0]]
    leaving.leave()
    assert len(staying.claim(SITE, T0, 10)) == len(URLS) - 1


def test_a_run_spans_its_workers_and_ends_with_the_last(open_archive: OpenArchive,
                                                       postgres_url: str) -> None:
    one, two, later = open_archive(), open_archive(), open_archive()
    one.join_crawl()
    two.join_crawl()
    run = one.start_run([SITE], {}, T0)
    assert two.start_run([SITE], {}, T0 + timedelta(seconds=1)) == run  # joined
    assert one.start_run(["other"], {}, T0) != run  # another site: its own run
    one.finish_run(run, stats(3), status="completed", ended_at=T0 + timedelta(seconds=5))
    status, fetched = rows(postgres_url, "SELECT status, fetched FROM runs WHERE id = %s",
                           run)[0]
    assert (status, fetched) == ("running", 3)  # the second worker is still at it
    two.finish_run(run, stats(4), status="completed", ended_at=T0 + timedelta(seconds=9))
    finished = two.last_run(SITE)
    assert finished is not None and finished["id"] == run
    assert (finished["status"], finished["fetched"], finished["new_versions"]) == (
        "completed", 7, 7)
    assert finished["elapsed_s"] == pytest.approx(9.0)
    parts = finished["extra"]["workers"]
    assert [(p["fetched"], p["status"]) for p in parts] == [(3, "completed"), (4, "completed")]
    assert all(":" in p["label"] for p in parts)
    # A finished run is not joined: a worker starting now begins the next one.
    later.join_crawl()
    assert later.start_run([SITE], {}, T0 + timedelta(minutes=1)) > run


def test_a_dead_worker_is_reaped_its_part_killed_and_its_urls_given_back(
        open_archive: OpenArchive, postgres_url: str) -> None:
    dying, alive = open_archive(), open_archive()
    enqueued(dying)
    dead = dying.join_crawl(lease_seconds=0.5)
    run = dying.start_run([SITE], {}, T0)
    assert len(dead.claim(SITE, T0, 10)) == len(URLS)
    survivor = alive.join_crawl(lease_seconds=0.5)
    time.sleep(0.8)  # the dying worker beats no more
    survivor.renew()  # finds it dead
    assert rows(postgres_url, "SELECT status FROM runs WHERE id = %s", run) == [("killed",)]
    assert rows(postgres_url, "SELECT status FROM run_workers WHERE run_id = %s", run) == [
        ("killed",)]
    assert len(survivor.claim(SITE, T0, 10)) == len(URLS)


def test_one_worker_fetches_a_hosts_robots_txt_for_all(open_archive: OpenArchive) -> None:
    workers: list[CrawlWorker] = [open_archive().join_crawl() for _ in range(3)]
    hosts = [w.shared_hosts for w in workers]
    assert all(h is not None for h in hosts)
    fresh_after = T0 - timedelta(hours=1)
    origin = "http://h.example"
    takers = [h.claim_robots_fetch(origin, fresh_after=fresh_after, hold_s=60)
              for h in hosts if h is not None]
    assert takers == [True, False, False]
    assert hosts[1] is not None and hosts[1].shared_robots(origin, fresh_after=fresh_after) is None
    assert hosts[0] is not None
    hosts[0].store_robots(origin, SharedRobots("User-agent: *\nDisallow: /x", 200, T0))
    got = hosts[2].shared_robots(origin, fresh_after=fresh_after) if hosts[2] else None
    assert got is not None and got.text == "User-agent: *\nDisallow: /x"
    # Stale (fetched before `fresh_after`): fetched again, by one worker.
    later = T0 + timedelta(minutes=1)
    assert hosts[2] is not None and hosts[2].shared_robots(origin, fresh_after=later) is None
    assert hosts[2].claim_robots_fetch(origin, fresh_after=later, hold_s=60)


def test_a_request_cancelled_while_it_waits_for_a_host_slot_holds_none(
        open_archive: OpenArchive, postgres_url: str) -> None:
    worker = open_archive().join_crawl()
    assert worker.shared_hosts is not None
    caller = SharedHostsCaller(worker.shared_hosts)
    polite = Politeness(concurrency=1, delay=0.0, robots_txt=False, user_agent="t")

    async def scenario() -> None:
        gate = SharedHostGate("h.example:80", polite, caller)
        other = SharedHostGate("h.example:80", polite, caller)
        async with gate:
            waiting = asyncio.ensure_future(other.__aenter__())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        # Given back: one slot is free again, and nobody holds any.
        async with other:
            pass

    try:
        asyncio.run(scenario())
    finally:
        caller.close()
    assert rows(postgres_url, "SELECT in_flight FROM hosts WHERE host = 'h.example:80'") == [
        (0,)]


def test_two_pages_linking_to_each_other_saved_at_once_do_not_deadlock(
        open_archive: OpenArchive, postgres_url: str) -> None:
    """Each save inserts the URLs its page links to; were its own frontier row updated
    first, two saves of pages linking to each other would each wait on the other's row."""
    first = open_archive()
    pairs = [(f"https://w.example/a{i}", f"https://w.example/b{i}") for i in range(8)]
    first.enqueue([FrontierItem(url=u, site=SITE) for pair in pairs for u in pair], T0)
    writers = [first, open_archive()]
    for writer in writers:
        writer.join_crawl()
    run = first.start_run([SITE], {}, T0)
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    before = query_one(postgres_url, deadlocks)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def save_all(writer: PostgresArchive, mine: int) -> None:
        try:
            for pair in pairs:
                url, other = pair[mine], pair[1 - mine]
                # Links to the other page and to many new URLs, in both orders.
                links = [other, *(f"https://w.example/n{k}" for k in range(40))]
                start.wait(10)
                writer.save(run, SITE, fetch(url), page(url), next_due=T0 + timedelta(days=1),
                            discovered=[FrontierItem(url=u, site=SITE, depth=1) for u in links])
        except BaseException as exc:  # noqa: BLE001  (re-raised below)
            errors.append(exc)

    threads = [threading.Thread(target=save_all, args=(w, i)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert query_one(postgres_url, deadlocks) == before
    assert rows(postgres_url, "SELECT count(*) FROM snapshots")[0][0] == 2 * len(pairs)


def query_one(url: str, sql: str) -> Any:
    return rows(url, sql)[0][0]


def test_a_second_crawl_on_one_archive_object_is_a_new_worker(
        open_archive: OpenArchive, postgres_url: str) -> None:
    archive = open_archive()
    first = archive.join_crawl()
    first.leave()
    second = archive.join_crawl()
    assert second is not first and second.worker_id != first.worker_id
    assert second.claim(SITE, T0, 1) == []  # works: its connections are its own, open
    second.leave()
    # Only the archive's own connection is left on the server.
    open_now = query_one(postgres_url, "SELECT count(*) FROM pg_stat_activity WHERE"
                                       " datname = current_database() AND pid <> pg_backend_pid()")
    assert open_now == 1
