"""Shared helpers of the hostile-conditions tests (issue 8) and tests/bench/reliability.py.

Configs for crawls against the built-in site, the crawl's own records (failures, skips,
versions), what the server saw, listeners that count connections, a spy on every outgoing
connect, a resolver that never leaves the machine, and the peak RSS of a child process.
Not a conftest: import what you need (`from hostile_helpers import ...`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from scraper.archive import Archive
from scraper.config import CrawlConfig, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.testsite import TestSite
from scraper.testsite.stats import SiteStats

ROOT = Path(__file__).resolve().parent.parent

# Small back-off so that retries are quick, yet long enough to be seen on the server's clock.
NETWORK = {"allow_loopback": True, "backoff_base": 0.1, "backoff_max": 0.4, "attempts": 3,
           "timeout": 0.5, "total_timeout": 1.5, "retry_after_max": 1.0}


def yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def config_yaml(start_urls: Sequence[str], *, name: str = "hostile", follow: Sequence[str] = (),
                network: dict[str, Any] | None = None, politeness: dict[str, Any] | None = None,
                extra: str = "") -> str:
    """A crawl config as YAML text: loopback allowed, no robots.txt, no delay, quick retries."""
    net = {**NETWORK, **(network or {})}
    polite = {"concurrency": 4, "delay": 0, "robots_txt": False, **(politeness or {})}
    lines = [f"name: {name}",
             f"start_urls: {yaml_value(list(start_urls))}",
             f"follow: {yaml_value(list(follow))}",
             "politeness: {" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in polite.items()) + "}",
             "network: {" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in net.items()) + "}"]
    return "\n".join(lines) + "\n" + textwrap.dedent(extra)


def make_config(start_urls: Sequence[str], **options: Any) -> CrawlConfig:
    return load_config_text(config_yaml(start_urls, **options), "hostile.yaml")


def run_crawl(configs: CrawlConfig | Sequence[CrawlConfig], db: Path | str,
              **limits: Any) -> list[RunResult]:
    configs = [configs] if isinstance(configs, CrawlConfig) else list(configs)
    with Archive.open(str(db)) as archive:
        return asyncio.run(crawl(configs, archive, limits=CrawlLimits(**limits)))


def key_of(url: str) -> str:
    """A URL as the server logs it: decoded path, plus ?query when there is one."""
    parts = urlsplit(url)
    return unquote(parts.path) + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class Outcomes:
    """What the archive says happened to each URL (keyed by path?query; the last record wins)."""

    failed: dict[str, tuple[str, int, int | None]]  # reason, attempts, status
    skipped: dict[str, str]
    stored: dict[str, list[int]]  # versions

    def of(self, key: str) -> str:
        if key in self.stored:
            return "fetched"
        if key in self.failed:
            return "failed"
        if key in self.skipped:
            return "skipped"
        return "missing"

    def reason(self, key: str) -> str:
        if key in self.failed:
            return self.failed[key][0]
        return self.skipped.get(key, "")


def query(db: Path | str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from the archive through a read-only connection that is closed at once: a
    connection left open in this process loses its locks when the archive code reads the
    file's header, and another process may then delete the write-ahead log under it."""
    with closing(sqlite3.connect(f"file:{os.path.abspath(db)}?mode=ro", uri=True)) as conn:
        return [tuple(row) for row in conn.execute(sql, params)]


def outcomes(db: Path | str, *, full_urls: bool = False) -> Outcomes:
    name = key_of if not full_urls else (lambda u: u)
    failed = {name(u): (r, a, s) for u, r, a, s in query(
        db, "SELECT url, reason, attempts, status FROM failures ORDER BY id")}
    skipped = {name(u): r for u, r in query(db, "SELECT url, reason FROM skips ORDER BY id")}
    stored: dict[str, list[int]] = {}
    for u, v in query(db, "SELECT p.url, s.version FROM snapshots s JOIN pages p"
                          " ON p.id = s.page_id ORDER BY p.url, s.version"):
        stored.setdefault(name(u), []).append(v)
    return Outcomes(failed, skipped, stored)


def settled_stats(site: TestSite, timeout: float = 10.0) -> SiteStats:
    """The server's stats once no request is in progress (a request a client gave up on is
    logged when the server notices the closed connection)."""
    deadline = time.monotonic() + timeout
    stats = site.stats()
    while (stats.in_flight or stats.open_connections) and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = site.stats()
    return stats


def requests_for(stats: SiteStats, path_prefix: str) -> list[Any]:
    """Log records whose decoded path starts with `path_prefix` (or equals it, with a query)."""
    return [r for r in stats.log if r.path == path_prefix or r.path.startswith(path_prefix)]


def sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def archive_files(db: Path | str) -> dict[str, str]:
    """Hashes of the archive and its companions (-wal, -shm, .lock) that exist."""
    out = {}
    for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
        p = Path(f"{db}{suffix}")
        if p.exists():
            out[suffix or "db"] = sha256(p)
    return out


# -- counting connections ------------------------------------------------------------------

class ConnectionCounter:
    """A raw listener on a loopback address that counts accepted connections and answers any
    request with a tiny HTML page (so a positive control can complete a fetch)."""

    BODY = b"<!DOCTYPE html><html><head><title>counter</title></head><body><p>hi</p></body></html>"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def url(self, path: str = "/", host: str | None = None) -> str:
        shown = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{shown}:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(self.BODY), self.BODY))
        except OSError:
            pass
        finally:
            conn.close()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on (bound, then closed): connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class ConnectSpy:
    """Every address this process connects a socket to (asyncio connects through
    socket.socket.connect on a non-blocking socket)."""

    addresses: list[Any] = field(default_factory=list)

    def hosts(self) -> list[str]:
        return [str(a[0]) for a in self.addresses if isinstance(a, tuple)]

    def to_port(self, port: int) -> int:
        return sum(1 for a in self.addresses if isinstance(a, tuple) and a[1] == port)

    def non_loopback(self) -> list[Any]:
        return [a for a in self.addresses
                if isinstance(a, tuple) and not is_loopback(str(a[0]))]


def is_loopback(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@contextmanager
def connect_spy() -> Iterator[ConnectSpy]:
    """Record every connect, and refuse (without sending a packet) any that is not loopback:
    these tests must never put traffic on a real network, even when the code under test is
    wrong."""
    spy = ConnectSpy()
    original, original_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address: Any) -> None:
        spy.addresses.append(address)
        if isinstance(address, tuple) and not is_loopback(str(address[0])):
            raise ConnectionRefusedError(111, f"test guard: no traffic to {address[0]}")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        original(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return original_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield spy
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]
        socket.socket.connect_ex = original_ex  # type: ignore[method-assign]


@dataclass
class OfflineResolver:
    """Names asked for; only literal addresses and localhost resolve, the rest fail at once
    as an unknown name would, so no DNS query ever leaves the machine."""

    asked: list[str] = field(default_factory=list)


@contextmanager
def offline_resolver() -> Iterator[OfflineResolver]:
    import ipaddress

    record = OfflineResolver()
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        record.asked.append(name)
        try:
            ipaddress.ip_address(name.split("%")[0])
        except ValueError:
            if name.lower() not in ("localhost", "localhost.") and not _inet_aton_ok(name):
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield record
    finally:
        socket.getaddrinfo = original  # type: ignore[assignment]


def _inet_aton_ok(name: str) -> bool:
    """Numeric forms libc reads as IPv4 without DNS (127.1, 2130706433, 0x7f.1)."""
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


# -- child processes ---------------------------------------------------------------------

def scraper_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "scraper", *args]


@dataclass(frozen=True, slots=True)
class ChildRun:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float


def run_measured(cmd: Sequence[str], *, timeout: float = 300, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> ChildRun:
    """Run `cmd` and report its exit code, output and peak RSS (from wait4's rusage: the
    child's own high-water mark, not any other child's)."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hostile-{os.getpid()}-{time.time_ns()}"
    with open(f"{out_path}.out", "w+b") as out, open(f"{out_path}.err", "w+b") as err:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=cwd, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    # ru_maxrss is in KiB on Linux.
    return ChildRun(proc.returncode, stdout, stderr, usage.ru_maxrss / 1024)


# -- the server-fault matrix (tests/test_hostile_server.py and tests/bench/reliability.py) ---

REFUSED = "{refused}"  # a closed port on 127.0.0.1
UNRESOLVABLE = "http://no-such-host.invalid/wiki/Anything"  # .invalid never resolves


@dataclass(frozen=True, slots=True)
class FaultCase:
    """One hostile server condition and what the crawl must make of it."""

    name: str
    what: str  # for the figures table
    path: str  # on the site; REFUSED or a full URL for the two network cases
    outcome: str  # fetched | failed
    reason: str  # a fragment of the recorded reason ("" when fetched)
    requests: tuple[int, int]  # server-side requests (least, most) for `counted`
    attempts: int  # the fetcher's attempts for the URL
    counted: str = ""  # regex on the logged target; default: the path exactly
    rule: tuple[str, dict[str, Any]] | None = None  # site.add_fault(kind, **options)
    min_gap: float | None = None  # least seconds between two requests (None: the back-off)
    max_gap: float | None = None  # a generous upper bound on that gap

    def url(self, site: TestSite, refused_port: int) -> str:
        if self.path == REFUSED:
            return f"http://127.0.0.1:{refused_port}/nobody/listens/here"
        if self.path.startswith("http"):
            return self.path
        return site.url(self.path)


A = int(NETWORK["attempts"])
FAULT_CASES: tuple[FaultCase, ...] = (
    FaultCase("5xx-burst-heals", "a burst of 500/502/503, then the page", "/info/Cold_War",
              "fetched", "", (3, 3), 3,
              rule=("status", {"pattern": "^/info/Cold_War$", "status": [500, 502, 503],
                               "count": 2})),
    FaultCase("5xx-persistent", "500, 502, 503 on every attempt", "/fault/status/500,502,503/m",
              "failed", "HTTP 503 service unavailable", (A, A), A),
    FaultCase("429-seconds", "429 with Retry-After: 1", "/info/NATO", "fetched", "", (2, 2), 2,
              rule=("retry-after", {"pattern": "^/info/NATO$", "retry_after": 1, "count": 1}),
              min_gap=1.0, max_gap=10.0),
    FaultCase("429-http-date", "429 with Retry-After as an HTTP-date", "/info/Warsaw_Pact",
              "fetched", "", (2, 2), 2,
              rule=("retry-after", {"pattern": "^/info/Warsaw_Pact$", "retry_after": 1,
                                    "retry_after_date": True, "count": 1}),
              min_gap=0.9, max_gap=10.0),
    FaultCase("429-one-hour", "429 with Retry-After: 3600 (capped by retry_after_max)",
              "/fault/retry-after/3600/h?count=1", "fetched", "", (2, 2), 2,
              min_gap=0.9, max_gap=10.0),
    FaultCase("503-retry-after-persistent", "503 with Retry-After on every attempt",
              "/fault/retry-after/0/q?count=1000&status=503", "failed",
              "HTTP 503 service unavailable", (A, A), A, min_gap=0.0),  # Retry-After: 0 is honoured
    FaultCase("429-persistent", "429 on every attempt", "/fault/retry-after/0/p?count=1000",
              "failed", "HTTP 429 too many requests", (A, A), A, min_gap=0.0),
    FaultCase("connection-refused", "connection refused (closed port)", REFUSED, "failed",
              "cannot connect (connection refused)", (0, 0), A),
    FaultCase("reset-heals", "a TCP reset mid-body, once", "/related/Cold_War", "fetched", "",
              (2, 2), 2, rule=("reset", {"pattern": "^/related/Cold_War$", "count": 1})),
    FaultCase("reset-persistent", "a TCP reset mid-body on every attempt", "/fault/reset",
              "failed", "connection reset mid-answer", (A, A), A),
    FaultCase("truncated-heals", "a body shorter than its Content-Length, once",
              "/related/Warsaw_Pact", "fetched", "", (2, 2), 2,
              rule=("truncate", {"pattern": "^/related/Warsaw_Pact$", "count": 1})),
    FaultCase("truncated-persistent", "a body shorter than its Content-Length, always",
              "/fault/truncated", "failed", "body cut short (fewer bytes than Content-Length)",
              (A, A), A),
    FaultCase("closed-no-answer", "the connection closed without an answer", "/fault/empty",
              "failed", "the server closed the connection without answering",
              # aiohttp re-sends once at once when a connection closes before any answer
              # (RFC 9112 9.3.1), so the server may see each attempt twice.
              (A, 2 * A), A),
    FaultCase("stall-heals", "headers, then a stall (slowloris), once",
              "/info/North_Atlantic_Treaty", "fetched", "", (2, 2), 2,
              rule=("stall", {"pattern": "^/info/North_Atlantic_Treaty$", "count": 1})),
    FaultCase("stall-persistent", "headers, then a stall, always", "/fault/stall", "failed",
              "timed out (ReadTimeout: no data for", (A, A), A),
    FaultCase("no-answer", "the request read, never answered", "/fault/timeout", "failed",
              "timed out", (A, A), A),
    FaultCase("slow-trickle", "a body trickled at 100 bytes/s (40 s)",
              "/fault/slow-body/100?size=4000", "failed",
              "no complete answer within 1.5 s (network.total_timeout)", (A, A), A),
    FaultCase("redirect-chain", "a chain of 5 redirects", "/fault/redirect-chain/5", "fetched",
              "", (5, 5), 1, counted=r"^/fault/redirect-chain/[1-5]$"),
    FaultCase("redirect-too-long", "a chain of 30 redirects (max_redirects 10)",
              "/fault/redirect-chain/30?to=/info/NATO", "failed", "more than 10 redirects",
              (11, 11), 1, counted=r"^/fault/redirect-chain/\d+\?to="),
    FaultCase("redirect-loop", "a redirect loop of 4 URLs", "/fault/redirect-loop/4", "failed",
              "redirect loop: ", (5, 5), 1, counted=r"^/fault/redirect-loop/4"),
    FaultCase("dns-failure", "an unresolvable host (no-such-host.invalid)", UNRESOLVABLE,
              "failed", "cannot resolve host 'no-such-host.invalid'", (0, 0), 1),
)



def case_requests(case: FaultCase, url: str, log: Sequence[Any]) -> list[Any]:
    """The server's records of the requests a fault case is about (by the target as sent)."""
    from scraper.urls import normalise_url

    parts = urlsplit(normalise_url(url))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    pattern = re.compile(case.counted or "^" + re.escape(target) + "$")
    return [r for r in log if pattern.search(r.target)]


@dataclass(frozen=True, slots=True)
class FaultResult:
    case: FaultCase
    outcome: str
    reason: str
    attempts: int  # recorded for a failure; the server's count for a page fetched
    requests: int  # seen by the server (connections for a refused port)


def fault_matrix(tmp_path: Path) -> tuple[RunResult, list[FaultResult]]:
    """Every fault case at once in one crawl beside a crawl of normal listings."""
    with TestSite(pages=30) as site:
        for case in FAULT_CASES:
            if case.rule is not None:
                kind, options = case.rule
                site.add_fault(kind, **options)
        refused_port = closed_port()
        urls = [case.url(site, refused_port) for case in FAULT_CASES]
        config = make_config([site.url("/related/NATO"), *urls], follow=["related"],
                             extra='scope: {domains: ["127.0.0.1", "no-such-host.invalid"]}\n'
                                   "max_depth: 1\n")
        db = tmp_path / "faults.db"
        with connect_spy() as spy, offline_resolver():
            [result] = run_crawl(config, db)
        log = settled_stats(site).log
    from scraper.urls import normalise_url

    got = outcomes(db, full_urls=True)
    rows = []
    for case, url in zip(FAULT_CASES, urls, strict=True):
        key = normalise_url(url)
        requests = (spy.to_port(refused_port) if case.path == REFUSED
                    else len(case_requests(case, url, log)))
        attempts = got.failed[key][1] if key in got.failed else requests
        rows.append(FaultResult(case, got.of(key), got.reason(key), attempts, requests))
    return result, rows

# -- the soak (tests/test_soak.py and tests/bench/reliability.py) ----------------------------

SOAK_EXTRA = ('scope: {include: ["^/related/", "^/info/"]}\nmax_depth: 100\n'
              'recrawl_after: 0s\n')


@dataclass(frozen=True, slots=True)
class SoakRun:
    """One crawl of the soak, as the crawler counted it and as the server saw it."""

    status: str
    fetched: int
    not_modified: int
    failed: int
    retried: int
    new_versions: int
    edited: int  # topics edited before this run
    server_requests: int
    server_faults: int
    server_ok: int  # 200 answers sent whole (no fault)
    server_not_modified: int
    rss_mb: float  # resident after the run
    peak_rss_mb: float  # the process's high-water mark so far
    python_blocks: int  # memory blocks Python's allocator holds after the run


@dataclass(frozen=True, slots=True)
class SoakReport:
    pages: int
    urls: int  # URLs the site has in scope
    runs: tuple[SoakRun, ...]
    stored: int  # pages stored at the end
    discovered: int  # URLs in the frontier at the end
    seconds: float


def soak(tmp_path: Path, *, pages: int, runs: int = 3, fault_share: float = 0.1,
         reset_share: float = 0.02, edit_share: float = 0.1) -> SoakReport:
    """Crawl the built-in site `runs` times (recrawl_after 0: every page each time) in one
    crawler process, with `fault_share` of the answers a 500/502/503 and resets mid-body;
    `edit_share` of the topics are edited before each run after the first. The site runs
    here and is read between the runs.

    Resets go only to answers with a body: the first run's, and later the articles of the
    topics just edited. (A reset after a bodiless 304 may reach the client as a whole answer
    or as an error, so no count could match it.)"""
    started = time.monotonic()
    rng = random.Random(pages)
    with TestSite(pages=pages) as site:
        site.add_fault("reset", "^/(related|info)/", probability=reset_share)
        site.add_fault("status", "^/(related|info)/", probability=fault_share,
                       status=[500, 502, 503])
        config = tmp_path / "soak.yaml"
        config.write_text(config_yaml(
            [site.url("/related/NATO")], name="soak", follow=["related", "more_info"],
            politeness={"concurrency": 8},
            network={"attempts": 4, "backoff_base": 0.02, "backoff_max": 0.1, "timeout": 10,
                     "total_timeout": 30},
            extra=SOAK_EXTRA))
        db = tmp_path / "soak.db"
        command = [sys.executable, str(Path(__file__).resolve()), "soak-driver", str(config),
                   str(db), str(runs)]
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as driver:
            try:
                results = _drive_soak(site, driver, runs, rng, pages, fault_share, edit_share)
            finally:
                if driver.poll() is None:
                    driver.kill()
        model = site.model
        urls = sum(1 + model.listing_pages(slug) for slug in model.slugs)
        stored = query(db, "SELECT count(*) FROM pages")[0][0]
        discovered = query(db, "SELECT count(*) FROM frontier")[0][0]
    return SoakReport(pages, urls, tuple(results), stored, discovered,
                      time.monotonic() - started)


def _drive_soak(site: TestSite, driver: subprocess.Popen[str], runs: int, rng: random.Random,
                pages: int, fault_share: float, edit_share: float) -> list[SoakRun]:
    """Read each run's counts from the crawler process, set the site up for the next run,
    and let the crawler go on."""
    assert driver.stdin is not None and driver.stdout is not None
    results: list[SoakRun] = []
    edited: list[str] = []
    for _ in range(runs):
        line = driver.stdout.readline()
        if not line:
            raise AssertionError(driver.stderr.read() if driver.stderr else "no output")
        run = json.loads(line)
        stats = settled_stats(site)
        results.append(SoakRun(
            run["status"], run["fetched"], run["not_modified"], run["failed"], run["retried"],
            run["new_versions"], len(edited), stats.requests, stats.faults_total,
            sum(1 for r in stats.log if r.status == 200 and r.fault is None),
            sum(1 for r in stats.log if r.status == 304), run["rss_mb"], run["peak_rss_mb"],
            run["python_blocks"]))
        site.reset_stats()
        site.clear_faults()
        edited = rng.sample(site.model.slugs, max(1, int(pages * edit_share)))
        for slug in edited:
            site.edit(slug, prepend_sentence=f"Soak edit {len(results)}.")
        articles = "|".join(re.escape(slug) for slug in edited)
        site.add_fault("reset", f"^/info/({articles})$", probability=0.2)
        site.add_fault("status", "^/(related|info)/", probability=fault_share,
                       status=[500, 502, 503])
        driver.stdin.write("next\n")
        driver.stdin.flush()
    driver.stdin.close()
    assert driver.wait(timeout=60) == 0, driver.stderr.read() if driver.stderr else ""
    return results


def _soak_driver(config_path: str, db: str, runs: int) -> None:
    """The crawler side of soak(): `runs` crawls in this one process, a JSON line after each
    with the counts and the memory, then a wait for the go-ahead."""
    import resource

    from scraper.config import load_config

    config = load_config(config_path)
    with Archive.open(db) as archive:
        for _ in range(runs):
            [result] = asyncio.run(crawl([config], archive))
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            s = result.stats
            print(json.dumps({
                "status": result.status, "fetched": s.fetched, "not_modified": s.not_modified,
                "new_versions": s.new_versions,
                "failed": s.failed, "retried": s.retried, "rss_mb": rss / 2**20,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "python_blocks": sys.getallocatedblocks()}),
                flush=True)
            sys.stdin.readline()


if __name__ == "__main__":
    if sys.argv[1:2] == ["soak-driver"]:
        _soak_driver(sys.argv[2], sys.argv[3], int(sys.argv[4]))
