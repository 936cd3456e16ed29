"""Crash safety: a writer SIGKILLed at random moments leaves a consistent, readable archive."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scraper.archive import Archive
from scraper.models import content_hash

WRITER = Path(__file__).parent / "data" / "archive" / "crash_writer.py"


def start_writer(path: Path, seed: int, saves: int | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, str(WRITER), str(path), str(seed)]
    if saves is not None:
        args.append(str(saves))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_at_random(path: Path, seed: int, rng: random.Random) -> None:
    with start_writer(path, seed) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the first save is committed
        if line.strip() == "ready":
            time.sleep(rng.uniform(0.0, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
    assert line.strip() == "ready", err
    assert proc.returncode == -signal.SIGKILL


def check_consistent(path: Path) -> int:
    """Everything a reader relies on after a crash; returns the number of versions."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    versions = 0
    with Archive.open(str(path), create=False) as archive:
        pages = archive.conn.execute("SELECT url, current_version FROM pages").fetchall()
        assert pages
        for url, current in pages:
            history = archive.history(url)
            # Contiguous 1..current: no version half-written, none lost in the middle.
            assert [s.version for s in history] == list(range(1, current + 1))
            for snap in history:
                body = archive.body(url, snap.version)
                assert hashlib.sha256(body).hexdigest() == snap.body_hash
                assert len(body) == snap.body_size
                page = archive.page(url, snap.version)
                assert content_hash(page) == snap.content_hash
            versions += len(history)
            open_links = archive.conn.execute(
                "SELECT count(*) FROM links l JOIN pages p ON p.id = l.page_id WHERE p.url = ?"
                " AND (l.from_version > ? OR l.to_version >= ?)", (url, current, current)
            ).fetchone()[0]
            assert open_links == 0
        # Each page's latest links are exactly the latest version's links.
        for url, _ in pages:
            stored = {(r["target"], r["kind"], r["anchor"]) for r in archive.iter_links()
                      if r["source"] == url}
            page = archive.page(url)
            assert stored == {(ln.url, ln.kind, ln.title) for ln in page.links}
        fields_ok = archive.conn.execute(
            "SELECT count(*) FROM snapshots s JOIN pages p ON p.id = s.page_id"
            " WHERE s.version = p.current_version AND s.title != p.title").fetchone()[0]
        assert fields_ok == 0
        hits = archive.search("Page")
        assert len(hits) == len(pages)
    return versions


def run_trials(tmp_path: Path, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "crash.db"
    seen = 0
    for trial in range(trials):
        kill_at_random(path, seed * 1000 + trial, rng)
        versions = check_consistent(path)
        assert versions >= seen  # committed versions survive later crashes
        seen = versions
    # The rerun after the last crash completes and the archive is still consistent.
    with start_writer(path, seed * 1000 + trials, saves=20) as proc:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == ["ready", "done"]
    assert check_consistent(path) > seen
    with Archive.open(str(path), create=False) as archive:
        last = archive.last_run("crash")
        assert last is not None and last["status"] == "completed"
        assert last["config"]["seed"] == seed * 1000 + trials


def test_sigkill_during_writes_leaves_a_consistent_archive(tmp_path: Path) -> None:
    run_trials(tmp_path, trials=3, seed=1)


@pytest.mark.slow
def test_sigkill_during_writes_many_trials(tmp_path: Path) -> None:
    run_trials(tmp_path, trials=24, seed=2)
