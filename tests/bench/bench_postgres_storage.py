"""What one PostgreSQL primary takes in: versions written per second (from 1 and 4 writer
processes) and the archive's size per million versions, with an SQLite file as the peer.

The versions are the built-in site's ~60 KB articles (its renderer, parsed by the crawl's
parser): `--versions / --versions-per-page` topics, each written `--versions-per-page` times
with a small edit of the topic between versions (a sentence appended or prepended, an
infobox value, a "See also" entry), so that the archive stores delta chains as a recrawl
makes them. They are rendered and parsed once, before anything is timed (by every core, into
compressed files of a temp folder), and every contender writes the same ones: version 1 of
a group of topics, then version 2 of each, and so on, as recrawls come.

Contenders, each into a fresh archive whose frontier already holds the topics' URLs (a crawl
saves pages it took from there): SQLite (one process, writes grouped in transactions
committed every COMMIT_EVERY seconds as the crawl's archive thread does) and PostgreSQL with
each --writers count of processes (each its own archive object joined as a crawl worker, so
each save commits on its own with synchronous_commit off, as a crawl worker's; a topic's
versions all go through one writer, as a claim makes it). Each save carries the page's links
to the site as discovered URLs, as the crawl's do.

Reported: versions/s (all writers, from a start barrier to the last writer's end), ms per
save, CPU ms per version of the writers and of the PostgreSQL server (its process tree, from
/proc), saves retried after a deadlock, the cores other processes kept busy meanwhile
("others", from /proc/stat: on a shared machine, read the rates with it), and the archive's size per million versions, the
empty archive's taken off: as written (PostgreSQL: pg_database_size after a checkpoint, so
with the dead rows of updated pages that autovacuum has not yet made reusable; SQLite: the
file and its WAL) and compacted (after VACUUM FULL; SQLite: VACUUM), and per table (with its
indexes and TOAST; SQLite's from dbstat, when SQLite has it). Per million versions is at
--versions-per-page versions per page: the pages table (one row per page, holding its
current text) grows with pages, the rest with versions.

    .venv/bin/python tests/bench/bench_postgres_storage.py [--versions 10000]
        [--versions-per-page 10] [--writers 1,4] [--rounds 2] [--skip-sqlite]

The defaults take ~8 minutes on 2 cores; --versions scales it about linearly.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING

import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench_crawl's helpers
sys.path.insert(0, str(HERE.parent))  # tests/, for postgres_harness

from bench_crawl import process_tree_cpu_seconds, start_postgres
from bench_workers import code_version

from scraper.archive import Archive
from scraper.archive.encode import encode_page
from scraper.archive.protocol import ArchiveBackend
from scraper.crawl.archive_gate import COMMIT_EVERY
from scraper.models import FetchResult, FrontierItem, Page
from scraper.parse import parse_page
from scraper.testsite.articles import render_article
from scraper.testsite.content import SiteModel

if TYPE_CHECKING:
    from postgres_harness import PostgresServer

SITE = "bench"
BASE = "http://127.0.0.1:8000"  # only a string in the pages: nothing is fetched
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEED = 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GROUP = 50  # topics per prepared file: their versions are written round by round
HEADERS = (("content-type", "text/html; charset=utf-8"), ("server", "bench"))


@dataclass(frozen=True, slots=True)
class Version:
    """One fetch of one topic's article, parsed: what a crawl hands the archive."""

    url: str
    number: int  # 1 for the first fetch
    body: bytes
    page: Page


# --- the versions, prepared once ----------------------------------------------------------------

def edit_topic(model: SiteModel, slug: str, number: int) -> None:
    """The small edit between version `number` - 1 and `number` of a topic."""
    now = (T0 + timedelta(days=number)).timestamp()
    kind = number % 4
    if kind == 3:
        model.edit(slug, infobox={"Last review": f"revision {number}"}, now=now)
        return
    if kind == 0:
        # A "See also" entry: a link added (a topic not listed yet), so links change too.
        index = model.index[slug]
        for step in range(1, 50):
            other = model.slugs[(index + 97 * number + step) % len(model.slugs)]
            if other != slug and other not in model.topic(slug).related:
                model.edit(slug, add_related=other, now=now)
                return
    sentence = f"Revision {number} of this article added this sentence about {slug}."
    if kind == 1:
        model.edit(slug, append_sentence=sentence, now=now)
    else:
        model.edit(slug, prepend_sentence=sentence, now=now)


def prepare_group(args: tuple[int, int, int, int, Path]) -> tuple[int, int]:
    """Renders and parses every version of topics [first, first + GROUP) into one compressed
    file; returns (versions, raw body bytes)."""
    group, topics, per_page, page_kb, folder = args
    model = SiteModel(SEED, topics, page_kb)
    versions: list[Version] = []
    raw = 0
    for index in range(group * GROUP, min((group + 1) * GROUP, topics)):
        slug = model.slugs[index]
        url = f"{BASE}/info/{slug}"
        for number in range(1, per_page + 1):
            if number > 1:
                edit_topic(model, slug, number)
            body = render_article(model, slug, BASE)
            versions.append(Version(url, number, body, parse_page(body, url)))
            raw += len(body)
    # Round by round: version 1 of every topic of the group, then version 2, ...
    versions.sort(key=lambda v: v.number)
    data = pickle.dumps(versions, protocol=pickle.HIGHEST_PROTOCOL)
    # A long window: a topic's versions lie a group of pages apart and compress on each other.
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    (folder / f"group-{group:05d}.zst").write_bytes(
        zstandard.ZstdCompressor(compression_params=params).compress(data))
    return len(versions), raw


def prepare(folder: Path, topics: int, per_page: int, page_kb: int) -> tuple[int, int]:
    groups = (topics + GROUP - 1) // GROUP
    jobs = [(g, topics, per_page, page_kb, folder) for g in range(groups)]
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        done = pool.map(prepare_group, jobs, chunksize=1)
    return sum(n for n, _ in done), sum(raw for _, raw in done)


def load_group(path: Path) -> list[Version]:
    data = zstandard.ZstdDecompressor().decompress(path.read_bytes(),
                                                   max_output_size=1 << 31)
    versions: list[Version] = pickle.loads(data)
    return versions


def discovered(page: Page) -> list[FrontierItem]:
    """The page's links to the site's pages, as the crawl enqueues them with each save."""
    return [FrontierItem(url=link.url, site=SITE, depth=1, discovered_from=page.url,
                         link_kind=link.kind)
            for link in page.links if link.url.startswith(BASE + "/")]


# --- writing ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Written:
    """One writer's part."""

    versions: int  # new versions (a save that found the content unchanged makes none)
    saves: int
    save_s: float  # inside save()
    cpu_s: float  # the writer process's CPU
    deadlocks: int  # saves the server broke off as deadlocked (retried by the archive)


def save_one(archive: ArchiveBackend, run_id: int, version: Version) -> bool:
    at = T0 + timedelta(days=version.number)
    fetch = FetchResult(version.url, version.url, 200, HEADERS, version.body, at, 0.05)
    encoded = encode_page(version.page, version.body, first_version=version.number == 1)
    result = archive.save(run_id, SITE, fetch, version.page, next_due=at + timedelta(days=1),
                          discovered=discovered(version.page), encoded=encoded)
    return result.created


def write_groups(archive: ArchiveBackend, run_id: int, files: list[Path], *,
                 batched: bool) -> tuple[int, int, float]:
    """Saves every version of `files`; returns (new versions, saves, seconds inside save)."""
    versions = saves = 0
    save_s = 0.0
    batch: contextlib.ExitStack | None = None
    committed = time.monotonic()
    for path in files:
        for version in load_group(path):
            if batched and batch is None:
                batch = contextlib.ExitStack()
                batch.enter_context(archive.batch())
                committed = time.monotonic()
            started = time.perf_counter()
            versions += save_one(archive, run_id, version)
            save_s += time.perf_counter() - started
            saves += 1
            if batch is not None and time.monotonic() - committed >= COMMIT_EVERY:
                started = time.perf_counter()
                batch.close()
                save_s += time.perf_counter() - started
                batch = None
    if batch is not None:
        started = time.perf_counter()
        batch.close()
        save_s += time.perf_counter() - started
    return versions, saves, save_s


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle, not waiting for I/O) since boot."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class DeadlockCount(logging.Handler):
    """Counts the archive's warnings of a write retried after a deadlock."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "deadlock detected" in record.getMessage():
            self.count += 1


def postgres_writer(url: str, files: list[Path], barrier: Barrier,
                    results: multiprocessing.queues.Queue[Written]) -> None:
    from scraper.archive.postgres.archive import PostgresArchive

    deadlocks = DeadlockCount()
    logging.getLogger("scraper").addHandler(deadlocks)
    archive = PostgresArchive.open(url)
    archive.join_crawl()  # as a crawl worker: each save commits alone, synchronous_commit off
    run_id = archive.start_run([SITE], {}, T0)  # the writers share one run
    barrier.wait()
    cpu = process_cpu()
    versions, saves, save_s = write_groups(archive, run_id, files, batched=False)
    cpu = process_cpu() - cpu
    barrier.wait()
    archive.close()
    results.put(Written(versions, saves, save_s, cpu, deadlocks.count))


@dataclass(frozen=True, slots=True)
class Measured:
    contender: str
    wall_s: float
    parts: tuple[Written, ...]
    server_cpu_s: float
    size: int  # bytes as written (dead rows and free pages in), the empty archive's taken off
    compacted: int  # the same after VACUUM FULL (PostgreSQL) or VACUUM (SQLite)
    tables: dict[str, int]  # bytes per table as written (with its indexes, TOAST)
    compacted_tables: dict[str, int]
    machine_busy_s: float  # CPU seconds the whole machine spent meanwhile (/proc/stat)

    @property
    def others_busy(self) -> float:
        """Cores that processes outside the benchmark kept busy meanwhile (other users of a
        shared machine): their load slows the writes, so read the figures with it."""
        ours = sum(p.cpu_s for p in self.parts) + self.server_cpu_s
        return max(0.0, (self.machine_busy_s - ours) / self.wall_s)

    @property
    def versions(self) -> int:
        return sum(p.versions for p in self.parts)

    @property
    def rate(self) -> float:
        return self.versions / self.wall_s

    @property
    def save_ms(self) -> float:
        return 1000 * sum(p.save_s for p in self.parts) / sum(p.saves for p in self.parts)

    def per_million(self, size: int) -> float:
        return size / self.versions * 1_000_000


def split(files: list[Path], writers: int) -> list[list[Path]]:
    return [files[n::writers] for n in range(writers)]


def frontier_of(urls: list[str]) -> list[FrontierItem]:
    """The pages' frontier rows: a crawl saves pages it took from the frontier."""
    return [FrontierItem(url=url, site=SITE) for url in urls]


def measure_postgres(server: PostgresServer, files: list[Path], urls: list[str],
                     writers: int) -> Measured:
    from scraper.archive.postgres.archive import PostgresArchive

    database = server.new_database()
    url = server.url(database)
    with PostgresArchive.open(url) as archive:  # the schema, made before the clock starts
        empty = postgres_sizes(server, database)[0]
        archive.enqueue(frontier_of(urls), T0)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(writers + 1)
    results: multiprocessing.queues.Queue[Written] = ctx.Queue()
    procs = [ctx.Process(target=postgres_writer, args=(url, part, barrier, results))
             for part in split(files, writers)]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    assert server.pid is not None
    server_cpu = process_tree_cpu_seconds(server.pid)
    machine = machine_busy_seconds()
    started = time.perf_counter()
    barrier.wait()
    wall = time.perf_counter() - started
    server_cpu = process_tree_cpu_seconds(server.pid) - server_cpu
    machine = machine_busy_seconds() - machine
    parts = tuple(results.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"pg-{writers}: a writer exited {proc.exitcode}")
    server.execute("CHECKPOINT")
    total, tables = postgres_sizes(server, database)
    server.execute("VACUUM FULL", dbname=database)
    compacted, compacted_tables = postgres_sizes(server, database)
    server.drop_database(database)
    return Measured(f"pg-{writers}", wall, parts, server_cpu, total - empty, compacted - empty,
                    tables, compacted_tables, machine)


def postgres_sizes(server: PostgresServer, database: str) -> tuple[int, dict[str, int]]:
    total = int(server.execute("SELECT pg_database_size(current_database())",
                               dbname=database)[0][0])
    tables = {str(name): int(size) for name, size in server.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
        " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace",
        dbname=database)}
    return total, tables


def measure_sqlite(folder: Path, files: list[Path], urls: list[str], number: int) -> Measured:
    path = folder / f"round{number}.db"
    Archive.open(str(path)).close()
    empty = sqlite_file_size(path)
    archive = Archive.open(str(path))
    archive.enqueue(frontier_of(urls), T0)
    archive.prepare_bulk_writes()  # as the crawl does
    run_id = archive.start_run([SITE], {}, T0)
    cpu = process_cpu()
    machine = machine_busy_seconds()
    started = time.perf_counter()
    versions, saves, save_s = write_groups(archive, run_id, files, batched=True)
    wall = time.perf_counter() - started
    cpu = process_cpu() - cpu
    machine = machine_busy_seconds() - machine
    archive.close()
    tables = sqlite_tables(path)
    size = sqlite_file_size(path) - empty
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("VACUUM")
    compacted = sqlite_file_size(path) - empty
    compacted_tables = sqlite_tables(path)
    for leftover in folder.glob(path.name + "*"):
        leftover.unlink()
    return Measured("sqlite", wall, (Written(versions, saves, save_s, cpu, 0),), 0.0, size,
                    compacted, tables, compacted_tables, machine)


def sqlite_file_size(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def sqlite_tables(path: Path) -> dict[str, int]:
    """Bytes per table with its indexes (dbstat), or {} when this SQLite lacks dbstat."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        try:
            rows = conn.execute(
                "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d"
                " LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {str(name): int(size) for name, size in rows}


# --- the report ---------------------------------------------------------------------------------

def spread(values: list[float], digits: int = 0) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}" if len(values) > 1 else ""


def mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


def report(runs: dict[str, list[Measured]], raw: int, prepared: int) -> None:
    print(f"{prepared} versions prepared ({raw / prepared / 1000:.1f} KB per body on average);"
          f" medians of {len(next(iter(runs.values())))} round(s), range after")
    print(f"{'contender':9} {'versions':>8} {'versions/s':>10} {'range':>11} {'ms/save':>7} "
          f"{'CPU ms/version: writers':>23} {'server':>6} {'size/M versions':>15} "
          f"{'compacted':>10} {'deadlocks':>9} {'others':>6}")
    for name, got in runs.items():
        rates = [m.rate for m in got]
        writer_cpu = [1000 * sum(p.cpu_s for p in m.parts) / m.versions for m in got]
        server_cpu = [1000 * m.server_cpu_s / m.versions for m in got]
        sizes = [m.per_million(m.size) for m in got]
        compacted = [m.per_million(m.compacted) for m in got]
        print(f"{name:9} {got[-1].versions:>8} {statistics.median(rates):>10.0f} "
              f"{spread(rates):>11} {statistics.median([m.save_ms for m in got]):>7.2f} "
              f"{statistics.median(writer_cpu):>23.2f} {statistics.median(server_cpu):>6.2f} "
              f"{mb(statistics.median(sizes)):>15} {mb(statistics.median(compacted)):>10} "
              f"{statistics.median([sum(p.deadlocks for p in m.parts) for m in got]):>9.0f} "
              f"{statistics.median([m.others_busy for m in got]):>6.2f}")
    for name, got in runs.items():
        last = got[-1]
        for when, tables in (("as written", last.tables), ("compacted", last.compacted_tables)):
            if not tables:
                continue
            shown = sorted(tables.items(), key=lambda kv: -kv[1])
            parts = ", ".join(f"{table} {mb(last.per_million(size))}" for table, size in shown
                              if last.per_million(size) >= 1e6)
            print(f"{name} per million versions {when}, by table (indexes and TOAST "
                  f"included; last round): {parts}")
    names = list(runs)
    pg = [n for n in names if n.startswith("pg-")]
    if "sqlite" in runs and pg:
        shares = [a.rate / b.rate for a, b in zip(runs[pg[0]], runs["sqlite"], strict=True)]
        print(f"{pg[0]} / sqlite versions/s: {statistics.median(shares):.2f}x "
              f"(rounds: {', '.join(f'{s:.2f}' for s in shares)})")
    for name in pg[1:]:
        shares = [a.rate / b.rate for a, b in zip(runs[name], runs[pg[0]], strict=True)]
        print(f"{name} / {pg[0]} versions/s: {statistics.median(shares):.2f}x "
              f"(rounds: {', '.join(f'{s:.2f}' for s in shares)})")
    print(f"raw bodies per million versions: {mb(raw / prepared * 1_000_000)}; machine: "
          f"{os.cpu_count()} cores, server on the same machine")


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"{what}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--versions-per-page", type=int, default=10)
    parser.add_argument("--page-kb", type=int, default=60)
    parser.add_argument("--writers", default="1,4",
                        help="PostgreSQL writer process counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    # SIGTERM ends the run through the cleanup below: the prepared files and the PostgreSQL
    # cluster go with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        writers = [int(n) for n in args.writers.split(",")]
    except ValueError:
        parser.error(f"--writers {args.writers}: expected process counts like 1,4")
    if min(writers) < 1 or args.rounds < 1 or args.versions_per_page < 1:
        parser.error("--writers, --rounds and --versions-per-page must be at least 1")
    topics = max(1, args.versions // args.versions_per_page)
    runs: dict[str, list[Measured]] = {}
    version = code_version()
    print(version, file=sys.stderr)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pg-")))
        with timed(f"rendering and parsing {topics} topics x {args.versions_per_page} "
                   f"versions"):
            prepared, raw = prepare(folder, topics, args.versions_per_page, args.page_kb)
        files = sorted(folder.glob("group-*.zst"))
        urls = [f"{BASE}/info/{slug}" for slug in SiteModel(SEED, topics).slugs]
        server = start_postgres(stack)
        for number in range(1, args.rounds + 1):
            for count in ([0] if not args.skip_sqlite else []) + writers:
                if count == 0:
                    measured = measure_sqlite(folder, files, urls, number)
                else:
                    measured = measure_postgres(server, files, urls, count)
                runs.setdefault(measured.contender, []).append(measured)
                print(f"round {number} {measured.contender}: {measured.versions} versions in "
                      f"{measured.wall_s:.1f} s, {measured.rate:.0f}/s; other processes "
                      f"{measured.others_busy:.2f} cores", file=sys.stderr)
    print(version)
    report(runs, raw, prepared)


if __name__ == "__main__":
    main()
