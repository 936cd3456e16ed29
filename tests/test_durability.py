"""Durability: SIGKILLs at random points across crawls and exports of a site that is being
edited meanwhile. Afterwards integrity_check is ok, every version reads back and matches its
body hash, versions are contiguous and none repeats its predecessor, the frontier resumes
(a run finishes the work with nothing pending), every page of the site is stored, the last
edits are all captured, and an export is either complete or absent.
(tests/test_crawl.py kills one crawl once; tests/test_archive_crash.py kills raw writers.)"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hostile_helpers import config_yaml, key_of, query, scraper_cmd

from scraper.archive import Archive
from scraper.archive.blobs import sha256_hex
from scraper.testsite import TestSite
from scraper.urls import normalise_url

# recrawl_after 0s: every run fetches every page again, so each edit is taken in by the next
# run that gets that far (a page's due time is fixed when it is fetched: a run with a longer
# recrawl_after would hold pages back from the next).
EXTRA = 'scope: {include: ["^/related/", "^/info/"]}\nmax_depth: 50\nrecrawl_after: 0s\n'


@dataclass
class StormReport:
    kills: Counter[str] = field(default_factory=Counter)  # by command
    finished: Counter[str] = field(default_factory=Counter)  # ended before the kill came
    mid_fetch: int = 0  # crawls killed after the server had seen their requests
    edits: int = 0
    versions: int = 0
    pages: int = 0
    exports_left: int = 0  # complete export files found after the storm
    temp_left: int = 0  # hidden temporary files that killed exports left behind


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def check_archive(db: Path) -> tuple[int, int]:
    """integrity_check, every version readable and true to its hash, versions contiguous,
    no version repeating the content of the one before. Returns (pages, versions)."""
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    if query(db, "PRAGMA user_version") == [(0,)]:
        # Killed while the first run made the file: the schema comes whole or not at all.
        assert query(db, "SELECT name FROM sqlite_master") == []
        return 0, 0
    assert query(db, "PRAGMA foreign_key_check") == []
    rows = query(db, "SELECT p.url, p.current_version, s.version, s.content_hash"
                     " FROM snapshots s JOIN pages p ON p.id = s.page_id"
                     " ORDER BY p.url, s.version")
    by_page: dict[str, list[tuple[int, int, str]]] = {}
    for url, current, version, content in rows:
        by_page.setdefault(url, []).append((current, version, content))
    with Archive.open(str(db), readonly=True) as archive:
        for _, snap, _ in archive.iter_versions(all_versions=True):
            assert sha256_hex(archive.body(snap.url, snap.version)) == snap.body_hash, snap
    for url, versions in by_page.items():
        numbers = [v for _, v, _ in versions]
        assert numbers == list(range(1, len(numbers) + 1)), (url, numbers)
        assert versions[0][0] == numbers[-1], url  # pages.current_version is the newest
        hashes = [h for _, _, h in versions]
        assert all(a != b for a, b in itertools.pairwise(hashes)), url  # no duplicate version
    return len(by_page), len(rows)


def storm(tmp_path: Path, kills: int, seed: int, *, pages: int = 30) -> StormReport:
    """`kills` SIGKILLs, each at a random moment of a crawl or of an export, with random
    edits of the site between them."""
    rng = random.Random(seed)
    report = StormReport()
    db = tmp_path / "a.db"
    out = tmp_path / "exports"
    out.mkdir()
    with TestSite(pages=pages, latency_ms=15) as site:
        config = tmp_path / "c.yaml"
        config.write_text(config_yaml([site.url("/related/NATO")], name="storm",
                                      follow=["related", "more_info"], extra=EXTRA,
                                      network={"timeout": 10, "total_timeout": 30}))
        crawl = scraper_cmd("crawl", str(config), "--archive", str(db), "-q")
        last_edit: dict[str, str] = {}
        n = 0
        while sum(report.kills.values()) < kills:
            n += 1
            if rng.random() < 0.5:
                slug = rng.choice(site.model.slugs)
                sentence = f"Storm edit number {n}."
                site.edit(slug, prepend_sentence=sentence)
                last_edit[slug] = sentence
                report.edits += 1
            kind = rng.choices(["crawl", "export"], [2, 1])[0]
            if kind == "export" and not db.exists():
                kind = "crawl"
            if kind == "crawl":
                cmd = crawl
            else:
                fmt = rng.choice(["jsonl", "csv", "parquet"])
                cmd = scraper_cmd("export", "--all-versions", "--format", fmt, "-o",
                                  str(out / f"e{n}.{fmt}"), "--archive", str(db))
            seen = site.stats().requests
            proc = start(cmd)
            # Python needs ~0.2-0.5 s to start; a crawl of the site takes a few seconds, an
            # export of it a few tenths.
            time.sleep(rng.uniform(0.3, 3.0) if kind != "export" else rng.uniform(0.1, 0.4))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                report.kills[kind] += 1
                report.mid_fetch += kind == "crawl" and site.stats().requests > seen
            else:
                report.finished[kind] += 1
            _, err = proc.communicate(timeout=60)
            assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
            if db.exists():
                check_archive(db)
        # The frontier resumes: an uninterrupted run finishes what the killed ones left.
        done = subprocess.run([*crawl, "--format", "json"], capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)[0]["status"] == "completed"
        assert query(db, "SELECT count(*) FROM frontier WHERE fetch_count = 0 AND gone = 0"
                     ) == [(0,)]
        stored = {key_of(url) for (url,) in query(db, "SELECT url FROM pages")}
        for slug in site.model.slugs:
            assert f"/related/{slug}" in stored and f"/info/{slug}" in stored, slug
            for page in range(2, site.model.listing_pages(slug) + 1):
                assert f"/related/{slug}?page={page}" in stored
        report.pages, report.versions = check_archive(db)
        # That run fetched every page after the last edit: no edit is lost.
        with Archive.open(str(db), readonly=True) as archive:
            for slug, sentence in last_edit.items():
                page = archive.page(normalise_url(site.url(f"/info/{slug}")))
                assert sentence in page.summary, (slug, sentence, page.summary[:200])
    # An export is complete or absent: a killed one leaves no file under its name.
    for path in out.iterdir():
        if path.name.startswith("."):
            report.temp_left += 1  # the hidden temporary file of a killed export
            continue
        report.exports_left += 1
        if path.suffix == ".jsonl":
            for line in path.read_text().splitlines():
                json.loads(line)
        elif path.suffix == ".parquet":
            import pyarrow.parquet as pq

            # Readable whole (a truncated file raises). It may have no rows: an export made
            # after a crawl killed in its first second (before its first commit) finds none.
            assert pq.read_table(path).num_rows >= 0
        else:
            data = path.read_bytes()
            assert data.startswith(b"url,site,") and data.endswith(b"\r\n")  # whole rows
    return report


def test_three_sigkills_lose_nothing(tmp_path: Path) -> None:
    report = storm(tmp_path, kills=3, seed=3, pages=20)
    assert sum(report.kills.values()) == 3
    assert report.versions > report.pages  # the edits made versions beyond the first


@pytest.mark.slow
def test_thirty_sigkills_lose_nothing(tmp_path: Path) -> None:
    report = storm(tmp_path, kills=30, seed=30, pages=30)
    assert sum(report.kills.values()) == 30
    assert report.kills["crawl"] >= 15
    assert report.kills["export"] >= 3
    assert report.versions > report.pages


def test_a_second_open_in_one_process_keeps_the_write_ahead_log(tmp_path: Path) -> None:
    """Opening the archive again in a process that has it open (a library user showing
    progress while it crawls) must not drop the first connection's locks: else another
    process, even a reader, takes itself for the last user and deletes the write-ahead log
    under the open connection."""
    from scraper.models import FrontierItem
    from scraper.timeutil import utcnow

    db = tmp_path / "a.db"
    with Archive.open(str(db)) as first:
        first.enqueue([FrontierItem(url=f"http://x.example/{i}", site="s") for i in range(300)],
                      utcnow())
        assert Path(f"{db}-wal").stat().st_size > 0  # committed, not yet checkpointed
        with Archive.open(str(db), readonly=True) as second:
            assert second.frontier_count() == 300
        reader = subprocess.run(scraper_cmd("stats", "--archive", str(db)),
                                capture_output=True, text=True, timeout=60, check=False)
        assert reader.returncode == 0, reader.stderr
        assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()
        first.enqueue([FrontierItem(url=f"http://y.example/{i}", site="s") for i in range(300)],
                      utcnow())
        # What another process finds now, while this one still has the archive open.
        count = ("import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
                 ".execute('SELECT count(*) FROM frontier').fetchone()[0])")
        other = subprocess.run([sys.executable, "-c", count, str(db)], capture_output=True,
                               text=True, timeout=60, check=False)
        assert other.stdout.strip() == "600", other.stderr
    assert query(db, "SELECT count(*) FROM frontier") == [(600,)]
