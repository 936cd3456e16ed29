"""`scraper archive copy` and scraper.archive.copy on a real PostgreSQL server: archives made
by real crawls of the built-in site round-trip SQLite -> PostgreSQL -> SQLite unchanged, an
interrupted copy continues, another archive in the destination is refused, and passwords
stay out of the output."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from scraper.archive import Archive
from scraper.archive.copy import BatchCopied, copy_archive
from scraper.archive.copy_sides import TABLES
from scraper.cli import main
from scraper.errors import ArchiveError
from scraper.testsite import TestSite

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2020, 1, 1, tzinfo=UTC)


class Interrupt(Exception):
    pass


def _config(tmp_path: Path, site: TestSite, name: str = "wiki", pages: int = 100) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(textwrap.dedent(f"""\
        name: {name}
        start_urls: ["{site.url('/')}", "{site.url('/info/' + site.model.slugs[0])}"]
        recrawl_after: 0s
        max_pages: {pages}
        full_copy_every: 2
        follow: [related, see_also, internal]
        network: {{allow_loopback: true}}
        politeness: {{delay: 0}}
        """))
    return config


def _crawl(config: Path, archive: str) -> None:
    result = CliRunner().invoke(main, ["crawl", str(config), "--archive", archive])
    assert result.exit_code == 0, result.output


def _crawled(tmp_path: Path, site: TestSite, archive: str) -> Path:
    """Three crawls with edits between them: several versions, delta chains with keyframes."""
    config = _config(tmp_path, site)
    _crawl(config, archive)
    for round_ in range(2):
        site.edit(site.model.slugs[0], summary=f"Edited before crawl {round_ + 2}.")
        site.edit(site.model.slugs[1], summary=f"Also edited, round {round_ + 2}.")
        _crawl(config, archive)
    return config


def _read(site: TestSite, archive: str) -> dict[str, str]:
    runner = CliRunner()
    url = site.url("/info/" + site.model.slugs[0])
    results = {
        "history": runner.invoke(main, ["history", url, "--archive", archive]),
        "diff": runner.invoke(main, ["diff", url, "--from", "1", "--archive", archive]),
        "export": runner.invoke(main, ["export", "--archive", archive, "--format", "jsonl",
                                       "--all-versions", "-o", "-"]),
        "stats": runner.invoke(main, ["stats", "--archive", archive, "--format", "json"]),
    }
    for result in results.values():
        assert result.exit_code == 0, result.output
    read = {name: result.output for name, result in results.items()}
    # stats names the archive and its size on disk, which differ between the copies.
    read["stats"] = re.sub(r'"(archive|path|size|file_size|db_size|archive_bytes|'
                            r'schema_version)"[^\n]*', "", read["stats"])
    return read


def _watching(archive: str) -> None:
    """A notification target registered before the crawls: their changes all wait for it."""
    with Archive.open(archive, create=True) as opened:
        opened.register_notify_target("wiki", "webhook:abc", "https://hooks.example/x", T0)


def _watched(archive: str) -> None:
    """A watcher's state as sends leave it: two changes sent, one failed and waiting for its
    retry, the others waiting."""
    with Archive.open(archive, create=False) as opened:
        due = opened.due_changes("wiki", "webhook:abc", T0)
        assert len(due) >= 3
        opened.record_deliveries("webhook:abc", [due[0].id, due[1].id], status="sent", now=T0)
        opened.record_deliveries("webhook:abc", [due[2].id], status="failed", now=T0,
                                 error="HTTP 502", next_attempt=T0 + timedelta(hours=1))


def _watch_state(archive: str) -> tuple[Any, ...]:
    with Archive.open(archive, create=False) as opened:
        later = T0 + timedelta(days=1)
        return (opened.notify_backlog(),
                [(c.id, c.url, c.event, c.version) for c in
                 opened.due_changes("wiki", "webhook:abc", later)])


def _copy(src: str, dst: str, *extra: str) -> Any:
    return CliRunner().invoke(main, ["archive", "copy", src, dst, *extra])


def test_round_trip_sqlite_postgresql_sqlite_reads_identically(tmp_path: Path,
                                                               postgres_url: str) -> None:
    first, back = str(tmp_path / "a.db"), str(tmp_path / "back.db")
    with TestSite(pages=10) as site:
        _watching(first)
        config = _crawled(tmp_path, site, first)
        _watched(first)
        there = _copy(first, postgres_url, "--batch-rows", "7")
        assert there.exit_code == 0, there.output
        home = _copy(postgres_url, back)
        assert home.exit_code == 0, home.output
        original, on_postgres, returned = (_read(site, a) for a in (first, postgres_url, back))
        assert original["export"].count("\n") >= 15
        assert "\n2 " in original["history"] or original["history"].count("\n") >= 3
        assert on_postgres == original
        assert returned == original
        # What was sent stays sent, what waits still waits, with its retry and error.
        watched = _watch_state(first)
        assert watched[0][0].sent == 2 and watched[0][0].last_error == "HTTP 502"
        assert _watch_state(postgres_url) == watched
        assert _watch_state(back) == watched
        with sqlite3.connect(first) as conn:
            deltas = conn.execute("SELECT count(*) FROM blobs WHERE base IS NOT NULL").fetchone()
        assert deltas[0] >= 2
        # The copied pages are searchable: SQLite's FTS index and PostgreSQL's search column
        # are made from the copied rows.
        found = []
        for archive in (first, postgres_url, back):
            with Archive.open(archive, create=False) as opened:
                found.append(sorted(hit["url"] for hit in opened.search("edited", limit=100)))
        assert found[0] and found[1] == found[0] and found[2] == found[0]
        # The figures: every table, rows, bytes, seconds, and the verification.
        assert re.search(r"11 tables, \d+ rows, [\d.]+ [KM]?B in [\d.]+ s", there.output)
        assert "verified" in there.output and "site wiki:" in there.output

        # Both copies take further crawls: ids continue past the copied ones (PostgreSQL's
        # identity sequences, SQLite's links sequence) and search finds the new text.
        site.edit(site.model.slugs[0], summary="Edited after the copy, Quixotic.")
        for archive in (postgres_url, back):
            _crawl(config, archive)
            found = CliRunner().invoke(main, ["history", site.url(
                "/info/" + site.model.slugs[0]), "--archive", archive])
            assert found.output.count("\n") > original["history"].count("\n")
            with Archive.open(archive, create=False) as opened:
                assert site.url("/info/" + site.model.slugs[0]) in {
                    hit["url"] for hit in opened.search("Quixotic")}


@pytest.mark.parametrize("stop_in", ["pages", "notify_deliveries"])
def test_an_interrupted_copy_continues_without_doubling_rows(tmp_path: Path, postgres_url: str,
                                                             stop_in: str) -> None:
    """Stopped after a batch of a table keyed by one column, and of one keyed by two (a
    delivery: change, target): run again, it copies the rest and verifies."""
    source = str(tmp_path / "a.db")
    _watching(source)
    with TestSite(pages=12) as site:
        _crawled(tmp_path, site, source)
    _watched(source)
    with Archive.open(source, create=False) as opened:  # more deliveries: several batches
        due = opened.due_changes("wiki", "webhook:abc", T0 + timedelta(days=1))
        opened.record_deliveries("webhook:abc", [c.id for c in due[1:6]], status="skipped",
                                 now=T0)
    seen: list[BatchCopied] = []

    def stop(batch: BatchCopied) -> None:
        seen.append(batch)
        if batch.table == stop_in and batch.rows_copied >= 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        copy_archive(source, postgres_url, batch_rows=3, on_batch=stop)
    copied_first = sum(b.rows for b in seen)
    with psycopg.connect(postgres_url) as conn:
        rows = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                   for t in TABLES)
    assert rows == copied_first

    report = copy_archive(source, postgres_url, batch_rows=3)
    with sqlite3.connect(source) as conn:
        total = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
        deliveries = conn.execute("SELECT count(*) FROM notify_deliveries").fetchone()[0]
    assert deliveries > 3
    assert report.rows_copied + copied_first == total
    assert sum(t.rows_total for t in report.tables) == total
    assert _watch_state(postgres_url) == _watch_state(source)
    # Run once more: nothing left to copy, and it still verifies.
    again = copy_archive(source, postgres_url)
    assert again.rows_copied == 0 and again.figures == report.figures


def test_a_copy_stopped_by_ctrl_c_is_resumed_by_running_it_again(tmp_path: Path,
                                                                 postgres_url: str) -> None:
    source = str(tmp_path / "a.db")
    with TestSite(pages=20) as site:
        _crawled(tmp_path, site, source)
    command = [sys.executable, "-m", "scraper", "archive", "copy", source, postgres_url,
               "--batch-rows", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with psycopg.connect(postgres_url) as conn:
                exists = conn.execute("SELECT to_regclass('snapshots')").fetchone()
                done = (conn.execute("SELECT count(*) FROM snapshots").fetchone()
                        if exists and exists[0] else None)
            if done and done[0] >= 3:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, (out, err)
    assert "run the same command again" in err and "Traceback" not in err
    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert "verified" in resumed.stdout


def test_a_destination_holding_another_archive_is_refused(tmp_path: Path,
                                                          postgres_url: str) -> None:
    ours, theirs = str(tmp_path / "a.db"), str(tmp_path / "other.db")
    with TestSite(pages=8) as site:
        _crawl(_config(tmp_path, site, pages=5), ours)
    with TestSite(pages=8, seed=7) as other:
        _crawl(_config(tmp_path, other, name="other", pages=3), theirs)
    refused = _copy(ours, theirs)
    assert refused.exit_code == 1
    assert "other.db: holds a different archive" in refused.output
    assert "copy into an empty archive" in refused.output
    # An archive created but empty is fine.
    Archive.open(postgres_url).close()
    assert _copy(ours, postgres_url).exit_code == 0
    assert "is the source archive itself" in _copy(ours, ours).output


def test_a_copy_that_does_not_verify_says_what_differs(tmp_path: Path,
                                                       postgres_url: str) -> None:
    source = str(tmp_path / "a.db")
    with TestSite(pages=8) as site:
        _crawl(_config(tmp_path, site, pages=5), source)
    copy_archive(source, postgres_url)
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE snapshots SET content_hash = 'x' WHERE id = (SELECT min(id)"
                     " FROM snapshots)")
    with pytest.raises(ArchiveError, match="does not verify: the versions' content hashes"):
        copy_archive(source, postgres_url)
    result = _copy(source, postgres_url)
    assert result.exit_code == 1 and "content hashes differ" in result.output


def test_passwords_are_never_printed(tmp_path: Path, postgres_url: str) -> None:
    # Trust authentication on the test server: the password is carried, never asked for.
    with_password = re.sub(r"^postgresql://([^@/:]+)@", r"postgresql://\1:s3cret-pw@",
                           postgres_url)
    assert "s3cret-pw" in with_password
    source = str(tmp_path / "a.db")
    with TestSite(pages=6) as site:
        _crawl(_config(tmp_path, site, pages=4), source)
    copied = _copy(source, with_password)
    assert copied.exit_code == 0, copied.output
    tampered = sqlite3.connect(source)
    tampered.execute("UPDATE runs SET status = 'x' WHERE id = (SELECT max(id) FROM runs)")
    tampered.commit()
    tampered.close()
    refused = _copy(source, with_password)
    assert refused.exit_code == 1
    for result in (copied, refused):
        assert "s3cret-pw" not in result.output
        assert ":***@" in result.output
