"""`scraper crawl --quiet-unless changes|failures` as cron runs it (a real process, its whole
standard output and error), alone and with -q and --format json; and the log holding behind it."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scraper.cli.app import EXIT_ALL_FAILED
from scraper.cli.quiet_unless import HeldLogHandler
from scraper.testsite import TestSite

SCRAPER = [sys.executable, "-m", "scraper"]


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


def write_config(path: Path, start_urls: list[str]) -> Path:
    urls = ", ".join(f'"{u}"' for u in start_urls)
    path.write_text(
        "name: cron\n"
        f"start_urls: [{urls}]\n"
        "follow: [related, more_info]\n"
        "scope: {include: [\"^/related/NATO$\", \"^/info/NATO$\", \"^/info/Warsaw_Pact$\", "
        "\"^/fault/\"]}\n"
        "max_depth: 1\n"
        "recrawl_after: 0s\n"
        "politeness: {concurrency: 4, delay: 0, robots_txt: false}\n"
        "network: {allow_loopback: true, attempts: 2, backoff_base: 0.05, backoff_max: 0.1}\n")
    return path


def crawl(config: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCRAPER, "crawl", str(config), "--archive", str(db), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def assert_silent(done: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert (done.returncode, done.stdout, done.stderr) == (code, "", "")


def test_quiet_unless_changes(site: TestSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", [site.url("/related/NATO")])
    db = tmp_path / "a.db"
    first = crawl(config, db, "--quiet-unless", "changes")  # new pages are new versions
    assert first.returncode == 0
    assert "new versions 3" in first.stdout and "archive:" in first.stdout
    assert "INFO" in first.stderr and site.url("/info/NATO") in first.stderr  # held, then out

    assert_silent(crawl(config, db, "--quiet-unless", "changes"))  # unchanged recrawl
    assert_silent(crawl(config, db, "--quiet-unless", "changes", "-q", "--format", "json"))
    assert_silent(crawl(config, db, "--quiet-unless", "changes", "-v"))
    # Without the flag the same unchanged recrawl prints its summary, as before.
    plain = crawl(config, db, "-q")
    assert plain.returncode == 0 and "new versions 0" in plain.stdout

    site.edit("NATO", summary="NATO is an alliance, edited for the cron flags test.")
    edited = crawl(config, db, "--quiet-unless", "changes", "-q", "--format", "json")
    assert edited.returncode == 0 and edited.stderr == ""  # -q: no INFO lines, even held
    summary = json.loads(edited.stdout)
    assert summary[0]["new_versions"] >= 1 and summary[0]["failed"] == 0

    assert_silent(crawl(config, db, "--quiet-unless", "changes"))
    site.edit("NATO", append_sentence="Another edit, shown in text.")
    text = crawl(config, db, "--quiet-unless", "changes")
    assert text.returncode == 0 and "cron: completed" in text.stdout
    assert "new versions 0" not in text.stdout and "INFO" in text.stderr


def test_quiet_unless_failures(site: TestSite, tmp_path: Path) -> None:
    clean = write_config(tmp_path / "clean.yaml", [site.url("/related/NATO")])
    db = tmp_path / "clean.db"
    # New versions are not failures: a first crawl that fetched everything says nothing.
    assert_silent(crawl(clean, db, "--quiet-unless", "failures"))

    broken = site.url("/fault/status/500/broken")
    faulty = write_config(tmp_path / "faulty.yaml", [site.url("/related/NATO"), broken])
    db2 = tmp_path / "faulty.db"
    failed = crawl(faulty, db2, "--quiet-unless", "failures", "-q")
    assert failed.returncode == 0  # failed URLs do not fail a run: the code is unchanged
    assert "failed 1" in failed.stdout and "failed URLs are retried" in failed.stdout
    assert broken in failed.stderr  # the held warning about it, written out
    # The next run: the failed URL waits for its retry, the rest is unchanged: silence.
    assert_silent(crawl(faulty, db2, "--quiet-unless", "failures", "-q"))
    assert_silent(crawl(faulty, db2, "--quiet-unless", "changes"))


def test_a_run_with_a_non_zero_exit_code_always_prints(site: TestSite, tmp_path: Path) -> None:
    down = write_config(tmp_path / "down.yaml", [site.url("/fault/status/503/down")])
    done = crawl(down, tmp_path / "a.db", "--quiet-unless", "changes", "-q")
    assert done.returncode == EXIT_ALL_FAILED
    assert "failed 1" in done.stdout


def test_quiet_unless_is_checked_like_any_option(tmp_path: Path) -> None:
    done = crawl(tmp_path / "c.yaml", tmp_path / "a.db", "--quiet-unless", "sometimes")
    assert done.returncode == 2 and "'sometimes' is not one of 'changes', 'failures'" in done.stderr


# -- the handler that holds the log lines --------------------------------------------------

def make_logger(name: str, max_held: int = 3) -> tuple[logging.Logger, HeldLogHandler, io.StringIO]:
    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    held = HeldLogHandler(target, max_held=max_held)
    logger = logging.getLogger(name)
    logger.handlers[:] = [held]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, held, out


def test_held_lines_are_written_in_order_or_dropped() -> None:
    logger, held, out = make_logger("test_cron_flags.order")
    logger.info("one")
    logger.warning("two")
    held.flush()  # what logging.shutdown does at exit: writes nothing held
    assert out.getvalue() == ""
    logger.error("an error is never held")
    assert out.getvalue() == "ERROR an error is never held\n"
    held.write_held()
    assert out.getvalue().splitlines()[1:] == ["INFO one", "WARNING two"]
    logger.info("three")
    held.discard()
    held.write_held()
    assert "three" not in out.getvalue()


def test_held_lines_are_capped_and_counted() -> None:
    logger, held, out = make_logger("test_cron_flags.cap", max_held=3)
    for number in range(10):
        logger.info("line %d", number)
    held.write_held()
    assert out.getvalue().splitlines() == [
        "INFO line 0", "INFO line 1", "INFO line 2",
        "WARNING 7 more log lines of this run were not kept (--quiet-unless keeps 3)"]
