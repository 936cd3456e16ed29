"""Scheduled crawls in practice: the archive lock, --max-time, recrawl policy, several configs,
output that fits where it runs (progress bar on a terminal, JSON log lines), and the demo."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_helpers import run_in_pty

from scraper.cli.app import EXIT_LOCKED
from scraper.testsite import TestSite

SCRAPER = [sys.executable, "-m", "scraper"]


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


def write_config(path: Path, site: TestSite, *, name: str = "cron", extra: str = "",
                 recrawl: str = "1d", depth: int = 2) -> Path:
    path.write_text(
        f"name: {name}\n"
        f"start_urls: [\"{site.url('/related/NATO')}\"]\n"
        "follow: [related, more_info]\n"
        "scope: {include: [\"^/related/\", \"^/info/\"]}\n"
        f"max_depth: {depth}\n"
        f"recrawl_after: {recrawl}\n"
        "politeness: {concurrency: 4, delay: 0}\n"
        "network: {allow_loopback: true}\n" + extra)
    return path


def crawl(config: Path, db: Path, *args: str, timeout: float = 120
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCRAPER, "crawl", str(config), "--archive", str(db), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_second_crawl_on_same_archive_exits_at_once(site: TestSite, tmp_path: Path) -> None:
    site.latency_ms = 500
    config = write_config(tmp_path / "c.yaml", site, depth=3)
    db = tmp_path / "a.db"
    first = subprocess.Popen([*SCRAPER, "crawl", str(config), "--archive", str(db), "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while site.stats().requests == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    second = crawl(config, db)
    assert time.monotonic() - started < 15  # at once, not after the first one ends
    assert second.returncode == EXIT_LOCKED
    assert "another crawl" in second.stderr and str(db) in second.stderr
    assert second.stdout == ""
    site.latency_ms = 0
    first.communicate(timeout=120)
    assert first.returncode == 0
    with sqlite3.connect(db) as conn:  # the second run left no trace
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_lock_of_a_killed_crawl_does_not_block(site: TestSite, tmp_path: Path) -> None:
    site.latency_ms = 100
    config = write_config(tmp_path / "c.yaml", site)
    db = tmp_path / "a.db"
    proc = subprocess.Popen([*SCRAPER, "crawl", str(config), "--archive", str(db), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while site.stats().requests < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert Path(str(db) + ".lock").exists()  # left behind, yet no obstacle
    site.latency_ms = 0
    rerun = crawl(config, db, "--format", "json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)[0]["status"] == "completed"


def test_max_time_ends_cleanly_and_keeps_the_rest_queued(site: TestSite, tmp_path: Path) -> None:
    site.latency_ms = 300
    config = write_config(tmp_path / "c.yaml", site, depth=5)
    db = tmp_path / "a.db"
    started = time.monotonic()
    result = crawl(config, db, "--max-time", "2", "--format", "json")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)[0]
    assert summary["status"] == "max_time"
    assert 1.8 <= summary["elapsed_s"] < 4.0
    assert elapsed < 15  # start-up included; generous on a shared machine
    assert summary["queued"] > 0
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM pages").fetchone()[0]
        runs = conn.execute("SELECT status FROM runs").fetchall()
    assert stored == summary["fetched"] > 0
    assert runs == [("max_time",)]
    # The next run takes up the rest.
    site.latency_ms = 0
    rest = crawl(config, db, "--format", "json")
    assert json.loads(rest.stdout)[0]["status"] == "completed"
    assert json.loads(rest.stdout)[0]["fetched"] > 0


def test_recrawl_after(site: TestSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    daily = write_config(tmp_path / "d.yaml", site, recrawl="1d", depth=1)
    first = json.loads(crawl(daily, db, "--format", "json").stdout)[0]
    assert first["fetched"] > 0
    site.reset_stats()
    second = crawl(daily, db)
    assert "nothing was due" in second.stdout
    assert site.stats().count("/related/NATO") == 0

    often = write_config(tmp_path / "s.yaml", site, recrawl="1s", depth=1)
    db2 = tmp_path / "b.db"
    crawl(often, db2)
    time.sleep(1.1)
    again = json.loads(crawl(often, db2, "--format", "json").stdout)[0]
    assert again["not_modified"] == first["fetched"]


def test_gone_pages_are_marked_after_repeated_404(site: TestSite, tmp_path: Path) -> None:
    config = tmp_path / "g.yaml"
    config.write_text(
        f"name: gone\nstart_urls: [\"{site.url('/related/NATO')}\", "
        f"\"{site.url('/fault/status/404/x')}\"]\nfollow: []\nrecrawl_after: 0s\n"
        "gone_after: 2\npoliteness: {concurrency: 2, delay: 0}\n"
        "network: {allow_loopback: true}\n")
    db = tmp_path / "a.db"
    crawl(config, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE frontier SET next_due = '2000-01-01T00:00:00.000000+00:00'")
    crawl(config, db)
    with sqlite3.connect(db) as conn:
        gone = conn.execute("SELECT gone, next_due FROM frontier WHERE url LIKE '%fault%'"
                            ).fetchone()
        attempts = conn.execute("SELECT attempts FROM frontier WHERE url LIKE '%fault%'"
                                ).fetchone()[0]
    assert attempts == 2 and gone[0] == 1
    assert gone[1] > "2026"  # rechecked rarely: not due again soon


def test_several_configs_share_one_run(site: TestSite, tmp_path: Path) -> None:
    one = write_config(tmp_path / "one.yaml", site, name="one", depth=0)
    two = tmp_path / "two.yaml"
    two.write_text(
        f"name: two\nstart_urls: [\"{site.url('/info/NATO')}\"]\nfollow: []\n"
        "politeness: {concurrency: 1, delay: 0}\nnetwork: {allow_loopback: true}\n")
    db = tmp_path / "a.db"
    result = subprocess.run([*SCRAPER, "crawl", str(one), str(two), "--archive", str(db),
                             "--format", "json"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    sites = {r["site"]: r for r in json.loads(result.stdout)}
    assert set(sites) == {"one", "two"}
    assert sites["two"]["fetched"] == 1
    assert site.stats().count("/robots.txt") == 1  # one client, robots.txt once per host


def test_json_log_lines_parse(site: TestSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", site, depth=0)
    result = crawl(config, tmp_path / "a.db", "--log-format", "json", "-v")
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]
    assert events and all({"time", "level", "message"} <= set(e) for e in events)
    assert any(e.get("event") == "new_version" and e.get("url") for e in events)


def test_quiet_prints_only_the_summary(site: TestSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", site, depth=0)
    result = crawl(config, tmp_path / "a.db", "-q")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("cron: completed")


def test_progress_bar_only_on_a_terminal(site: TestSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", site, depth=1)
    on_tty, _ = run_in_pty([*SCRAPER, "crawl", str(config), "--archive", str(tmp_path / "a.db")],
                           columns=120)
    assert "pages" in on_tty and "queue" in on_tty and "errors" in on_tty
    assert "\x1b[" in on_tty  # the bar redraws with terminal escapes
    piped = crawl(config, tmp_path / "b.db")
    assert "\x1b[" not in piped.stdout and "queue " not in piped.stdout
    assert "INFO" in piped.stderr  # plain log lines instead


def test_demo_runs_from_a_clean_environment(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    result = subprocess.run([*SCRAPER, "demo", "--dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Crawled it:" in out and "Recrawled:" in out
    assert "version 2" in out and "summary edited" in out
    assert "This sentence was edited by the demo" in out
    export = tmp_path / "demo" / "pages.jsonl"
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert rows and {"url", "title", "summary", "version"} <= set(rows[0])
    assert (tmp_path / "demo" / "demo.db").exists()
    assert f"scraper serve --archive {tmp_path / 'demo' / 'demo.db'}" in out
