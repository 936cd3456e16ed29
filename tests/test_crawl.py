"""The crawl loop over real HTTP against the built-in site: scope, politeness, robots.txt,
retries, conditional GET, caps and resumption."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from scraper.archive import Archive
from scraper.config import CrawlConfig, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.testsite import TestSite


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


def make_config(site: TestSite, body: str = "", **fmt: Any) -> CrawlConfig:
    text = textwrap.dedent(f"""\
        name: test
        start_urls: ["{site.url('/related/NATO')}"]
        network: {{allow_loopback: true, backoff_base: 0.05, backoff_max: 0.2}}
        """) + textwrap.dedent(body).format(**fmt)
    return load_config_text(text, "test.yaml")


def run(config: CrawlConfig, archive: Archive, **limits: Any) -> RunResult:
    return asyncio.run(crawl([config], archive, limits=CrawlLimits(**limits)))[0]


def stored_paths(archive: Archive) -> set[str]:
    return {unquote(urlsplit(url).path) + (f"?{urlsplit(url).query}" if urlsplit(url).query
                                           else "")
            for url in archive_urls(archive)}


def archive_urls(archive: Archive) -> list[str]:
    return [url for _, snap, _ in archive.iter_versions() for url in [snap.url]]


def test_crawl_reaches_every_page_in_scope_and_none_outside(site: TestSite,
                                                           tmp_path: Path) -> None:
    config = make_config(site, """\
        follow: [related, more_info]
        scope: {{domains: [127.0.0.1], include: ["^/related/", "^/info/"]}}
        max_depth: 50
        politeness: {{concurrency: 4, delay: 0}}
        """)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run(config, archive)
        paths = stored_paths(archive)
    assert result.status == "completed"
    model = site.model
    for slug in model.slugs:
        assert f"/related/{slug}" in paths
        assert f"/info/{slug}" in paths
        for page in range(2, model.listing_pages(slug) + 1):
            assert f"/related/{slug}?page={page}" in paths
    requested = set(site.stats().by_path)
    outside = {p for p in requested
               if not p.startswith(("/related/", "/info/")) and p != "/robots.txt"}
    assert outside == set()
    assert result.stats.failed == 0


def test_depth_limit(site: TestSite, tmp_path: Path) -> None:
    config = make_config(site, """\
        follow: [related, more_info]
        scope: {{include: ["^/related/", "^/info/"]}}
        max_depth: 1
        politeness: {{concurrency: 4, delay: 0}}
        """)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run(config, archive)
        paths = stored_paths(archive)
    listing = site.model.listing("NATO")
    expected = {"/related/NATO"}
    page = 1
    while True:
        view = site.model.listing("NATO", page)
        for entry in view.entries:
            expected.add(unquote(entry.related))
            expected.add(unquote(entry.more_info))
            # A listing's next pages belong to it, at its depth.
            slug = unquote(entry.related).removeprefix("/related/")
            for extra in range(2, site.model.listing_pages(slug) + 1):
                expected.add(f"/related/{slug}?page={extra}")
        if view.more is None:
            break
        page += 1
        expected.add(f"/related/NATO?page={page}")
    assert listing.entries
    assert paths == expected


def test_politeness_concurrency_and_delay(site: TestSite, tmp_path: Path) -> None:
    site.latency_ms = 60
    config = make_config(site, """\
        follow: [related]
        scope: {{include: ["^/related/"]}}
        max_depth: 3
        politeness: {{concurrency: 3, delay: 0}}
        """)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run(config, archive, max_pages=40)
    stats = site.stats()
    assert max(stats.max_in_flight_per_host.values()) == 3  # used, never exceeded

    site.reset_stats()
    site.latency_ms = 0
    config = make_config(site, """\
        follow: [related]
        scope: {{include: ["^/related/"]}}
        politeness: {{concurrency: 4, delay: 0.15, user_agent: "polite-test/1.0 (+t@example.org)"}}
        """)
    with Archive.open(str(tmp_path / "b.db")) as archive:
        run(config, archive, max_pages=8)
    log = site.stats().log
    starts = sorted(r.start for r in log)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 8
    assert min(gaps) >= 0.15 * 0.9  # server-side clock; a little slack for scheduling
    assert {r.user_agent for r in log} == {"polite-test/1.0 (+t@example.org)"}


def test_robots_disallow_is_never_requested(site: TestSite, tmp_path: Path) -> None:
    config = load_config_text(textwrap.dedent(f"""\
        name: test
        start_urls: ["{site.url('/related/NATO')}", "{site.url('/private/secret')}"]
        follow: [related, more_info, internal]
        max_depth: 1
        politeness: {{concurrency: 4, delay: 0}}
        network: {{allow_loopback: true}}
        """), "test.yaml")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run(config, archive)
    stats = site.stats()
    assert not [p for p in stats.by_path if p.startswith("/private/")]
    assert stats.count("/robots.txt") == 1
    assert result.stats.skipped >= 1
    with sqlite3.connect(tmp_path / "a.db") as db:
        reasons = dict(db.execute("SELECT url, reason FROM skips").fetchall())
    assert reasons[site.url("/private/secret")] == "disallowed by robots.txt"


def fault_config(site: TestSite, paths: list[str], extra: str = "") -> CrawlConfig:
    urls = ", ".join(f'"{site.url(p)}"' for p in paths)
    return load_config_text(textwrap.dedent(f"""\
        name: faults
        start_urls: [{urls}]
        follow: []
        politeness: {{concurrency: 4, delay: 0, robots_txt: false}}
        network:
          allow_loopback: true
          backoff_base: 0.05
          backoff_max: 0.2
          attempts: 3
        """) + extra, "faults.yaml")


def failures(db_path: Path) -> dict[str, tuple[str, int, int | None]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT url, reason, attempts, status FROM failures").fetchall()
    return {unquote(urlsplit(u).path): (r, a, s) for u, r, a, s in rows}


def test_retries_transient_errors_and_not_4xx(site: TestSite, tmp_path: Path) -> None:
    config = fault_config(site, ["/fault/status/503,503,200/a", "/fault/status/404/b",
                                 "/fault/status/500/c"])
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        result = run(config, archive)
    stats = site.stats()
    assert stats.count("/fault/status/503,503,200/a") == 3
    assert stats.count("/fault/status/404/b") == 1  # 404 is not retried
    assert stats.count("/fault/status/500/c") == 3  # attempts: 3, then recorded
    assert result.stats.fetched == 1
    assert result.stats.failed == 2
    assert result.stats.retried == 2 + 2
    failed = failures(db)
    assert failed["/fault/status/404/b"] == ("HTTP 404 not found", 1, 404)
    assert failed["/fault/status/500/c"] == ("HTTP 500 server error", 3, 500)


def test_retry_after_is_honoured(site: TestSite, tmp_path: Path) -> None:
    config = fault_config(site, ["/fault/retry-after/2/x"])
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run(config, archive)
    log = [r for r in site.stats().log if r.path.startswith("/fault/retry-after")]
    assert [r.status for r in log] == [429, 200]
    assert log[1].start - log[0].start >= 2.0
    assert result.stats.fetched == 1


def test_retry_after_http_date(site: TestSite, tmp_path: Path) -> None:
    config = fault_config(site, ["/fault/retry-after-date/2/y"])
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run(config, archive)
    log = [r for r in site.stats().log if r.path.startswith("/fault/retry-after-date")]
    assert [r.status for r in log] == [429, 200]
    # An HTTP-date has whole seconds: the wait is at least 1 s, never zero.
    assert log[1].start - log[0].start >= 1.0


def test_timeout_is_retried_then_recorded(site: TestSite, tmp_path: Path) -> None:
    config = fault_config(site, ["/fault/timeout"], "  timeout: 0.3\n")
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        result = run(config, archive)
    assert site.stats().count("/fault/timeout") == 3
    assert result.stats.failed == 1
    reason, attempts, status = failures(db)["/fault/timeout"]
    assert "timed out" in reason and attempts == 3 and status is None


def test_caps_redirect_loop_and_non_html_are_recorded(site: TestSite, tmp_path: Path) -> None:
    config = fault_config(site, ["/fault/huge/50000000", "/fault/huge/50000001?chunked=1",
                                 "/fault/redirect-loop/3", "/fault/non-html",
                                 "/fault/gzip-bomb", "/related/NATO"],
                          "  max_body_bytes: 2MB\n  max_decompressed_bytes: 4MB\n")
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        result = run(config, archive)
    assert result.status == "completed"
    assert result.stats.fetched == 1  # /related/NATO: the crawl went on
    failed = failures(db)
    assert "Content-Length 50,000,000 is over the cap" in failed["/fault/huge/50000000"][0]
    # Without a Content-Length the download is stopped at the cap.
    assert "download stopped" in failed["/fault/huge/50000001"][0]
    assert "redirect loop" in failed["/fault/redirect-loop/3"][0]
    assert "decompressed body is over the cap" in failed["/fault/gzip-bomb"][0]
    with sqlite3.connect(db) as conn:
        skips = {unquote(urlsplit(u).path): r for u, r in
                 conn.execute("SELECT url, reason FROM skips").fetchall()}
    assert skips["/fault/non-html"] == "content type 'application/pdf' is not archived"
    # The huge body was not downloaded past the cap.
    huge = [r for r in site.stats().log if r.path.startswith("/fault/huge/")]
    # (the kernel buffers a few MB on loopback; far from the 50 MB offered)
    assert len(huge) == 2 and all(r.bytes_sent < 20_000_000 for r in huge)


def test_second_crawl_sends_validators_and_gets_304(site: TestSite, tmp_path: Path) -> None:
    config = make_config(site, """\
        follow: [related]
        scope: {{include: ["^/related/"]}}
        max_depth: 1
        recrawl_after: 0s
        politeness: {{concurrency: 4, delay: 0}}
        """)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        first = run(config, archive)
        site.reset_stats()
        second = run(config, archive)
    assert first.stats.fetched > 3
    assert second.stats.not_modified == first.stats.fetched
    assert second.stats.fetched == 0 and second.stats.new_versions == 0
    pages = [r for r in site.stats().log if r.path.startswith("/related/")]
    assert pages and all(r.status == 304 and r.if_none_match for r in pages)
    assert all(r.bytes_sent < 1000 for r in pages)  # no bodies


def test_edit_makes_one_new_version_on_recrawl(site: TestSite, tmp_path: Path) -> None:
    config = make_config(site, """\
        follow: [related]
        scope: {{include: ["^/related/"]}}
        max_depth: 0
        recrawl_after: 0s
        politeness: {{concurrency: 2, delay: 0}}
        """)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run(config, archive)
        site.edit("NATO", summary="NATO is an alliance, says a sentence edited by the test.")
        again = run(config, archive)
        history = archive.history(site.url("/related/NATO"))
    # Every page of the NATO listing shows NATO's own entry first: each changed once.
    assert again.stats.new_versions == site.model.listing_pages("NATO")
    assert again.stats.fetched == again.stats.new_versions
    assert [s.version for s in history] == [1, 2]
    assert "summary" in history[1].change_gist


CRAWLER = textwrap.dedent("""\
    import sys
    from scraper.cli import main
    sys.exit(main())
""")


def test_sigkill_mid_crawl_then_rerun_completes(tmp_path: Path) -> None:
    with TestSite(pages=40, latency_ms=30) as site:
        config = tmp_path / "c.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: killed
            start_urls: ["{site.url('/related/NATO')}"]
            follow: [related, more_info]
            scope: {{include: ["^/related/", "^/info/"]}}
            max_depth: 50
            politeness: {{concurrency: 4, delay: 0}}
            network: {{allow_loopback: true}}
            """))
        db = tmp_path / "a.db"
        cmd = [sys.executable, "-m", "scraper", "crawl", str(config), "--archive", str(db), "-q"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and site.stats().count("/robots.txt") == 0:
            time.sleep(0.05)
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        fetched_before = {r.target for r in site.stats().log if r.status == 200}
        rerun = subprocess.run(cmd + ["--format", "json"], capture_output=True, text=True,
                               timeout=120, check=False)
        assert rerun.returncode == 0, rerun.stderr
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            dupes = conn.execute(
                "SELECT page_id, count(*) FROM snapshots GROUP BY page_id HAVING count(*) > 1"
            ).fetchall()
            pages = conn.execute("SELECT count(*) FROM pages").fetchone()[0]
            pending = conn.execute(
                "SELECT count(*) FROM frontier WHERE fetch_count = 0 AND gone = 0").fetchone()[0]
        assert dupes == []
        assert pending == 0
        expected = 2 * len(site.model.slugs) + sum(site.model.listing_pages(s) - 1
                                                   for s in site.model.slugs)
        assert pages == expected
        # What the killed run stored was not fetched again (no second 200 for it).
        second = [r.target for r in site.stats().log if r.status == 200]
        refetched = len(second) - len(set(second))
        assert refetched <= 4, (len(fetched_before), refetched)  # at most those in flight
