"""Bad archives given to `scraper crawl`, `history` and `export`: not SQLite, truncated,
damaged pages, a newer schema, a foreign database, read-only files and directories, a full
disk. A crawl refuses with a clear message and a non-zero exit, before any request, and
leaves the file byte-identical. A read command gives either the right answer (the same as
from the intact archive) or such an error, never a wrong answer, and never changes the file.
(tests/test_archive_open.py checks Archive.open itself; these go through the commands.)"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_helpers import config_yaml, key_of, make_config, query, run_crawl, sha256

from scraper.archive import Archive
from scraper.archive.blobs import sha256_hex
from scraper.archive.sqlite import SCHEMA_VERSION
from scraper.cli import main
from scraper.testsite import TestSite

CRAWL_EXTRA = 'scope: {include: ["^/related/", "^/info/"]}\nmax_depth: 50\nrecrawl_after: 0s\n'


@dataclass(frozen=True)
class Pristine:
    """An intact archive of a small site, the site (still running) and the answers the read
    commands give on it."""

    site: TestSite
    db: Path
    config: Path
    url: str
    history: str
    export: bytes


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), result.exception  # a traceback is never an answer
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pristine]:
    base = tmp_path_factory.mktemp("pristine")
    with TestSite(pages=10) as site:
        url = site.url("/related/NATO")
        config = base / "c.yaml"
        config.write_text(config_yaml([url], follow=["related", "more_info"], extra=CRAWL_EXTRA))
        db = base / "a.db"
        run_crawl(make_config([url], follow=["related", "more_info"], extra=CRAWL_EXTRA), db)
        assert not Path(f"{db}-wal").exists()  # closed: every page is in the main file
        code, history = cli("history", url, "--archive", str(db))
        assert code == 0, history
        out = base / "out.jsonl"
        code, output = cli("export", "-o", str(out), "--archive", str(db))
        assert code == 0, output
        yield Pristine(site, db, config, url, history, out.read_bytes())


# -- damage ----------------------------------------------------------------------------------

def not_sqlite(db: Path) -> None:
    db.write_bytes(b"hello, this is not a database\n" * 200)


def truncated_half(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def truncated_header(db: Path) -> None:
    os.truncate(db, 50)


def zeroed_pages(db: Path) -> None:
    """Pages 2-5 (the first tables' roots) overwritten with zeros."""
    with open(db, "r+b") as f:
        f.seek(4096)
        f.write(bytes(4 * 4096))


def garbage_in_pages(db: Path) -> None:
    """500 random bytes inside every third page from page 21 on: b-tree pages broken deep
    inside the file, where opening does not look."""
    rng = random.Random(8)
    with open(db, "r+b") as f:
        for offset in range(4096 * 20, db.stat().st_size, 4096 * 3):
            f.seek(offset + 100)
            f.write(rng.randbytes(500))


def garbage_in_roots(db: Path, tables: tuple[str, ...] = ("pages", "snapshots")) -> None:
    """The root b-tree pages of `tables` overwritten, an invalid page type first: any read of
    those tables runs into it, wherever in the file the crawl's timing put them."""
    with closing(sqlite3.connect(db)) as conn:
        roots = [conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                              (table,)).fetchone()[0] for table in tables]
    rng = random.Random(8)
    with open(db, "r+b") as f:
        for root in roots:
            f.seek((root - 1) * 4096)
            f.write(b"\xff" + rng.randbytes(499))


def newer_schema(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA user_version = 99")
        conn.commit()


def foreign_database(db: Path) -> None:
    db.unlink()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
        conn.commit()


def read_only_file(db: Path) -> None:
    db.chmod(0o444)


def read_only_directory(db: Path) -> None:
    db.parent.chmod(0o555)


# Schema damage: the file is sound SQLite, its tables are not what the code expects.

def _sql(db: Path, *statements: str, writable_schema: bool = False) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        if writable_schema:
            conn.execute("PRAGMA writable_schema = ON")
        for statement in statements:
            conn.execute(statement)


def table_dropped(db: Path) -> None:
    _sql(db, "DROP TABLE skips")


def column_renamed(db: Path) -> None:
    _sql(db, "ALTER TABLE pages RENAME COLUMN title TO heading")


def column_dropped(db: Path) -> None:
    _sql(db, "ALTER TABLE snapshots DROP COLUMN related")


def view_replaced_by_table(db: Path) -> None:
    _sql(db, "DROP VIEW page_versions", "CREATE TABLE page_versions (url TEXT, version INTEGER)")


def table_replaced_by_view(db: Path) -> None:
    _sql(db, "DROP TABLE failures",
         "CREATE VIEW failures AS SELECT id, NULL AS run_id, site, url, '' AS reason,"
         " 1 AS attempts, NULL AS status, 0 AS gone, first_seen AS at FROM pages")


def view_redefined(db: Path) -> None:
    _sql(db, "DROP VIEW current_links",
         "CREATE VIEW current_links AS SELECT url AS source, site FROM pages")


def index_missing(db: Path) -> None:
    _sql(db, "DROP INDEX frontier_due")


def trigger_missing(db: Path) -> None:
    _sql(db, "DROP TRIGGER pages_fts_au")


def schema_entry_broken(db: Path) -> None:
    """A table's entry in sqlite_master rewritten into SQL that does not parse."""
    _sql(db, "UPDATE sqlite_master SET sql = 'CREATE TABLE skips (id INTEGER PRIMARY KEY,'"
             " WHERE name = 'skips'", writable_schema=True)


def schema_entry_deleted(db: Path) -> None:
    """A table's entry deleted from sqlite_master: its pages are still in the file, SQLite no
    longer knows them."""
    _sql(db, "DELETE FROM sqlite_master WHERE name IN ('links_recent', 'links_recent_page')",
         writable_schema=True)


def version_right_tables_wrong(db: Path) -> None:
    """The current user_version on a database whose tables are someone else's `pages`."""
    db.unlink()
    _sql(db, "CREATE TABLE pages (id INTEGER PRIMARY KEY, url TEXT, body BLOB)",
         "INSERT INTO pages (url) VALUES ('http://example.org/')",
         f"PRAGMA user_version = {SCHEMA_VERSION}")


SCHEMA_DAMAGE = (f"the archive is damaged: its schema is not what schema version "
                 f"{SCHEMA_VERSION} has")
# The kinds of damage above that leave the file sound SQLite with the wrong tables.
SCHEMA_CASES = ("table-dropped", "column-renamed", "column-dropped", "view-replaced-by-table",
                "table-replaced-by-view", "view-redefined", "index-missing", "trigger-missing",
                "schema-entry-broken", "schema-entry-deleted", "version-right-tables-wrong")

# (damage, the message a command that refuses must give)
DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "not-sqlite": (not_sqlite, "not an SQLite database (wrong file header)"),
    "truncated-half": (truncated_half, "truncated or damaged archive"),
    "truncated-header": (truncated_header, "truncated SQLite file (50 bytes)"),
    "zeroed-pages": (zeroed_pages, "database disk image is malformed"),
    "garbage-in-pages": (garbage_in_pages, "damaged"),
    "newer-schema": (newer_schema, "the archive has schema version 99, newer than this release"),
    "foreign-database": (foreign_database, "an SQLite database but not a scraper archive"),
    "read-only-file": (read_only_file, "the archive file is read-only"),
    "read-only-directory": (read_only_directory, "its directory is read-only"),
    "table-dropped": (table_dropped, f"{SCHEMA_DAMAGE} (table skips is missing)"),
    "column-renamed": (column_renamed, f"{SCHEMA_DAMAGE} (table pages has no column title)"),
    "column-dropped": (column_dropped, f"{SCHEMA_DAMAGE} (table snapshots has no column related)"),
    "view-replaced-by-table": (view_replaced_by_table,
                               f"{SCHEMA_DAMAGE} (page_versions is a table, not a view)"),
    "table-replaced-by-view": (table_replaced_by_view,
                               f"{SCHEMA_DAMAGE} (failures is a view, not a table)"),
    "view-redefined": (view_redefined,
                       f"{SCHEMA_DAMAGE} (view current_links has no column target, kind, anchor"),
    "index-missing": (index_missing, f"{SCHEMA_DAMAGE} (index frontier_due is missing)"),
    "trigger-missing": (trigger_missing, f"{SCHEMA_DAMAGE} (trigger pages_fts_au is missing)"),
    "schema-entry-broken": (schema_entry_broken, "malformed database schema (skips)"),
    "schema-entry-deleted": (schema_entry_deleted,
                             f"{SCHEMA_DAMAGE} (table links_recent is missing;"),
    "version-right-tables-wrong": (version_right_tables_wrong,
                                   f"{SCHEMA_DAMAGE} (table runs is missing;"),
}


@pytest.fixture
def damaged(pristine: Pristine, tmp_path: Path,
            request: pytest.FixtureRequest) -> Iterator[Path]:
    folder = tmp_path / "archive"
    folder.mkdir()
    db = folder / "a.db"
    shutil.copy(pristine.db, db)
    DAMAGE[request.param][0](db)
    yield db
    folder.chmod(0o755)


def files_of(db: Path) -> dict[str, str]:
    """The archive and the journal files beside it that hold data (an empty -wal or a -shm
    index says nothing about the archive)."""
    out = {"db": sha256(db)}
    wal = Path(f"{db}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        out["wal"] = sha256(wal)
    return out


@pytest.mark.parametrize("damaged", list(DAMAGE), indirect=True)
def test_crawl_refuses_a_bad_archive_and_leaves_it_untouched(
        pristine: Pristine, damaged: Path, request: pytest.FixtureRequest) -> None:
    message = DAMAGE[request.node.callspec.params["damaged"]][1]
    before = files_of(damaged)
    pristine.site.reset_stats()
    code, output = cli("crawl", str(pristine.config), "--archive", str(damaged), "-q")
    assert code == 1, output
    assert message in output, output
    assert str(damaged) in output
    assert files_of(damaged) == before
    assert pristine.site.stats().requests == 0  # refused before fetching anything


@pytest.mark.parametrize("damaged", list(DAMAGE), indirect=True)
def test_read_commands_answer_right_or_refuse_clearly(
        pristine: Pristine, damaged: Path, request: pytest.FixtureRequest) -> None:
    message = DAMAGE[request.node.callspec.params["damaged"]][1]
    before = files_of(damaged)
    code, output = cli("history", pristine.url, "--archive", str(damaged))
    if code == 0:
        assert output == pristine.history
    else:
        assert code == 1 and message in output, output
    out = damaged.parent.parent / "out.jsonl"
    code, output = cli("export", "-o", str(out), "--archive", str(damaged))
    if code == 0:
        assert out.read_bytes() == pristine.export
    else:
        assert code == 1 and message in output, output
        assert not out.exists()  # no partial export
        assert [p.name for p in out.parent.iterdir() if p.name.startswith(".out")] == []
    assert files_of(damaged) == before


@pytest.mark.parametrize("damaged", SCHEMA_CASES, indirect=True)
def test_every_command_refuses_a_damaged_schema_naming_the_file_and_what_is_wrong(
        pristine: Pristine, damaged: Path, request: pytest.FixtureRequest) -> None:
    message = DAMAGE[request.node.callspec.params["damaged"]][1]
    before = files_of(damaged)
    archive = ["--archive", str(damaged)]
    out = damaged.parent.parent / "out.jsonl"
    pristine.site.reset_stats()
    for args in (["crawl", str(pristine.config), "-q"], ["history", pristine.url],
                 ["show", pristine.url], ["diff", pristine.url], ["changes"],
                 ["export", "-o", str(out)], ["stats"]):
        code, output = cli(*args, *archive)
        assert code == 1, (args, output)
        assert message in output and "damaged" in output and str(damaged) in output, (
            args, output)
        assert "Traceback" not in output
    assert not out.exists()
    assert files_of(damaged) == before
    assert pristine.site.stats().requests == 0


def test_read_commands_refuse_structural_damage(pristine: Pristine, tmp_path: Path) -> None:
    """Damage the reads run into is reported, not skipped: export walks every version."""
    db = tmp_path / "a.db"
    shutil.copy(pristine.db, db)
    garbage_in_roots(db)
    code, output = cli("export", "-o", str(tmp_path / "o.jsonl"), "--archive", str(db))
    assert code == 1
    assert "malformed" in output and "damaged" in output, output


# -- a full disk ---------------------------------------------------------------------------

@dataclass
class TinyDisk:
    """A directory with little room: a tmpfs when this process may mount one (root with
    CAP_SYS_ADMIN), else an ordinary directory whose child processes run under an
    RLIMIT_FSIZE (writes past it fail with EFBIG, which SQLite reports as an I/O error)."""

    path: Path
    tmpfs: bool
    room: int | None = None  # bytes left, for the RLIMIT_FSIZE variant

    def fill(self, room: int) -> None:
        """Leave `room` bytes free."""
        if not self.tmpfs:
            self.room = room
            return
        filler = self.path / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, bytes(65536))
        except OSError:
            pass
        finally:
            os.close(fd)
        os.truncate(filler, max(0, filler.stat().st_size - room))

    def make_room(self) -> None:
        (self.path / "filler").unlink(missing_ok=True)
        self.room = None

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # No room at all: no byte may be written anywhere (an RLIMIT_FSIZE of 0); some room:
        # every file may grow that much past the largest one here.
        limit = "None" if self.room is None else str(self.room and self.room + max(
            (p.stat().st_size for p in self.path.iterdir()), default=0))
        code = ("import resource, runpy, signal, sys\n"
                f"limit = {limit}\n"
                "if limit is not None:\n"
                "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                "    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
                f"sys.argv = ['scraper', *{list(args)!r}]\n"
                "runpy.run_module('scraper', run_name='__main__')\n")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300, check=False)


@contextmanager
def tiny_disk(tmp_path: Path, size: str = "16m") -> Iterator[TinyDisk]:
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True, check=False).returncode == 0
    try:
        yield TinyDisk(folder, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=True)


FULL_DISK = ("disk is full", "disk I/O error", "No space left on device", "File too large")


def check_every_version(db: Path) -> dict[str, list[int]]:
    """integrity_check ok, every version's body reads back and matches its hash; returns the
    versions of each page."""
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    versions: dict[str, list[int]] = {}
    with Archive.open(str(db), readonly=True) as archive:
        for _, snap, _ in archive.iter_versions(all_versions=True):
            body = archive.body(snap.url, snap.version)
            assert sha256_hex(body) == snap.body_hash
            versions.setdefault(snap.url, []).append(snap.version)
    for url, found in versions.items():
        assert found == list(range(1, len(found) + 1)), url
    return versions


def test_a_disk_with_no_room_gives_a_clear_error_and_an_untouched_archive(
        pristine: Pristine, tmp_path: Path) -> None:
    with tiny_disk(tmp_path) as disk:
        db = disk.path / "a.db"
        shutil.copy(pristine.db, db)
        disk.fill(0)
        before = files_of(db)
        pristine.site.reset_stats()
        done = disk.run("crawl", str(pristine.config), "--archive", str(db), "-q")
        assert done.returncode == 1
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        assert any(m in done.stderr for m in FULL_DISK), done.stderr
        assert files_of(db) == before
        assert pristine.site.stats().requests == 0
        disk.make_room()
        check_every_version(db)


def test_a_disk_that_fills_during_a_crawl_loses_nothing_committed(
        pristine: Pristine, tmp_path: Path) -> None:
    """The disk fills mid-crawl: the crawl stops with a clear error; what it committed reads
    back whole; with room again, a re-run completes the crawl."""
    with TestSite(pages=60) as site, tiny_disk(tmp_path) as disk:
        db = disk.path / "a.db"
        shutil.copy(pristine.db, db)
        old = check_every_version(db)
        config = tmp_path / "big.yaml"
        url = site.url("/related/NATO")
        config.write_text(config_yaml([url], follow=["related", "more_info"],
                                      extra=CRAWL_EXTRA))
        disk.fill(256 * 1024)
        done = disk.run("crawl", str(config), "--archive", str(db), "-q")
        assert done.returncode == 1, done.stdout
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        assert any(m in done.stderr for m in FULL_DISK), done.stderr
        disk.make_room()
        after = check_every_version(db)
        for page, versions in old.items():
            assert after[page] == versions  # nothing that was there is lost
        runs = query(db, "SELECT status FROM runs ORDER BY id")
        again = disk.run("crawl", str(config), "--archive", str(db), "-q", "--format", "json")
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads(again.stdout)[0]["status"] == "completed"
        final = check_every_version(db)
        stored = {key_of(u) for u in final}
        for slug in site.model.slugs:
            assert {f"/related/{slug}", f"/info/{slug}"} <= stored, slug
        assert query(db, "SELECT count(*) FROM frontier WHERE fetch_count = 0 AND gone = 0"
                     ) == [(0,)]
        # The run the full disk ended must not claim to be complete: "failed", or "running"
        # when even that could not be written.
        assert runs[-1][0] in ("failed", "running"), runs
