"""Crawl throughput of shared PostgreSQL crawls: SQLite (one process) against PostgreSQL with
1, 2 and 4 `scraper crawl` worker processes, over the built-in site on several loopback hosts.

The site (2,000 topics of ~60 KB, 50 ms latency, 8 hosts 127.0.0.1 .. 127.0.0.8, every page
rendered before it serves) runs in its own process, so that it does not share the GIL with
anything timed. Each round crawls it once into a new SQLite file and once per worker count
into a fresh database of a throwaway PostgreSQL cluster on loopback (tests/postgres_harness.py),
the workers started together. For each crawl: wall time from the start to the last worker's
exit, pages stored, pages/s, and CPU ms per page of the crawl processes and of the PostgreSQL
server (its postmaster's process tree, read from /proc), and whether the site served each
page once (its request log, GET /_control/stats). Ratios are taken within a round, so that
the crawls they compare ran under the same load from the rest of the machine.

    .venv/bin/python tests/bench/bench_workers.py [--rounds 2] [--workers 1,2,4]
        [--concurrency 2] [--pages 2000] [--page-kb 60] [--latency 50] [--hosts 8]

Why --concurrency 2 (per host): the workers share each host's slots through the archive, so
together they never have more than hosts x concurrency requests in flight, nor pass
hosts x concurrency / latency pages/s (8 x 2 / 0.05 s = 320 pages/s). At 2 per host that cap
is 2-3 times what any contender reaches on 2 cores (measured: 4-7 requests in flight of the
16 allowed), so the pace is set by each process's own path from request to stored page, the
50 ms of latency in it, and not by the politeness cap: what more workers add is what the run
shows. At 1 per host the cap (160 pages/s) would hold SQLite back and flatter the ratios;
above 2 one process only fills its core sooner (at 8: SQLite +28%, PostgreSQL +9%, 4 workers
the same). The "in flight" column (the site's page requests' durations over the wall time),
"cores busy" and "CPU cap" (what the cores would allow at the CPU ms per page measured) show
which bound a run met; "others" is the cores that processes outside the benchmark kept busy
meanwhile (/proc/stat): on a shared machine, read the figures with it.

Issue 18's targets: PostgreSQL with one worker at least 70% of SQLite's pages/s; 4 workers
at least 1.8x one worker.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench_crawl's helpers
sys.path.insert(0, str(HERE.parent))  # tests/, for postgres_harness

from bench_crawl import process_tree_cpu_seconds, start_postgres

from scraper.archive import Archive
from scraper.testsite.hosts import crawl_config

if TYPE_CHECKING:
    from postgres_harness import PostgresServer

PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
# Other processes' load (cores) above which a crawl's wall time says more about them than
# about the crawl; CPU ms per page holds up better.
QUIET_CORES = 0.25
SITE_START_TIMEOUT = 300  # --prerender renders every page of every host before it answers
CRAWL_TIMEOUT = 1800  # only catches a hang


@dataclass(frozen=True, slots=True)
class Crawl:
    """One measured crawl (SQLite, or PostgreSQL with `workers` processes)."""

    contender: str
    wall_s: float
    pages: int  # versions stored
    fetched: int  # pages the workers say they fetched (fetched + not modified)
    crawler_cpu_s: float
    server_cpu_s: float  # 0 for SQLite
    site_cpu_s: float  # the built-in site's process: with the others, how busy the cores were
    in_flight: float  # page requests in flight at the site, on average over the crawl
    duplicates: int  # pages the site served more than once
    unserved: int  # pages stored that the site's log does not show (should be 0)
    robots: int  # robots.txt requests
    deadlocks: int  # writes the server broke off as deadlocked (retried: the workers' log)
    machine_busy_s: float  # CPU seconds the whole machine spent meanwhile (/proc/stat)

    @property
    def rate(self) -> float:
        return self.pages / self.wall_s

    def cpu_ms_per_page(self, cpu_s: float) -> float:
        return 1000 * cpu_s / max(self.pages, 1)

    @property
    def cores_busy(self) -> float:
        """CPU seconds per second of everything on the machine the benchmark runs: the
        crawl processes, the PostgreSQL server and the site."""
        return (self.crawler_cpu_s + self.server_cpu_s + self.site_cpu_s) / self.wall_s

    @property
    def others_busy(self) -> float:
        """Cores that processes outside the benchmark kept busy meanwhile (other users of a
        shared machine): their load slows the crawls, so read the figures with it."""
        return max(0.0, self.machine_busy_s / self.wall_s - self.cores_busy)


def code_version() -> str:
    """The checkout's commit, and the files of scraper/ that differ from it: what was timed
    (in a checkout that others edit, the working tree, not the commit)."""
    root = HERE.parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h %cI"],
                              capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                  "scraper"], capture_output=True, text=True,
                                 check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"(no git commit: {exc})"
    edits = [line[3:] for line in changed if line.strip()]
    return f"scraper at {head}" + (f", with uncommitted changes to {', '.join(edits)}"
                                   if edits else "")


# --- the site, in a process of its own ----------------------------------------------------------

def start_site(args: argparse.Namespace,
               log: IO[bytes]) -> tuple[subprocess.Popen[bytes], list[str]]:
    """`scraper testsite` on port 0; returns the process and its hosts' base URLs (one line
    each on its stdout, once every page is rendered)."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "scraper", "testsite", "--port", "0", "--pages", str(args.pages),
         "--page-kb", str(args.page_kb), "--latency-ms", str(args.latency), "--hosts",
         str(args.hosts), "--prerender"], stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    bases: list[str] = []
    # readline blocks; a timer kills the site if it never prints its hosts.
    timer = threading.Timer(SITE_START_TIMEOUT, proc.kill)
    timer.start()
    try:
        while len(bases) < args.hosts:
            line = proc.stdout.readline().decode().strip()
            if not line:
                raise SystemExit(f"the built-in site did not start (exit {proc.wait()}); "
                                 f"its log: {log.name}")
            bases.append(line)
    finally:
        timer.cancel()
    return proc, bases


def control(base: str, name: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST `body` to) the site's /_control/<name>; its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/_control/{name}", data=data),
                                timeout=60) as reply:
        return json.loads(reply.read())


@dataclass(frozen=True, slots=True)
class Served:
    """What the site served since its last reset."""

    pages: Counter[tuple[str, str]]  # requests per (host address, page target)
    robots: int  # robots.txt requests, the site's count
    statuses: Counter[int]
    busy_s: float  # the page requests' durations added up


def served(base: str) -> Served:
    stats = control(base, "stats")
    if len(stats["log"]) < stats["requests"]:
        raise SystemExit(f"the site's log kept {len(stats['log'])} of {stats['requests']} "
                         f"requests: the check needs them all (fewer --pages)")
    pages: Counter[tuple[str, str]] = Counter()
    robots = 0
    busy = 0.0
    for record in stats["log"]:
        if record["path"] == "/robots.txt":
            robots += 1
        elif record["path"].startswith(("/related/", "/info/")):
            pages[(record["address"], record["target"])] += 1
            busy += record["end"] - record["start"]
    statuses = Counter({int(code): n for code, n in stats["by_status"].items()})
    return Served(pages, robots, statuses, busy)


# --- the crawls ---------------------------------------------------------------------------------

def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of one running process, from /proc."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rfind(")") + 2:].split()
    return sum(int(f) for f in fields[11:13]) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle, not waiting for I/O) since boot."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def crawl(contender: str, config: Path, archive: str, workers: int, base: str,
          site_pid: int, server_pid: int | None) -> Crawl:
    """`workers` `scraper crawl` processes into `archive`, started together; measured from
    their start to the last one's exit."""
    control(base, "reset", {"stats": True})
    cmd = [PYTHON, "-m", "scraper", "crawl", str(config), "--archive", archive, "-q",
           "--format", "json", "--no-progress"]
    server_before = process_tree_cpu_seconds(server_pid) if server_pid else 0.0
    site_before = process_cpu_seconds(site_pid)
    machine_before = machine_busy_seconds()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(workers)]
    try:
        outputs = [proc.communicate(timeout=CRAWL_TIMEOUT) for proc in procs]
    finally:
        for proc in procs:  # stopped (SIGTERM, a hang): no crawl outlives the benchmark
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
    wall = time.perf_counter() - started
    # Every crawl process has been waited for; the site, still running, is not counted.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = process_tree_cpu_seconds(server_pid) - server_before if server_pid else 0.0
    site_cpu = process_cpu_seconds(site_pid) - site_before
    machine_busy = machine_busy_seconds() - machine_before
    fetched = 0
    deadlocks = sum(err.count("deadlock detected") for _, err in outputs)
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"{contender}: a crawl process exited {proc.returncode}:\n"
                             f"{err[-3000:]}")
        fetched += sum(r["fetched"] + r["not_modified"] for r in json.loads(out))
    with Archive.open(archive, create=False, readonly=True) as stored:
        pages = int(stored.stats()["versions"])
    site = served(base)
    if set(site.statuses) != {200}:
        print(f"  {contender}: the site answered {dict(site.statuses)}", file=sys.stderr)
    return Crawl(contender, wall, pages, fetched,
                 (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                 server_cpu, site_cpu, site.busy_s / wall,
                 sum(1 for n in site.pages.values() if n > 1),
                 max(0, pages - len(site.pages)), site.robots, deadlocks, machine_busy)


def run_rounds(args: argparse.Namespace, concurrency: int, workdir: Path, bases: list[str],
               site_pid: int, server: PostgresServer) -> dict[str, list[Crawl]]:
    config = workdir / f"bench-{concurrency}.yaml"
    hosts = tuple(base.split("//", 1)[1].rsplit(":", 1)[0] for base in bases)
    config.write_text(crawl_config("bench", f"{bases[0]}/related/NATO", hosts,
                                   concurrency=concurrency, delay=0, max_depth=1000),
                      encoding="utf-8")
    assert server.pid is not None
    runs: dict[str, list[Crawl]] = {}
    for number in range(1, args.rounds + 1):
        for workers in [0, *args.workers]:
            if workers == 0:
                contender = "sqlite"
                archive = workdir / f"c{concurrency}-round{number}.db"
                result = crawl(contender, config, str(archive), 1, bases[0], site_pid, None)
                for path in workdir.glob(archive.name + "*"):
                    path.unlink()
            else:
                contender = f"pg-{workers}"
                database = server.new_database()
                result = crawl(contender, config, server.url(database), workers, bases[0],
                               site_pid, server.pid)
                server.drop_database(database)
            runs.setdefault(contender, []).append(result)
            print(f"concurrency {concurrency} round {number} {contender:7} {result.pages:>5} "
                  f"pages {result.wall_s:6.1f} s {result.rate:6.1f} pages/s; CPU ms/page "
                  f"crawl {result.cpu_ms_per_page(result.crawler_cpu_s):.2f} server "
                  f"{result.cpu_ms_per_page(result.server_cpu_s):.2f} site "
                  f"{result.cpu_ms_per_page(result.site_cpu_s):.2f}; in flight "
                  f"{result.in_flight:.1f}; served twice {result.duplicates}; deadlocks "
                  f"{result.deadlocks}; other processes {result.others_busy:.2f} cores",
                  file=sys.stderr)
    return runs


# --- the report ---------------------------------------------------------------------------------

def spread(values: list[float], digits: int = 0) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}" if len(values) > 1 else ""


def median(got: list[Crawl], value: Callable[[Crawl], float]) -> float:
    return statistics.median([value(c) for c in got])


def ratio(runs: dict[str, list[Crawl]], ours: str, theirs: str) -> str:
    """ours' pages/s over theirs', the median of the rounds' ratios and each round's."""
    shares = [a.rate / b.rate for a, b in zip(runs[ours], runs[theirs], strict=True)]
    line = f"{ours} / {theirs}: {statistics.median(shares):.2f}x"
    if len(shares) > 1:
        line += f" (rounds: {', '.join(f'{s:.2f}' for s in shares)})"
    return line


def print_report(args: argparse.Namespace, concurrency: int,
                 runs: dict[str, list[Crawl]]) -> None:
    slots = args.hosts * concurrency
    cap = slots / (args.latency / 1000) if args.latency else float("inf")
    print(f"\n{args.pages} topics of ~{args.page_kb} KB on {args.hosts} hosts, {args.latency} ms"
          f" latency, concurrency {concurrency} per host: at most {slots} requests in flight, "
          f"{cap:.0f} pages/s; medians of {args.rounds} round(s), range after")
    print(f"{'contender':9} {'pages':>5} {'wall s':>6} {'pages/s':>7} {'range':>9} "
          f"{'CPU ms/page: crawl':>18} {'server':>6} {'site':>5} {'cores busy':>10} "
          f"{'CPU cap':>7} {'others':>6} {'in flight':>9} {'twice':>5} {'robots':>6} "
          f"{'deadlocks':>9}")
    for contender, got in runs.items():
        rates = [c.rate for c in got]
        print(f"{contender:9} {median(got, lambda c: c.pages):>5.0f} "
              f"{median(got, lambda c: c.wall_s):>6.1f} {statistics.median(rates):>7.1f} "
              f"{spread(rates):>9} "
              f"{median(got, lambda c: c.cpu_ms_per_page(c.crawler_cpu_s)):>18.2f} "
              f"{median(got, lambda c: c.cpu_ms_per_page(c.server_cpu_s)):>6.2f} "
              f"{median(got, lambda c: c.cpu_ms_per_page(c.site_cpu_s)):>5.2f} "
              f"{median(got, lambda c: c.cores_busy):>10.2f} "
              f"{median(got, lambda c: c.rate * CORES / c.cores_busy):>7.0f} "
              f"{median(got, lambda c: c.others_busy):>6.2f} "
              f"{median(got, lambda c: c.in_flight):>9.1f} "
              f"{max(c.duplicates for c in got):>5} {max(c.robots for c in got):>6} "
              f"{median(got, lambda c: c.deadlocks):>9.0f}")
    if "pg-1" in runs:
        print(ratio(runs, "pg-1", "sqlite") + "  (target: at least 0.70)")
        for name in runs:
            if name.startswith("pg-") and name != "pg-1":
                target = "  (target: at least 1.8)" if name == "pg-4" else ""
                print(ratio(runs, name, "pg-1") + target)
    for number in range(args.rounds):
        loaded = [f"{name} {got[number].others_busy:.2f}" for name, got in runs.items()
                  if got[number].others_busy > QUIET_CORES]
        if loaded:
            print(f"round {number + 1} ran beside other processes' load (cores: "
                  f"{', '.join(loaded)}): its pages/s and ratios understate those crawls")
    bad = [f"{c.contender}: {c.duplicates} pages served more than once, {c.unserved} stored "
           f"but not served, {c.fetched} fetched for {c.pages} stored"
           for got in runs.values() for c in got
           if c.duplicates or c.unserved or c.fetched != c.pages]
    print("each page fetched once and stored once: "
          + ("yes, in every crawl" if not bad else "NO: " + "; ".join(bad)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", default="1,2,4",
                        help="PostgreSQL worker counts, comma-separated")
    parser.add_argument("--concurrency", default="2",
                        help="requests in flight per host, for all workers together; several "
                             "comma-separated settings are measured one after the other (see "
                             "above for the default)")
    parser.add_argument("--pages", type=int, default=2000, help="topics of the built-in site")
    parser.add_argument("--page-kb", type=int, default=60)
    parser.add_argument("--latency", type=int, default=50, help="the site's latency, ms")
    parser.add_argument("--hosts", type=int, default=8)
    args = parser.parse_args()
    # SIGTERM ends the run through the cleanup below: the site, the crawls' files and the
    # PostgreSQL cluster go with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        args.workers = [int(n) for n in args.workers.split(",")]
        settings = [int(n) for n in args.concurrency.split(",")]
    except ValueError:
        parser.error(f"--workers {args.workers} / --concurrency {args.concurrency}: expected "
                     "comma-separated numbers like 1,2,4")
    if args.rounds < 1 or min(settings) < 1 or min(args.workers) < 1:
        parser.error("--rounds, --concurrency and every --workers count must be at least 1")
    results: dict[int, dict[str, list[Crawl]]] = {}
    version = code_version()
    print(version, file=sys.stderr)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-workers-")))
        site_log = stack.enter_context(open(workdir / "site.log", "wb"))
        site, bases = start_site(args, site_log)
        stack.callback(site.wait)
        stack.callback(site.terminate)
        print(f"site: {bases[0]} .. {bases[-1]}", file=sys.stderr)
        server = start_postgres(stack)
        for concurrency in settings:
            results[concurrency] = run_rounds(args, concurrency, workdir, bases, site.pid, server)
    print(version)
    for concurrency, runs in results.items():
        print_report(args, concurrency, runs)
    print(f"(machine: {os.cpu_count()} cores, the site, the crawls and the PostgreSQL server on "
          f"it; CPU from the crawl processes' rusage and /proc; in flight: the site's page "
          f"requests' durations over the wall time)")


if __name__ == "__main__":
    main()
