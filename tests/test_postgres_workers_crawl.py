"""Crawl processes sharing one PostgreSQL archive (issue 18): `scraper crawl` run as separate
processes against the built-in site, which logs every request. Every page is fetched once
and stored once; a worker SIGKILLed mid-run loses nothing (its URLs come back after its
lease); a database restart mid-run is ridden out; a recrawl after edits gives the versions,
diffs, changes and exports that one SQLite crawl gives."""

from __future__ import annotations

import bisect
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from postgres_harness import PostgresServer

from scraper.cli import main
from scraper.testsite import TestSite
from scraper.testsite.content import info_path
from scraper.testsite.stats import max_overlap_per_host, min_start_gap_per_host

SCRAPER = [sys.executable, "-m", "scraper"]
# Generous bounds that only catch a hang, never time a healthy run.
RUN_TIMEOUT = 300


def write_config(path: Path, site: TestSite, *, concurrency: int = 4, delay: str = "0",
                 recrawl_after: str = "1d") -> Path:
    path.write_text(textwrap.dedent(f"""\
        name: wiki
        start_urls: ["{site.url('/related/NATO')}"]
        follow: [related, more_info]
        max_depth: 1000
        recrawl_after: {recrawl_after}
        network: {{allow_loopback: true}}
        politeness: {{delay: {delay}, concurrency: {concurrency}}}
        """), encoding="utf-8")
    return path


def start_workers(config: Path, archive: str, count: int,
                  *extra: str) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return [subprocess.Popen([*SCRAPER, "crawl", str(config), "--archive", archive,
                              "--no-progress", "-q", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env) for _ in range(count)]


def wait_all(workers: Sequence[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    outcomes = []
    for worker in workers:
        out, _ = worker.communicate(timeout=RUN_TIMEOUT)
        outcomes.append((worker.returncode, out))
    return outcomes


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except psycopg.errors.UndefinedTable:
            pass  # the first worker has not made the schema yet
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stored_pages(url: str) -> Counter[str]:
    """Versions stored per page URL."""
    return Counter(dict(query(url, "SELECT p.url, count(*) FROM pages p JOIN snapshots s"
                                   " ON s.page_id = p.id GROUP BY p.url")))


def page_requests(site: TestSite) -> Counter[str]:
    """Requests the site answered per page path (robots.txt and control aside)."""
    return Counter({path: n for path, n in site.stats().by_target.items()
                    if path.startswith(("/related/", "/info/"))})


def sqlite_pages(tmp_path: Path, config: Path) -> dict[str, str]:
    """URL -> content hash of what one SQLite crawl of the same site stores."""
    archive = tmp_path / "solo.db"
    result = CliRunner().invoke(main, ["crawl", str(config), "--archive", str(archive),
                                       "--no-progress", "-q"])
    assert result.exit_code == 0, result.output
    import sqlite3

    with sqlite3.connect(archive) as conn:
        return dict(conn.execute(
            "SELECT p.url, s.content_hash FROM pages p JOIN snapshots s ON s.page_id = p.id"
            " AND s.version = p.current_version").fetchall())


def postgres_pages(url: str) -> dict[str, str]:
    return dict(query(url, "SELECT p.url, s.content_hash FROM pages p JOIN snapshots s"
                           " ON s.page_id = p.id AND s.version = p.current_version"))


def hosts_config(path: Path, site: TestSite, *, concurrency: int, delay: float) -> Path:
    """The site's own config (every host in scope), crawled to the end."""
    path.write_text(site.crawl_config("wiki", concurrency=concurrency, delay=delay,
                                      max_depth=1000), encoding="utf-8")
    return path


def test_four_workers_over_four_hosts_fetch_every_page_once_politely(
        tmp_path: Path, postgres_url: str) -> None:
    """The issue's run: 2,000 topics on 4 loopback hosts with latency, 4 worker processes:
    each page fetched exactly once, each host's robots.txt once, never more requests in
    flight on a host than its concurrency, and the archive one SQLite crawl makes."""
    with TestSite(pages=2000, latency_ms=20, hosts=4) as site:
        config = hosts_config(tmp_path / "wiki.yaml", site, concurrency=2, delay=0)
        outcomes = wait_all(start_workers(config, postgres_url, 4))
        stats = site.stats()
        site.reset_stats()
        alone = sqlite_pages(tmp_path, config)
    for code, out in outcomes:
        assert code == 0, out
    pages = Counter(r.target for r in stats.log if r.path.startswith(("/related/", "/info/")))
    assert len(pages) > 4000 and set(pages.values()) == {1}
    robots = Counter(r.address for r in stats.log if r.path == "/robots.txt")
    assert robots == {f"127.0.0.{i}": 1 for i in range(1, 5)}
    assert {r.status for r in stats.log} == {200}
    assert max_overlap_per_host(stats.log) == {f"127.0.0.{i}": 2 for i in range(1, 5)}
    # Each worker did a share, and the run lists them all.
    parts = query(postgres_url, "SELECT fetched FROM run_workers")
    assert len(parts) == 4 and all(fetched > 0 for (fetched,) in parts)
    assert sum(fetched for (fetched,) in parts) == len(pages)
    shared = postgres_pages(postgres_url)
    assert set(stored_pages(postgres_url).values()) == {1}
    assert shared == alone


def test_a_hosts_delay_holds_across_workers(tmp_path: Path, postgres_url: str) -> None:
    delay = 0.1
    with TestSite(pages=40, latency_ms=5, hosts=2) as site:
        config = hosts_config(tmp_path / "wiki.yaml", site, concurrency=2, delay=delay)
        outcomes = wait_all(start_workers(config, postgres_url, 3))
        log = site.stats().log
    for code, out in outcomes:
        assert code == 0, out
    assert len(log) > 80
    # Slots are given `delay` apart; a request reaches the site a moment after its slot, so
    # two starts may come closer by that moment's jitter (a busy machine's scheduling),
    # but the jitter never adds up: in any second a host sees at most 1/delay starts, and
    # one more for a late one. Three workers each keeping the delay alone would send three
    # times that.
    window = 1.0
    for address in {r.address for r in log}:
        starts = sorted(r.start for r in log if r.address == address)
        busiest = max(bisect.bisect_left(starts, t + window) - i for i, t in enumerate(starts))
        assert busiest <= window / delay + 2, (address, busiest)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert sum(gaps) / len(gaps) >= delay * 0.95, (address, min_start_gap_per_host(log))


@pytest.fixture
def server(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    postgres_server.start()
    yield postgres_server
    postgres_server.start()  # a test that restarts it leaves it running


def test_a_worker_sigkilled_mid_run_loses_nothing_and_doubles_nothing(
        tmp_path: Path, postgres_url: str) -> None:
    with TestSite(pages=150, latency_ms=40) as site:
        config = write_config(tmp_path / "wiki.yaml", site, concurrency=4)
        workers = start_workers(config, postgres_url, 3, "--lease", "2s")
        # The victim: a worker holding leased URLs once the crawl is well under way.
        wait_until(lambda: query(postgres_url, "SELECT count(*) FROM pages")[0][0] >= 40,
                   "the crawl to get going")
        pids = {int(pid): int(wid) for wid, pid in query(
            postgres_url, "SELECT id, pid FROM workers")}
        victim = next(w for w in workers if w.pid in pids and query(
            postgres_url, "SELECT count(*) FROM frontier WHERE leased_by = %s",
            pids[w.pid])[0][0] > 0)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        held_at_death = {row[0] for row in query(
            postgres_url, "SELECT url FROM frontier WHERE leased_by = %s", pids[victim.pid])}
        outcomes = wait_all([w for w in workers if w is not victim])
        for code, out in outcomes:
            assert code == 0, out
        requests = page_requests(site)
        doubled = {site.url(path) for path, n in requests.items() if n > 1}
    stored = stored_pages(postgres_url)
    # Nothing doubled: one version per page, and the only pages asked twice are those the
    # dead worker was fetching when it died.
    assert set(stored.values()) == {1}
    assert doubled <= held_at_death
    # Nothing lost: every page the site served is stored, the dead worker's included.
    assert len(stored) == len(requests) >= 290
    assert query(postgres_url, "SELECT count(*) FROM frontier WHERE next_due <= now()"
                               " AND fetch_count = 0")[0][0] == 0
    victim_part = query(postgres_url, "SELECT status FROM run_workers WHERE worker_id = %s",
                        pids[victim.pid])
    assert victim_part == [("killed",)]
    assert query(postgres_url, "SELECT status FROM runs") == [("completed",)]


def test_the_workers_ride_out_a_database_restart(tmp_path: Path, server: PostgresServer,
                                                  postgres_url: str) -> None:
    with TestSite(pages=150, latency_ms=40) as site:
        config = write_config(tmp_path / "wiki.yaml", site, concurrency=4)
        workers = start_workers(config, postgres_url, 2)
        wait_until(lambda: query(postgres_url, "SELECT count(*) FROM pages")[0][0] >= 40,
                   "the crawl to get going")
        server.restart()
        outcomes = wait_all(workers)
        requests = page_requests(site)
    for code, out in outcomes:
        assert code == 0, out
    assert any(re.search(r"retrying in", out) for _, out in outcomes), outcomes
    stored = stored_pages(postgres_url)
    assert set(stored.values()) == {1}
    assert len(stored) == len(requests) >= 290
    assert query(postgres_url, "SELECT status FROM runs") == [("completed",)]


def _exports(archive: str, site: TestSite, slugs: Sequence[str]) -> dict[str, Any]:
    """What the read commands say, times and run ids aside."""
    runner = CliRunner()
    varying = {"fetched_at", "run_id", "first_seen", "last_fetched", "last_changed",
               "last_seen", "archived_at", "elapsed_s"}

    def stable(record: Any) -> Any:
        if isinstance(record, dict):
            return {k: stable(v) for k, v in record.items() if k not in varying}
        if isinstance(record, list):
            return [stable(v) for v in record]
        return record

    def run(*args: str) -> str:
        result = runner.invoke(main, [*args, "--archive", archive])
        assert result.exit_code == 0, result.output
        return re.sub(r"\d{4}-\d\d-\d\d[T ][\d:.]+(\+00:00)?", "TIME", result.output)

    export = run("export", "--format", "jsonl", "--all-versions", "-o", "-")
    return {
        "diffs": [run("diff", site.url(info_path(slug))) for slug in slugs],
        "changes": sorted(run("changes", "--since", "1d").splitlines()),
        "export": sorted(json.dumps(stable(json.loads(line)), sort_keys=True)
                          for line in export.splitlines() if line.startswith("{")),
    }


def test_a_recrawl_after_edits_stores_what_one_sqlite_crawl_stores(
        tmp_path: Path, postgres_url: str) -> None:
    solo = str(tmp_path / "solo.db")
    with TestSite(pages=60, latency_ms=5) as site:
        config = write_config(tmp_path / "wiki.yaml", site, recrawl_after="0s")
        for code, out in wait_all(start_workers(config, postgres_url, 3)):
            assert code == 0, out
        first = CliRunner().invoke(main, ["crawl", str(config), "--archive", solo, "-q"])
        assert first.exit_code == 0, first.output
        edited = list(site.model.slugs[3:8])
        for slug in edited:
            site.edit(slug, summary=f"{slug} was edited between the crawls.")
        for code, out in wait_all(start_workers(config, postgres_url, 3)):
            assert code == 0, out
        second = CliRunner().invoke(main, ["crawl", str(config), "--archive", solo, "-q"])
        assert second.exit_code == 0, second.output
        # Exactly one new version per page that changed, whichever worker fetched it.
        shared, alone = stored_pages(postgres_url), Counter[str]()
        import sqlite3

        with sqlite3.connect(solo) as conn:
            alone.update(dict(conn.execute(
                "SELECT p.url, count(*) FROM pages p JOIN snapshots s ON s.page_id = p.id"
                " GROUP BY p.url").fetchall()))
        assert shared == alone
        changed = {url for url, versions in shared.items() if versions == 2}
        assert {site.url(info_path(slug)) for slug in edited} <= changed
        assert set(shared.values()) == {1, 2}
        assert _exports(postgres_url, site, edited) == _exports(solo, site, edited)
    # `scraper stats` says who fetched what in the last run.
    shown = CliRunner().invoke(main, ["stats", "--archive", postgres_url])
    assert shown.exit_code == 0, shown.output
    parts = re.findall(r"^  worker \d+ \S+:\d+: fetched (\d+)", shown.output, re.MULTILINE)
    assert 1 <= len(parts) <= 3  # a worker that starts after the others ended runs alone
    last = query(postgres_url, "SELECT fetched FROM runs ORDER BY id DESC LIMIT 1")[0][0]
    assert sum(map(int, parts)) == last > 0
