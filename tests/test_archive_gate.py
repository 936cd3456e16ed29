"""The crawl's archive thread: calls in order, shared transactions, each call all-or-nothing,
and a failed commit that stops every later write."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scraper.archive import Archive
from scraper.crawl.archive_gate import ArchiveGate
from scraper.errors import ArchiveError
from scraper.models import FrontierItem

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def enqueue(archive: Archive, url: str) -> int:
    return archive.enqueue([FrontierItem(url=url, site="s")], T0)


def breaks_the_commit(archive: Archive) -> None:
    # A foreign key checked only at COMMIT: the savepoint is released, the commit fails.
    archive.conn.execute("PRAGMA defer_foreign_keys = ON")
    with archive._write() as conn:
        conn.execute("INSERT INTO frontier (url, site, added_at, next_due, page_id)"
                     " VALUES ('http://t/orphan', 's', 'x', 'x', 999)")


def urls(path: Path) -> set[str]:
    with Archive.open(str(path), create=False) as archive:
        return {row[0] for row in archive.conn.execute("SELECT url FROM frontier")}


def test_calls_run_in_order_and_share_commits(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    archive = Archive.open(str(path))
    gate = ArchiveGate(archive, commit_every=30, idle_commit=1)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(gate.run(enqueue, archive, f"http://t/{i}")
                                           for i in range(50))))

    added = asyncio.run(main())
    order = gate.call(lambda: [r[0] for r in archive.conn.execute(
        "SELECT url FROM frontier ORDER BY rowid")])
    gate.close()
    archive.close()
    assert added == [1] * 50
    assert order == [f"http://t/{i}" for i in range(50)]
    assert gate.calls == 51 and gate.commits < 5  # one transaction for a burst of calls
    assert len(urls(path)) == 50  # committed by close()


def test_a_failing_call_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    archive = Archive.open(str(path))
    gate = ArchiveGate(archive, commit_every=30, idle_commit=1)

    def half_then_fail() -> None:
        with archive._write() as conn:
            conn.execute("INSERT INTO frontier (url, site, added_at, next_due)"
                         " VALUES ('http://t/half', 's', 'x', 'x')")
            raise ValueError("broken halfway")

    async def main() -> list[Any]:
        return list(await asyncio.gather(
            gate.run(enqueue, archive, "http://t/1"), gate.run(half_then_fail),
            gate.run(enqueue, archive, "http://t/2"), return_exceptions=True))

    first, failed, second = asyncio.run(main())
    gate.close()
    archive.close()
    assert (first, second) == (1, 1)
    assert isinstance(failed, ValueError)
    assert urls(path) == {"http://t/1", "http://t/2"}


def test_a_failed_commit_stops_every_later_write(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Archive.open(str(path)) as archive:
        enqueue(archive, "http://t/before")
    archive = Archive.open(str(path))
    gate = ArchiveGate(archive, commit_every=30, idle_commit=1)

    async def main() -> None:
        assert await gate.run(enqueue, archive, "http://t/lost") == 1
        await gate.run(breaks_the_commit, archive)

    asyncio.run(main())
    with pytest.raises(ArchiveError, match="FOREIGN KEY"):
        gate.close()
    archive.close()
    # The transaction went back whole: the call answered before it is not in the file.
    assert urls(path) == {"http://t/before"}


def test_after_a_failed_commit_later_calls_are_refused(tmp_path: Path) -> None:
    archive = Archive.open(str(tmp_path / "a.db"))
    gate = ArchiveGate(archive, commit_every=0, idle_commit=0)

    gate.call(breaks_the_commit, archive)
    with pytest.raises(ArchiveError, match="an earlier write failed"):
        gate.call(enqueue, archive, "http://t/after")
    with pytest.raises(ArchiveError):
        gate.close()
    archive.close()


def test_a_transaction_that_cannot_start_answers_its_call(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Archive.open(str(path)) as archive:
        enqueue(archive, "http://t/1")
    archive = Archive.open(str(path), readonly=True)
    gate = ArchiveGate(archive)

    async def main() -> None:
        with pytest.raises(ArchiveError, match="read-only"):
            await asyncio.wait_for(gate.run(enqueue, archive, "http://t/2"), timeout=10)

    asyncio.run(main())
    with pytest.raises(ArchiveError, match="read-only"):
        gate.close()
    archive.close()


def test_sync_calls_from_other_threads_and_from_the_archive_thread(tmp_path: Path) -> None:
    archive = Archive.open(str(tmp_path / "a.db"))
    gate = ArchiveGate(archive, idle_commit=0.01)
    seen: list[str] = []

    def nested() -> str:
        # A call made on the archive thread runs at once instead of waiting for itself.
        return gate.call(lambda: threading.current_thread().name)

    workers = [threading.Thread(target=lambda i=i: gate.call(enqueue, archive, f"http://t/{i}"))
               for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    seen.append(gate.call(nested))
    count = gate.call(archive.frontier_count)
    gate.close()
    archive.close()
    assert seen == ["archive"] and count == 8


def test_a_durable_call_is_answered_once_committed(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    archive = Archive.open(str(path))
    gate = ArchiveGate(archive, commit_every=30, idle_commit=30)

    async def main() -> None:
        await gate.run(enqueue, archive, "http://t/1")
        await gate.run_durably(enqueue, archive, "http://t/2")
        # In the file now, though the transaction would have stayed open for 30 s.
        assert urls(path) == {"http://t/1", "http://t/2"}
        await gate.run(breaks_the_commit, archive)
        with pytest.raises(ArchiveError, match="FOREIGN KEY"):
            await gate.run_durably(enqueue, archive, "http://t/3")

    asyncio.run(main())
    with pytest.raises(ArchiveError):
        gate.close()
    archive.close()
    assert urls(path) == {"http://t/1", "http://t/2"}
