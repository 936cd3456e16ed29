"""The crawl's terminal output: log lines above a live progress bar, the bar's percentage and
ETA when the run is bounded, Ctrl-C (a summary, exit code 130, the run marked interrupted)
and JSON log lines with structured fields. Crawls run as real processes against the
built-in site on loopback."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pty_helpers import run_in_pty
from rich.console import Console

from scraper.cli import main
from scraper.cli.crawl_cmds import EXIT_INTERRUPTED, EXIT_TERMINATED, JsonLogFormatter
from scraper.cli.crawl_progress import BarState, ConsoleLogHandler, ProgressView, bar_state
from scraper.crawl.events import CrawlEvent, log_fields, record_fields
from scraper.crawl.parse_pool import ParsePool
from scraper.testsite import TestSite

SCRAPER = [sys.executable, "-m", "scraper"]
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING http://127\.0\.0\.1:\d+/info/\S+:"
                      r" failed after 1 attempt\(s\): HTTP 404 not found")
# ISO 8601 with milliseconds and the UTC offset, e.g. 2026-12-06T13:20:01.123+00:00
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


def write_config(path: Path, site: TestSite, *, depth: int = 2, concurrency: int = 2) -> Path:
    path.write_text(
        f"name: term\n"
        f"start_urls: [\"{site.url('/related/NATO')}\"]\n"
        "follow: [related, more_info]\n"
        "scope: {include: [\"^/related/\", \"^/info/\"]}\n"
        f"max_depth: {depth}\n"
        "recrawl_after: 1d\n"
        f"politeness: {{concurrency: {concurrency}, delay: 0}}\n"
        "network: {allow_loopback: true}\n")
    return path


def crawl_argv(config: Path, db: Path, *args: str) -> list[str]:
    return [*SCRAPER, "crawl", str(config), "--archive", str(db), *args]


def screen_lines(output: str) -> list[str]:
    """What the terminal was told, cut where it starts a line again (\\r, \\n), without
    escape sequences: a line written in the middle of another shows up glued to it."""
    return [CSI.sub("", part) for part in re.split(r"\r\n|\r|\n", output)]


def runs(db: Path) -> list[tuple[int, str, int, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status, fetched, new_versions FROM runs ORDER BY id"
                            ).fetchall()


# -- log lines and the live bar --------------------------------------------------------------


def test_log_lines_never_break_the_progress_bar(site: TestSite, tmp_path: Path) -> None:
    site.latency_ms = 150  # the bar is live while the pages fail
    site.add_fault("status", "^/info/", status=(404,))
    config = write_config(tmp_path / "c.yaml", site)
    output, code = run_in_pty(crawl_argv(config, tmp_path / "a.db"))
    assert code == 0, output
    lines = screen_lines(output)
    warnings = [n for n, line in enumerate(lines) if "WARNING" in line]
    bars = [n for n, line in enumerate(lines) if re.search(r"\d+ pages queue \d+", line)]
    assert len(warnings) >= 3, output
    assert bars[0] < warnings[0] and warnings[-1] < bars[-1]  # written while the bar was up
    for n in warnings:  # each whole, on a line of its own: nothing of the bar before or after
        assert LOG_LINE.fullmatch(lines[n]), repr(lines[n])


def test_console_log_handler_writes_above_a_live_bar() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    view = ProgressView({"s": 100}, console=console)
    logger = logging.getLogger("scraper.test_terminal")
    handler = ConsoleLogHandler(console)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    long_url = "http://127.0.0.1/" + "x" * 150  # wider than the terminal: not cut, not wrapped
    try:
        with view:
            for n in range(3):
                view(CrawlEvent("new_version", "s", f"http://127.0.0.1/{n}", 200, 1))
                logger.warning("%s: failed", long_url)
    finally:
        logger.removeHandler(handler)
    lines = screen_lines(out.getvalue())
    logged = [line for line in lines if "WARNING" in line]
    assert logged == [f"WARNING {long_url}: failed"] * 3
    assert any("3 pages" in line for line in lines)


# -- the bar's bound: percentage and ETA --------------------------------------------------


def test_bar_state_without_a_bound_counts() -> None:
    assert bar_state(7, None, None, None, 2.0) == BarState(7, None, None)


def test_bar_state_max_pages_is_the_total() -> None:
    assert bar_state(10, None, 40, None, 5.0) == BarState(10, 40, 15.0)  # 2 pages/s


def test_bar_state_known_queue_is_the_total() -> None:
    assert bar_state(10, 30, None, None, 5.0) == BarState(10, 40, 15.0)
    # max_pages or the end of the queue, whichever comes first
    assert bar_state(10, 30, 25, None, 5.0) == BarState(10, 25, 7.5)
    assert bar_state(10, 5, 25, None, 5.0) == BarState(10, 15, 2.5)


def test_bar_state_max_time_is_the_total_when_it_ends_the_run_first() -> None:
    assert bar_state(10, None, None, 60.0, 15.0) == BarState(15.0, 60.0, 45.0)
    # 1,000 pages at 2/s would take 495 s more: --max-time ends the run in 45 s
    assert bar_state(10, 1000, None, 60.0, 5.0) == BarState(5.0, 60.0, 55.0)
    # 20 pages more at 2/s: 10 s, before the 55 s left
    assert bar_state(10, 20, None, 60.0, 5.0) == BarState(10, 30, 10.0)
    # no rate yet: the pages are the bar, the time left bounds the wait
    assert bar_state(0, 20, None, 60.0, 0.5) == BarState(0, 20, 59.5)
    assert bar_state(20, None, None, 60.0, 90.0) == BarState(60.0, 60.0, 0.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rendered(view: ProgressView) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(view.progress.get_renderable())
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def test_view_max_pages_sets_the_total_percentage_and_eta() -> None:
    clock = FakeClock()
    view = ProgressView({"s": 20}, None, clock=clock)
    for n in range(5):
        clock.now += 1
        view(CrawlEvent("new_version", "s", f"http://x/{n}", 200, 1, queued=2))
    [task] = view.progress.tasks
    assert (task.total, task.completed) == (20, 5)
    assert task.fields["eta"] == pytest.approx(15.0)  # 15 pages at 1/s
    shown = rendered(view)
    assert " 25%" in shown and "5 pages" in shown and "ETA 0:00:15" in shown
    view(CrawlEvent("run_end", "s", detail="max_pages"))
    assert view.progress.tasks[0].finished and "100%" in rendered(view)


def test_view_known_queue_sets_the_total() -> None:
    clock = FakeClock()
    view = ProgressView({"s": None}, None, clock=clock)
    clock.now += 2
    view(CrawlEvent("new_version", "s", "http://x/1", 200, 1, queued=1, pending=3))
    [task] = view.progress.tasks
    assert (task.total, task.completed) == (4, 1)
    assert "queue 3" in rendered(view) and " 25%" in rendered(view)


def test_view_max_time_moves_with_the_clock() -> None:
    clock = FakeClock()
    view = ProgressView({"s": None}, 100.0, clock=clock)
    view(CrawlEvent("new_version", "s", "http://x/1", 200, 1))
    clock.now += 30
    shown = rendered(view)  # no event since: the redraw brings the bar up to now
    [task] = view.progress.tasks
    assert (task.total, task.completed) == (100.0, 30.0)
    assert " 30%" in shown and "ETA 0:01:10" in shown and "1 pages" in shown


def test_view_without_a_bound_shows_counts_only() -> None:
    clock = FakeClock()
    view = ProgressView({"s": None}, None, clock=clock)
    clock.now += 1
    view(CrawlEvent("failed", "s", "http://x/1", 500, queued=4))
    [task] = view.progress.tasks
    assert task.total is None
    shown = rendered(view)
    assert "%" not in shown and "ETA" not in shown
    assert "1 pages" in shown and "queue 4" in shown and "errors 1" in shown


def test_view_of_an_interrupted_run_is_not_filled_up() -> None:
    clock = FakeClock()
    view = ProgressView({"s": 10}, None, clock=clock)
    clock.now += 1
    view(CrawlEvent("new_version", "s", "http://x/1", 200, 1))
    view(CrawlEvent("run_end", "s", detail="interrupted"))
    shown = rendered(view)
    assert " 10%" in shown and "ETA" not in shown


def test_bar_shows_percent_and_eta_of_max_pages(site: TestSite, tmp_path: Path) -> None:
    site.latency_ms = 100
    config = write_config(tmp_path / "c.yaml", site, depth=3, concurrency=1)
    output, code = run_in_pty(crawl_argv(config, tmp_path / "a.db", "--max-pages", "8"))
    assert code == 0, output
    bars = [line for line in screen_lines(output) if re.search(r"\d+ pages queue", line)]
    assert any(re.search(r"\s\d{1,2}% \d pages .*ETA \d:\d\d:\d\d", bar) for bar in bars)
    assert re.search(r"100% 8 pages", bars[-1])
    assert "term: max_pages" in output


# -- Ctrl-C ----------------------------------------------------------------------------------


def start_crawl(config: Path, db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(crawl_argv(config, db, *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_pages(db: Path, count: int, timeout: float = 60) -> None:
    """Until the crawl has stored `count` pages (read from its archive, as it writes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    if conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] >= count:
                        return
            except sqlite3.OperationalError:
                pass  # the crawl is creating its tables
        time.sleep(0.05)
    raise AssertionError(f"the crawl did not store {count} pages in {timeout} s")


@pytest.mark.parametrize(("signum", "name", "code"), [
    (signal.SIGINT, "Ctrl-C", EXIT_INTERRUPTED),
    # systemd's stop and `kill`: a service's crawl ends as cleanly as one at a terminal.
    (signal.SIGTERM, "SIGTERM", EXIT_TERMINATED),
], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_ends_the_run_cleanly(site: TestSite, tmp_path: Path, signum: int, name: str,
                                     code: int) -> None:
    site.latency_ms = 300  # pages in progress when Ctrl-C comes
    config = write_config(tmp_path / "c.yaml", site, depth=3)
    db = tmp_path / "a.db"
    proc = start_crawl(config, db)
    wait_for_pages(db, 3)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    [(run_id, status, fetched, new_versions)] = runs(db)
    assert status == "interrupted" and fetched >= 3
    assert out.startswith("term: interrupted in ") and f"(run {run_id})" in out
    assert f"fetched {fetched} (new versions {new_versions}," in out
    assert f"interrupted by {name}: what was fetched is stored" in out
    queued = re.search(r"queued for the next run: (\d+)", out)
    assert queued and int(queued.group(1)) > 0
    assert f"interrupted ({name}): ending the run" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:  # the counts say what the archive holds
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] == new_versions
    # The next run takes up the rest; nothing was left for it to mark killed.
    site.latency_ms = 0
    rest = subprocess.run(crawl_argv(config, db, "--format", "json"), capture_output=True,
                          text=True, timeout=120, check=False)
    assert rest.returncode == 0, rest.stderr
    assert json.loads(rest.stdout)[0]["fetched"] > 0
    assert [status for _, status, _, _ in runs(db)] == ["interrupted", "completed"]


def test_second_ctrl_c_exits_at_once_and_the_archive_stays_whole(site: TestSite,
                                                                  tmp_path: Path) -> None:
    site.latency_ms = 300
    config = write_config(tmp_path / "c.yaml", site, depth=3)
    db = tmp_path / "a.db"
    proc = start_crawl(config, db)
    wait_for_pages(db, 3)
    # Hold the archive's write lock: the run cannot finish its row after the first Ctrl-C.
    blocker = sqlite3.connect(db, timeout=30, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
        assert proc.poll() is None  # still trying to finish the run
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 5
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert proc.returncode == EXIT_INTERRUPTED
    assert "interrupted again (Ctrl-C): exiting now" in err and "Traceback" not in err
    assert out == ""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [status for _, status, _, _ in runs(db)] == ["running"]
    site.latency_ms = 0
    rest = subprocess.run(crawl_argv(config, db), capture_output=True, text=True,
                          timeout=120, check=False)
    assert rest.returncode == 0, rest.stderr
    assert [status for _, status, _, _ in runs(db)] == ["killed", "completed"]


def test_ctrl_c_on_the_terminal_reaches_parse_workers_quietly(tmp_path: Path) -> None:
    # Ctrl-C goes to the terminal's whole process group: the parse worker processes (from
    # the 100th page on, on 2+ cores) get it too, and must leave it to the crawl.
    with TestSite(pages=400, latency_ms=40) as big:
        config = write_config(tmp_path / "c.yaml", big, depth=5, concurrency=4)
        sent = False

        def ctrl_c_after_130_pages(pid: int) -> None:
            nonlocal sent
            if not sent and big.stats().requests > 130:
                os.killpg(pid, signal.SIGINT)  # as the terminal does on Ctrl-C
                sent = True

        output, code = run_in_pty(crawl_argv(config, tmp_path / "a.db"),
                                  tick=ctrl_c_after_130_pages)
    assert sent and code == EXIT_INTERRUPTED, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "term: interrupted in " in output


def test_parse_worker_processes_ignore_sigint() -> None:
    pool = ParsePool(processes=2, processes_after=-1)  # the processes start at once
    try:
        deadline = time.monotonic() + 60
        while not pool._processes_ready():  # starts them, then waits until they answer
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert pool._pool is not None
        answers = [pool._pool.submit(signal.getsignal, signal.SIGINT) for _ in range(8)]
        assert {answer.result(timeout=60) for answer in answers} == {signal.SIG_IGN}
    finally:
        pool.close()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # ours is back


def test_crawl_command_runs_outside_the_main_thread(site: TestSite, tmp_path: Path) -> None:
    # Only the main thread may handle signals: elsewhere Ctrl-C is left as it is.
    config = write_config(tmp_path / "c.yaml", site, depth=0)
    results: list[Result] = []
    logger = logging.getLogger("scraper")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        thread = threading.Thread(target=lambda: results.append(CliRunner().invoke(
            main, ["crawl", str(config), "--archive", str(tmp_path / "a.db"), "-q"])))
        thread.start()
        thread.join(60)
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    [result] = results
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("term: completed")


# -- JSON log lines ----------------------------------------------------------------------


def test_json_log_lines_carry_structured_fields(site: TestSite, tmp_path: Path) -> None:
    site.add_fault("status", "^/info/Warsaw", status=(404,))
    config = write_config(tmp_path / "c.yaml", site, depth=1)
    db = tmp_path / "a.db"
    result = subprocess.run(crawl_argv(config, db, "--log-format", "json", "--format", "json"),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    [summary] = json.loads(result.stdout)
    run_id = summary["run_id"]
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line
    assert lines
    for line in lines:
        assert {"time", "level", "message"} <= set(line), line
        assert ISO_TIME.fullmatch(line["time"]), line["time"]
        assert datetime.fromisoformat(line["time"]).utcoffset() is not None
    by_event: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_event.setdefault(str(line.get("event")), []).append(line)
    versions = by_event["new_version"]
    assert len(versions) == summary["new_versions"] > 0
    for line in versions:
        assert line["run"] == run_id and line["status"] == 200 and line["version"] == 1
        assert str(line["url"]).startswith(site.base_url) and line["level"] == "info"
    [failed] = by_event["failed"]
    assert failed["status"] == 404 and failed["run"] == run_id and failed["level"] == "warning"
    assert str(failed["url"]).endswith("/info/Warsaw_Pact")
    [start] = by_event["run_start"]
    [end] = by_event["run_end"]
    assert start["run"] == end["run"] == run_id
    assert end["outcome"] == "completed" and end["fetched"] == summary["fetched"]


def test_json_formatter_reads_the_run_and_the_record_fields() -> None:
    formatter = JsonLogFormatter()
    record = logging.LogRecord("scraper.crawl", logging.INFO, __file__, 1, "%s: version %d",
                               ("http://x/a", 3), None)
    record.__dict__.update(record_fields("new_version", "http://x/a", status=200, version=3))
    token = log_fields.set({"run": 7, "site": "s"})
    try:
        data = json.loads(formatter.format(record))
    finally:
        log_fields.reset(token)
    assert ISO_TIME.fullmatch(data.pop("time"))
    assert data == {"level": "info", "logger": "scraper.crawl", "message": "http://x/a: version 3",
                    "run": 7, "site": "s", "event": "new_version", "url": "http://x/a",
                    "status": 200, "version": 3}
