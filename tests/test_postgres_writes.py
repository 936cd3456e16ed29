"""The PostgreSQL archive's writes (save, sightings, failures, skips, runs, batches), checked
in the database's rows; the reads are tests/test_postgres_reads.py's and the shared archive
tests' (tests/test_archive.py on both backends)."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from scraper.archive.encode import encode_page
from scraper.archive.postgres.archive import PostgresArchive
from scraper.archive.postgres.worker import PostgresCrawlWorker
from scraper.errors import ArchiveError
from scraper.models import CrawlStats, FetchResult, FrontierItem, Link, Page

T0 = datetime(2026, 3, 1, tzinfo=UTC)
URL = "http://wiki.test/wiki/Mozilla"


def fetch(body: bytes, at: datetime = T0, *, url: str = URL, status: int = 200,
          etag: str | None = None) -> FetchResult:
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html"),)
    if etag:
        headers += (("ETag", etag),)
    return FetchResult(url, url, status, headers, body, at, 0.05)


def article(text: str, links: tuple[Link, ...] = ()) -> Page:
    return Page(URL, kind="article", title="Mozilla", summary="Mozilla.", text=text,
                links=links, parser="mediawiki")


@pytest.fixture
def archive(postgres_url: str) -> Iterator[PostgresArchive]:
    with PostgresArchive.open(postgres_url) as opened:
        yield opened


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def test_versions_sightings_links_and_the_frontier_row(archive: PostgresArchive,
                                                       postgres_url: str) -> None:
    run = archive.start_run(["wiki"], {"k": 1}, T0)
    firefox = Link("http://wiki.test/wiki/Firefox", "Firefox", "internal")
    netscape = Link("http://wiki.test/wiki/Netscape", "Netscape", "internal")
    base = b"<p>Mozilla is a free software community.</p>" * 100
    first = archive.save(run, "wiki", fetch(base), article("one", (firefox, netscape)),
                         next_due=T0 + timedelta(days=1),
                         discovered=[FrontierItem(firefox.url, "wiki", depth=1)])
    again = archive.save(run, "wiki", fetch(base, T0 + timedelta(hours=1)),
                         article("one", (firefox, netscape)), next_due=T0 + timedelta(days=2))
    second = archive.save(run, "wiki", fetch(base + b"edit", T0 + timedelta(hours=2)),
                          article("two", (firefox,)), next_due=T0 + timedelta(days=3))
    assert (first.version, first.created, again.version, again.created) == (1, True, 1, False)
    assert (second.version, second.created) == (2, True)
    assert rows(postgres_url, "SELECT version, seen_count, text_length FROM snapshots"
                              " ORDER BY version") == [(1, 2, 3), (2, 1, 3)]
    assert rows(postgres_url, "SELECT current_version, seen_count, text FROM pages") == [
        (2, 3, "two")]
    # Netscape's link closed at version 1; Firefox's stays open from version 1.
    assert rows(postgres_url, "SELECT target, from_version, to_version FROM links ORDER BY id"
                ) == [(firefox.url, 1, None), (netscape.url, 1, 1)]
    # The second body is a delta of the first.
    assert rows(postgres_url, "SELECT count(*) FILTER (WHERE base IS NOT NULL) FROM blobs"
                              " WHERE kind = 'body'") == [(1,)]
    item = archive.frontier_item(URL)
    assert item is not None and item.fetch_count == 3
    assert item.next_due == T0 + timedelta(days=3)
    assert archive.frontier_count("wiki") == 2
    assert [i.url for i in archive.due("wiki", T0, 10)] == [firefox.url]


def test_not_modified_failure_gone_and_skip(archive: PostgresArchive, postgres_url: str) -> None:
    run = archive.start_run(["wiki"], {}, T0)
    archive.save(run, "wiki", fetch(b"<html>v1</html>", etag='"a"'), article("one"),
                 next_due=T0)
    archive.record_not_modified(run, "wiki", fetch(b"", T0 + timedelta(hours=1), status=304),
                                next_due=T0 + timedelta(days=1))
    assert archive.validators(URL) == ('"a"', None)
    archive.record_failure(run, "wiki", URL, reason="HTTP 404", attempts=1, status=404,
                           now=T0 + timedelta(hours=2), next_due=T0 + timedelta(days=2),
                           gone=True)
    archive.record_skipped(run, "wiki", "http://wiki.test/a.pdf", reason="not HTML",
                           now=T0, next_due=T0 + timedelta(days=30))
    assert rows(postgres_url, "SELECT not_modified_count, gone, gone_at FROM pages") == [
        (1, True, T0 + timedelta(hours=2))]
    assert rows(postgres_url, "SELECT attempts, gone, last_status FROM frontier WHERE url = %s",
                URL) == [(1, True, 404)]
    assert archive.waiting_retries("wiki", T0 + timedelta(days=1)) == (
        1, T0 + timedelta(days=2))
    assert rows(postgres_url, "SELECT url, reason FROM skips") == [
        ("http://wiki.test/a.pdf", "not HTML")]


def test_runs_read_back_as_the_sqlite_archive_gives_them(archive: PostgresArchive) -> None:
    first = archive.start_run(["wiki", "other"], {"delay": 1}, T0)
    archive.finish_run(first, CrawlStats(fetched=3), status="completed",
                       ended_at=T0 + timedelta(minutes=5), alerts=[{"kind": "x"}])
    second = archive.start_run(["other"], {}, T0 + timedelta(hours=1))
    last = archive.last_run("wiki")
    assert last is not None and last["id"] == first
    assert last["started_at"] == "2026-03-01T00:00:00.000000+00:00"
    assert last["sites"] == ["wiki", "other"] and last["config"] == {"delay": 1}
    assert last["fetched"] == 3 and last["alerts"] == [{"kind": "x"}]
    assert archive.last_run()["id"] == second  # type: ignore[index]
    assert archive.last_run(status="completed", before=first) is None
    assert archive.run_statuses() == {"completed": 1, "running": 1}
    with pytest.raises(ArchiveError, match="unknown status 'done'"):
        archive.finish_run(second, CrawlStats(), status="done", ended_at=T0)
    with pytest.raises(ArchiveError, match="no run 999 to finish"):
        archive.finish_run(999, CrawlStats(), status="completed", ended_at=T0)


def test_a_failed_write_in_a_batch_is_undone_alone(archive: PostgresArchive,
                                                   postgres_url: str) -> None:
    run = archive.start_run(["wiki"], {}, T0)
    with archive.batch():
        archive.save(run, "wiki", fetch(b"<html>v1</html>"), article("one"), next_due=T0)
        with pytest.raises(ArchiveError, match=r"saving .*Mozilla.*run_id"):
            archive.save(9999, "wiki", fetch(b"<html>v2</html>", T0 + timedelta(hours=1)),
                         article("two"), next_due=T0)
        archive.record_skipped(run, "wiki", "http://wiki.test/b", reason="robots.txt",
                               now=T0, next_due=T0)
    assert rows(postgres_url, "SELECT text FROM pages") == [("one",)]
    assert rows(postgres_url, "SELECT count(*) FROM skips") == [(1,)]
    # The failed save's blob was rolled back, so the store must not think it has it.
    again = archive.save(run, "wiki", fetch(b"<html>v2</html>", T0 + timedelta(hours=2)),
                         article("two"), next_due=T0)
    assert again.version == 2
    assert rows(postgres_url, "SELECT count(*) FROM blobs WHERE kind = 'body'") == [(2,)]


def test_an_error_escaping_a_batch_rolls_it_all_back(archive: PostgresArchive,
                                                     postgres_url: str) -> None:
    run = archive.start_run(["wiki"], {}, T0)
    with pytest.raises(RuntimeError), archive.batch():
        archive.save(run, "wiki", fetch(b"<html>v1</html>"), article("one"), next_due=T0)
        raise RuntimeError("stop")
    assert rows(postgres_url, "SELECT count(*) FROM pages") == [(0,)]
    assert archive.save(run, "wiki", fetch(b"<html>v1</html>"), article("one"),
                        next_due=T0).version == 1


def test_read_only_refuses_writes_and_an_empty_database_is_no_archive(
        postgres_url: str) -> None:
    with pytest.raises(ArchiveError, match="no archive in this database"):
        PostgresArchive.open(postgres_url, readonly=True)
    with pytest.raises(ArchiveError, match="no archive in this database"):
        PostgresArchive.open(postgres_url, create=False)
    PostgresArchive.open(postgres_url).close()
    with PostgresArchive.open(postgres_url, readonly=True) as archive:
        with pytest.raises(ArchiveError, match="read-only"):
            archive.start_run(["wiki"], {}, T0)
        with pytest.raises(ArchiveError, match="read-only"):
            archive.enqueue([FrontierItem(URL, "wiki")], T0)
        with pytest.raises(ArchiveError, match="read-only"), archive.batch():
            pass


def test_a_save_sends_its_statements_pipelined(archive: PostgresArchive,
                                               postgres_url: str) -> None:
    """A save, lone (a worker's writes commit one by one) or inside a batch, does not wait
    for the answer of each statement whose rows it does not read."""
    statuses: list[psycopg.pq.PipelineStatus] = []
    insert = archive.blob_rows.insert

    def watched(*args: Any, **kwargs: Any) -> None:
        statuses.append(archive.blob_rows.conn.pgconn.pipeline_status)
        insert(*args, **kwargs)

    archive.blob_rows.insert = watched  # type: ignore[method-assign]
    run = archive.start_run(["wiki"], {}, T0)
    archive.save(run, "wiki", fetch(b"<html>v1</html>"), article("one"), next_due=T0)
    with archive.batch():
        archive.save(run, "wiki", fetch(b"<html>v2</html>", T0 + timedelta(hours=1)),
                     article("two"), next_due=T0)
    assert len(statuses) == 4  # a body and a fields blob per version
    assert set(statuses) == {psycopg.pq.PipelineStatus.ON}
    assert rows(postgres_url, "SELECT current_version, text FROM pages") == [(2, "two")]


def test_a_first_version_waits_for_one_answer_besides_the_transaction(
        archive: PostgresArchive) -> None:
    """A save asks what it must know in one statement (its claim, the page's current
    version, which blobs are stored, a new page's id) and sends the rest without waiting:
    for a page's first version, that read is the one wait besides the four of psycopg's
    pipelined transaction (after BEGIN, before and after COMMIT, and the pipeline's end),
    for a crawl worker as for a lone writer. (Before: nine, each read waiting for its
    answer: the claim, the current version, each blob, the new page's id.)"""
    run = archive.start_run(["wiki"], {}, T0)
    links = (Link("http://wiki.test/wiki/Firefox", "related", "Firefox"),)
    archive.save(run, "wiki", fetch(b"<html>warm</html>", url="http://wiki.test/wiki/Warm"),
                 Page("http://wiki.test/wiki/Warm", title="Warm"), next_due=T0)
    # As the crawl's parse workers encode a URL never fetched: with its first copies.
    page = article("one", links)
    lone = round_trips(archive, lambda: archive.save(
        run, "wiki", fetch(b"<html>v1</html>"), page, next_due=T0,
        discovered=(FrontierItem("http://wiki.test/wiki/Firefox", "wiki", 1),),
        encoded=encode_page(page, b"<html>v1</html>", first_version=True)))
    assert lone == 5
    worker = archive.join_crawl(lease_seconds=60)
    try:
        second = "http://wiki.test/wiki/Second"
        archive.enqueue([FrontierItem(second, "wiki")], T0)
        assert [item.url for item in worker.claim("wiki", T0, 10, only=[second])] == [second]
        new_page = Page(second, title="Second")
        assert round_trips(archive, lambda: archive.save(
            run, "wiki", fetch(b"<html>s</html>", url=second), new_page, next_due=T0,
            encoded=encode_page(new_page, b"<html>s</html>", first_version=True))) == 5
    finally:
        worker.leave()
    assert rows(archive.core.location.path_or_dsn,
                "SELECT url, current_version FROM pages ORDER BY id") == [
        ("http://wiki.test/wiki/Warm", 1), (URL, 1), ("http://wiki.test/wiki/Second", 1)]


def round_trips(archive: PostgresArchive, write: Callable[[], object]) -> int:
    """How many times `write` sent messages to the server and then waited for its answer
    (libpq's protocol trace of the archive's connection: F lines sent, B received)."""
    conn = archive.core.run(lambda c: c)
    with tempfile.TemporaryFile() as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            write()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        directions = [line.split("\t")[0] for line in trace.read().decode().splitlines()]
    return sum(1 for sent, got in itertools.pairwise(directions) if (sent, got) == ("F", "B"))


def test_saves_and_claims_keep_probing_indexes_as_a_new_archive_grows(
        archive: PostgresArchive, postgres_url: str) -> None:
    """psycopg prepares a statement on its fifth call, and the server may then keep one
    generic plan for it, made for the tables as they were: in a new archive a few rows,
    for which a sequential scan is the cheapest plan. Kept for the rest of a crawl, such a
    plan read the whole frontier (or all blobs) on every save. Once the tables have grown,
    saves and claims must still find their rows through the indexes."""
    worker = archive.join_crawl()
    assert isinstance(worker, PostgresCrawlWorker)
    run = archive.start_run(["wiki"], {}, T0)
    numbers = itertools.count()

    def save_and_claim() -> None:
        n = next(numbers)
        url = f"http://wiki.test/wiki/P{n}"
        body = f"<p>Page {n} of the wiki.</p>".encode() * 40
        links = tuple(Link(f"{url}-{k}", f"P{n}-{k}", "internal") for k in range(5))
        page = Page(url, kind="article", title=f"P{n}", summary="S.", text=f"page {n}",
                    links=links, parser="mediawiki")
        archive.save(run, "wiki", fetch(body, url=url), page, next_due=T0 + timedelta(days=1),
                     discovered=[FrontierItem(link.url, "wiki", depth=1) for link in links],
                     encoded=encode_page(page, body, first_version=True))
        worker.claim("wiki", T0, 2)

    def sequential_scans() -> dict[str, int]:
        # Each backend's counts reach the shared statistics when it is next idle.
        for core in (archive.core, worker.frontier.core):
            core.run(lambda conn: conn.execute("SELECT pg_stat_force_next_flush()"),
                     transaction=False)
        return dict(rows(postgres_url, "SELECT relname, seq_scan FROM pg_stat_user_tables"
                                       " WHERE relname IN ('frontier', 'blobs', 'pages')"))

    for _ in range(12):  # past psycopg's prepare threshold and the server's five custom plans
        save_and_claim()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # No ANALYZE: the statistics stay those of the tiny tables, as in a crawl's first
        # minute, before autovacuum comes by.
        conn.execute("INSERT INTO frontier (url, site, added_at, next_due, fetch_count)"
                     " SELECT 'http://wiki.test/wiki/G' || i, 'wiki', now(),"
                     " now() + interval '30 days', 1 FROM generate_series(1, 20000) i")
        conn.execute("INSERT INTO blobs (hash, kind, size, stored_size, depth, keyframe,"
                     " created_at, data) SELECT md5(i::text) || md5(i::text), 'body', 1, 1, 0,"
                     " true, now(), '\\x00' FROM generate_series(1, 20000) i")
    before = sequential_scans()
    for _ in range(10):
        save_and_claim()
    assert sequential_scans() == before
