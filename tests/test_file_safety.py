"""Files are never harmed (issue 16, guarantee 5): the lock file is never followed through a
link; the lock holds an archive file by its identity, whatever the path; an export that fails
(a full disk) or is interrupted leaves no temporary file; a killed run is marked so by the
next crawl; parse workers end with their crawl; a damaged schema is refused clearly.

Real processes, real files, real full disks; nothing of the OS is mocked.
(tests/test_bad_archives.py has the damaged-schema cases, run through every command.)"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile_helpers import config_yaml, query, scraper_cmd, sha256
from test_bad_archives import FULL_DISK, TinyDisk, tiny_disk

from scraper.archive import Archive
from scraper.archive.sqlite import schema
from scraper.errors import ArchiveError, ArchiveLocked
from scraper.lock import ArchiveLock, holds
from scraper.models import CrawlStats, FetchResult, Link, Page
from scraper.testsite import TestSite

EXTRA = 'scope: {include: ["^/related/", "^/info/"]}\nmax_depth: 50\nrecrawl_after: 0s\n'
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def write_config(path: Path, site: TestSite, *, name: str = "safety") -> Path:
    path.write_text(config_yaml([site.url("/related/NATO")], name=name,
                                follow=["related", "more_info"], extra=EXTRA,
                                network={"timeout": 10, "total_timeout": 30}))
    return path


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(scraper_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          check=False)


def wait_for(condition: object, what: str, timeout: float = 60) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


@pytest.fixture
def archive(site: TestSite, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A crawled archive (closed: no write-ahead log) and its config."""
    folder = tmp_path_factory.mktemp("archive")
    config = write_config(folder / "c.yaml", site)
    db = folder / "a.db"
    done = run("crawl", str(config), "--archive", str(db), "-q", "--max-pages", "5")
    assert done.returncode == 0, done.stderr
    return db, config


# -- 1. the lock file is never followed -------------------------------------------------------

@pytest.mark.parametrize("planted", ["symlink", "dangling-symlink", "hard-link"])
def test_a_link_planted_at_the_lock_name_is_refused_and_its_target_untouched(
        site: TestSite, tmp_path: Path, planted: str) -> None:
    config = write_config(tmp_path / "c.yaml", site)
    precious = tmp_path / "precious.txt"
    if planted != "dangling-symlink":
        precious.write_bytes(b"someone's data\n" * 100)
    db = tmp_path / "a.db"
    lock = Path(f"{db}.lock")
    if planted == "hard-link":
        os.link(precious, lock)
    else:
        lock.symlink_to(precious)
    site.reset_stats()
    done = run("crawl", str(config), "--archive", str(db), "-q")
    assert done.returncode == 1, done.stderr
    assert str(lock) in done.stderr and "Traceback" not in done.stderr
    assert ("is a symbolic link" if planted != "hard-link" else "has 2 names") in done.stderr
    if planted == "dangling-symlink":
        assert not precious.exists()  # not created through the link either
    else:
        assert precious.read_bytes() == b"someone's data\n" * 100
    assert not db.exists()
    assert site.stats().requests == 0


# -- 2. the lock holds the archive file, by whatever path ---------------------------------------

@contextmanager
def held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """ArchiveLock(path) held by a separate process until the block ends."""
    code = ("import sys\nfrom scraper.lock import ArchiveLock\n"
            f"lock = ArchiveLock({str(path)!r})\nlock.acquire()\n"
            "print('locked', flush=True)\nsys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        yield proc
    finally:
        proc.kill()
        proc.communicate()


def test_another_path_to_a_locked_archive_exits_3(site: TestSite, archive: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    db, config = archive
    (tmp_path / "elsewhere").mkdir()
    symlink = tmp_path / "link.db"
    symlink.symlink_to(db)
    hard = tmp_path / "elsewhere" / "hard.db"  # a hard link in another directory
    os.link(db, hard)
    dotted = f"{db.parent}/../{db.parent.name}/./{db.name}"
    before = sha256(db)
    with held_by_another_process(db):
        site.reset_stats()
        for path in (str(db), str(symlink), str(hard), dotted):
            done = run("crawl", str(config), "--archive", path, "-q")
            assert done.returncode == 3, (path, done.stderr)
            assert "another crawl" in done.stderr and path in done.stderr, done.stderr
        assert site.stats().requests == 0
    assert sha256(db) == before
    assert query(db, "SELECT count(*) FROM runs") == [(1,)]
    # And the other way round: a crawl through the link holds the archive against its path.
    with held_by_another_process(hard):
        done = run("crawl", str(config), "--archive", str(db), "-q")
        assert done.returncode == 3, done.stderr


def test_a_new_archive_is_locked_by_identity_from_the_start(tmp_path: Path) -> None:
    real = tmp_path / "real.db"
    link = tmp_path / "link.db"
    link.symlink_to(real)  # dangling until the first lock makes the file
    with ArchiveLock(str(link)):
        assert real.exists() and holds(str(real)) and holds(str(link))
        with pytest.raises(ArchiveLocked, match="another crawl"):
            ArchiveLock(str(real)).acquire()
    # Nothing was written: the empty file the lock made is gone again, the lock files stay.
    assert not real.exists() and not holds(str(real))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.db", "link.db.lock",
                                                          "real.db.lock"]


def test_the_file_made_by_the_lock_stays_once_the_archive_is_written(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with ArchiveLock(str(db)), Archive.open(str(db)) as opened:
        assert opened.schema_version == schema.SCHEMA_VERSION
    with Archive.open(str(db), readonly=True) as reopened:
        assert reopened.schema_version == schema.SCHEMA_VERSION


def test_releasing_the_lock_keeps_an_open_connections_sqlite_locks(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops this process's POSIX locks on it, SQLite's
    included: released while the archive is still open, the lock's descriptor of the archive
    file is closed only when the archive is."""
    db = tmp_path / "a.db"
    Archive.open(str(db)).close()
    lock = ArchiveLock(str(db))
    lock.acquire()
    fd = lock._file_fd
    assert fd is not None
    opened = Archive.open(str(db))
    try:
        opened.conn.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock (fcntl)
        lock.release()
        os.fstat(fd)  # still open: parked
        other = sqlite3.connect(db, timeout=0)
        with closing(other), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # the write lock is still ours
        opened.conn.execute("ROLLBACK")
    finally:
        opened.close()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the last connection


# -- 3. an export that fails or is interrupted leaves no temporary file --------------------------

@pytest.fixture(scope="module")
def export_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive whose export with --with-text is ~30 MB, long enough to interrupt, and in
    no format under a few hundred KB (a few pages of random words)."""
    path = tmp_path_factory.mktemp("export") / "archive.db"
    rng = random.Random(16)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyzäöü", k=rng.randint(2, 10)))
             for _ in range(20_000)]
    with Archive.open(str(path)) as opened:
        run_id = opened.start_run(["big"], {}, T0)
        for i in range(60):
            url = f"http://127.0.0.1:8000/info/Page_{i:04d}"
            text = (" ".join(rng.choices(words, k=20_000)) if i % 10 == 0
                    else f"Paragraph {i} of the page, with ünïcode. " * 12_000)
            page = Page(url=url, kind="article", title=f"Page {i}", summary=text[:200],
                        text=text, links=(Link(url + "_rel", "Related Items", "related"),))
            fetch = FetchResult(url=url, final_url=url, status=200,
                                headers=(("Content-Type", "text/html"),), body=text.encode(),
                                fetched_at=T0 + timedelta(seconds=i), elapsed_s=0.01)
            opened.save(run_id, "big", fetch, page, next_due=T0 + timedelta(days=1))
        opened.finish_run(run_id, CrawlStats(), status="completed", ended_at=T0)
    return path


def check_failed_export(done: subprocess.CompletedProcess[str], target: Path) -> None:
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert str(target) in done.stderr and any(m in done.stderr for m in FULL_DISK), done.stderr
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if ".tmp-" in p.name] == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "warc"])
def test_an_export_past_the_file_size_limit_leaves_nothing(
        export_archive: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{fmt}"
    # Each file may grow 100 KB (an RLIMIT_FSIZE), whether or not a tmpfs can be mounted.
    done = TinyDisk(tmp_path, tmpfs=False, room=100_000).run(
        "export", "--all-versions", "--with-text", "--format", fmt, "-o", str(target),
        "--archive", str(export_archive))
    check_failed_export(done, target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_export_onto_a_full_disk_leaves_nothing(
        export_archive: Path, tmp_path: Path, fmt: str) -> None:
    with tiny_disk(tmp_path, size="64k") as tiny:
        if not tiny.tmpfs:
            message = "mounting a tmpfs needs root with CAP_SYS_ADMIN"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        disk = tiny.path
        (disk / "kept.txt").write_bytes(b"x" * 1000)
        target = disk / f"out.{fmt}"
        done = run("export", "--all-versions", "--with-text", "--format", fmt, "-o",
                   str(target), "--archive", str(export_archive), timeout=300)
        check_failed_export(done, target)
        assert sorted(p.name for p in disk.iterdir()) == ["kept.txt"]
        # The space is free again: the temporary file is gone, not merely unlisted.
        statvfs = os.statvfs(disk)
        assert statvfs.f_bfree * statvfs.f_frsize > 32 * 1024


def export_under_way(export_archive: Path, target: Path
                     ) -> tuple[subprocess.Popen[bytes], Path]:
    """An export to `target` in a child process, once its temporary file has some bytes:
    the process and the temporary file."""
    proc = subprocess.Popen(scraper_cmd("export", "--all-versions", "--with-text", "-o",
                                        str(target), "--archive", str(export_archive)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tmp = target.parent / f".{target.name}.tmp-{proc.pid}"
    deadline = time.monotonic() + 60
    while not (tmp.exists() and tmp.stat().st_size > 0):
        assert proc.poll() is None, "the export ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    return proc, tmp


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
def test_an_interrupted_export_leaves_nothing(export_archive: Path, tmp_path: Path,
                                              signum: int) -> None:
    proc, _ = export_under_way(export_archive, tmp_path / "out.jsonl")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err.decode()[-2000:]
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), SystemExit(143)], ids=repr)
def test_a_signal_landing_in_the_json_writers_callback_stays_itself(
        monkeypatch: pytest.MonkeyPatch, raised: BaseException) -> None:
    """orjson turns whatever its `default` callback raises into a TypeError: a Ctrl-C that
    lands there (as it did once in CI, in the test above) must still be a Ctrl-C, not a
    failed export that says a time is "not JSON serializable"."""
    import io

    from scraper.export import writers
    from scraper.export.records import Column

    def interrupted(value: object) -> str:
        raise raised

    monkeypatch.setattr(writers, "_json_default", interrupted)
    writer = writers.JsonlWriter(io.BytesIO(), [Column("fetched_at", "timestamp")])
    with pytest.raises(type(raised)):
        writer.write({"fetched_at": datetime.now(UTC)})
    with pytest.raises(type(raised)):
        writers.to_json([datetime.now(UTC)])
    monkeypatch.undo()
    with pytest.raises(TypeError, match="not JSON serializable"):
        writers.to_json([object()])


def test_a_sigkilled_exports_leftover_is_removed_by_the_next_export(export_archive: Path,
                                                                    tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    proc, leftover = export_under_way(export_archive, target)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.communicate(timeout=60)
    assert leftover.exists() and not target.exists()
    live = tmp_path / f".out.jsonl.tmp-{os.getpid()}"  # a live process's: left alone
    live.write_bytes(b"in progress")
    done = subprocess.run(scraper_cmd("export", "-o", str(target), "--archive",
                                      str(export_archive), "--force"),
                          check=False, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out.jsonl"]


# -- 4. a killed run is marked so by the next crawl ---------------------------------------------

def test_a_killed_run_is_marked_killed_by_the_next_crawl(site: TestSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", site)
    db = tmp_path / "a.db"
    site.latency_ms = 300  # a crawl of several seconds; versions are committed every second
    try:
        proc = subprocess.Popen(scraper_cmd("crawl", str(config), "--archive", str(db), "-q"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: db.exists() and Path(f"{db}-wal").exists()
                 and _count(db, "SELECT count(*) FROM snapshots") >= 3, "stored pages")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        site.latency_ms = 0
    [(killed_id, status, ended)] = query(db, "SELECT id, status, ended_at FROM runs")
    assert (status, ended) == ("running", None)  # what the killed run left
    done = run("crawl", str(config), "--archive", str(db), "-q", "--format", "json")
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout)[0]
    assert second["status"] == "completed"
    rows = query(db, "SELECT id, status, started_at, ended_at, new_versions, elapsed_s, extra"
                     " FROM runs ORDER BY id")
    assert [r[:2] for r in rows] == [(killed_id, "killed"), (second["run_id"], "completed")]
    _, _, started, ended, versions, elapsed, extra = rows[0]
    assert ended is not None and started <= ended
    assert versions == _count(db, f"SELECT count(*) FROM snapshots WHERE run_id = {killed_id}")
    assert versions >= 3 and elapsed >= 0
    assert json.loads(extra)["closed_by_run"] == second["run_id"]
    stats = Archive.open(str(db), readonly=True)
    with stats:
        assert stats.run_statuses() == {"completed": 1, "killed": 1}


def _count(db: Path, sql: str) -> int:
    try:
        return int(query(db, sql)[0][0])
    except sqlite3.Error:
        return 0


def test_runs_of_one_crawl_of_several_configs_are_not_taken_for_killed(
        site: TestSite, tmp_path: Path) -> None:
    """Each config of a crawl starts its own run: the second must not mark the first."""
    one = write_config(tmp_path / "one.yaml", site, name="one")
    two = write_config(tmp_path / "two.yaml", site, name="two")
    db = tmp_path / "a.db"
    done = run("crawl", str(one), str(two), "--archive", str(db), "-q", "--max-pages", "5")
    assert done.returncode == 0, done.stderr
    statuses = [status for (status,) in query(db, "SELECT status FROM runs")]
    assert len(statuses) == 2 and set(statuses) <= {"completed", "max_pages"}, statuses


def test_without_the_crawl_lock_no_run_is_marked(tmp_path: Path) -> None:
    """A program that writes the archive without the lock cannot know that no other crawl is
    running: a `running` row is left as it is."""
    with Archive.open(str(tmp_path / "a.db")) as opened:
        first = opened.start_run(["a"], {}, T0)
    with Archive.open(str(tmp_path / "a.db")) as opened:
        opened.start_run(["b"], {}, T0)
        assert opened.last_run("a") is not None
        assert query(tmp_path / "a.db", f"SELECT status FROM runs WHERE id = {first}"
                     ) == [("running",)]


# -- 5. parse workers end with their crawl -----------------------------------------------------

def children_of(pid: int) -> dict[int, str]:
    """Live child processes of `pid` (from /proc), each with its start time, which tells a
    reused pid apart."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry)] = fields[19]
    return found


def still_running(pid: int, started: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0] != "Z" and fields[19] == started  # a zombie has ended


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_parse_workers_exit_when_the_crawl_is_killed(tmp_path: Path) -> None:
    with TestSite(pages=60, latency_ms=200) as slow_site:  # a crawl of ~10 s
        config = write_config(tmp_path / "c.yaml", slow_site)
        db = tmp_path / "a.db"
        # The real command, with its pool told to start two workers from the first page on.
        code = ("import runpy, sys\nimport scraper.crawl.parse_pool as pool\n"
                "pool.PROCESSES_AFTER = 0\npool.default_processes = lambda: 2\n"
                f"sys.argv = ['scraper', 'crawl', {str(config)!r}, '--archive', {str(db)!r},"
                " '-q']\nrunpy.run_module('scraper', run_name='__main__')\n")
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            def workers() -> dict[int, str]:
                return {pid: started for pid, started in children_of(proc.pid).items()
                        if "multiprocessing" in cmdline(pid)}

            wait_for(lambda: len(workers()) >= 2 or proc.poll() is not None, "workers")
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(1.5)  # the workers are past their start-up, running their initializer
            children = children_of(proc.pid)  # the workers and multiprocessing's tracker
            assert len(workers()) >= 2 and proc.poll() is None  # killed mid-crawl
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        deadline = time.monotonic() + 5
        while any(still_running(pid, t) for pid, t in children.items()):
            assert time.monotonic() < deadline, {
                pid: cmdline(pid) for pid, t in children.items() if still_running(pid, t)}
            time.sleep(0.05)


def test_a_worker_without_the_death_signal_watches_its_parent(tmp_path: Path) -> None:
    """The fallback where prctl is missing: a thread that sees the parent gone."""
    child = ("import sys, time\nfrom scraper.crawl.parse_pool import watch_parent\n"
             "watch_parent(int(sys.argv[1]), 0.1)\n")
    parent = ("import os, subprocess, sys, time\n"
              f"c = subprocess.Popen([sys.executable, '-c', {child!r}, str(os.getpid())])\n"
              "print(c.pid, flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    started = children_of(proc.pid)[pid]
    time.sleep(0.5)
    assert still_running(pid, started)  # watching: the parent is alive
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 5
    while still_running(pid, started):
        assert time.monotonic() < deadline, "the orphan kept running"
        time.sleep(0.05)


# -- 6. a damaged schema is refused clearly ---------------------------------------------------

def test_the_expected_schema_is_what_the_migrations_make(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    Archive.open(str(db)).close()
    with closing(sqlite3.connect(db)) as conn:
        objects = {(kind, name, table) for kind, name, table in conn.execute(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE name != 'sqlite_sequence'")}
        columns = {name: tuple(r[1] for r in conn.execute(f'PRAGMA table_info("{name}")'))
                   for kind, name, _ in objects
                   if kind in ("table", "view") and not name.startswith("pages_fts")}
        assert schema.schema_problems(conn) == []
    expected = ({("table", name, name) for name in [*schema.EXPECTED_TABLES,
                                                    *schema.EXPECTED_FTS]}
                | {("view", name, name) for name in schema.EXPECTED_VIEWS}
                | {("index", name, table) for name, table in schema.EXPECTED_INDEXES.items()}
                | {("trigger", name, table) for name, table in
                   schema.EXPECTED_TRIGGERS.items()})
    assert objects == expected
    assert columns == {**schema.EXPECTED_TABLES, **schema.EXPECTED_VIEWS}


def test_an_older_archive_with_a_table_missing_is_refused_unchanged(
        site: TestSite, tmp_path: Path) -> None:
    """The upgrade steps would not notice a table they do not touch: the check after them
    rolls the upgrade back."""
    from sqlite_utils import Database

    db = tmp_path / "a.db"
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        schema.migrate(Database(conn), str(db), target=schema.SCHEMA_VERSION - 1)
        conn.execute("DROP TABLE skips")
    before = sha256(db)
    config = write_config(tmp_path / "c.yaml", site)
    site.reset_stats()
    done = run("crawl", str(config), "--archive", str(db), "-q")
    assert done.returncode == 1
    assert str(db) in done.stderr and "the archive is damaged" in done.stderr
    assert "table skips is missing" in done.stderr and "Traceback" not in done.stderr
    assert sha256(db) == before
    assert query(db, "PRAGMA user_version") == [(schema.SCHEMA_VERSION - 1,)]
    assert site.stats().requests == 0


def test_opening_a_sound_archive_stays_cheap(archive: tuple[Path, Path]) -> None:
    db, _ = archive
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        started = time.perf_counter()
        for _ in range(20):
            assert schema.schema_problems(conn) == []
        assert (time.perf_counter() - started) / 20 < 0.01


def test_an_archive_error_names_the_file(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    Archive.open(str(db)).close()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP INDEX links_target")
    with pytest.raises(ArchiveError, match=r"a\.db: the archive is damaged.*index links_target"):
        Archive.open(str(db), readonly=True)
