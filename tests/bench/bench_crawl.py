"""Crawl throughput: scraper against Scrapy and a minimal aiohttp + selectolax loop.

Serves the built-in site (2,000 topics, 40-80 KB pages with 50-200 links) in its own
process, then crawls it with each contender in its own process, at each latency and
concurrency, and prints pages/s and CPU ms per page. Scrapy comes with the `bench` extra
(pip install -e '.[bench]').

With --postgres, each round also crawls into PostgreSQL (one worker; a fresh database of a
throwaway cluster on loopback per crawl, started by tests/postgres_harness.py) and the table
gives its pages/s as a share of the crawl into SQLite (issue 18's target: at least 70%), and
the server's CPU ms per page besides the crawl process's. The built-in site serves one host
(127.0.0.1), so the crawl does too.

    python tests/bench/bench_crawl.py [--pages 2000] [--latency 0,50] [--concurrency 16,64]
                                      [--rounds 1] [--skip-scrapy] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postgres_harness import PostgresServer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for postgres_harness
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

AIOHTTP_LOOP = textwrap.dedent('''
    import asyncio, re, sys, time
    from urllib.parse import urljoin, urldefrag
    import aiohttp
    from selectolax.lexbor import LexborHTMLParser

    base, concurrency = sys.argv[1], int(sys.argv[2])
    allow = re.compile(r"^/(related|info)/")

    async def main():
        seen = {base + "/related/NATO"}
        queue = asyncio.Queue()
        queue.put_nowait(base + "/related/NATO")
        fetched = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
            async def worker():
                nonlocal fetched
                while True:
                    url = await queue.get()
                    try:
                        async with s.get(url) as r:
                            body = await r.read()
                        fetched += 1
                        tree = LexborHTMLParser(body)
                        for a in tree.css("a[href]"):
                            href = urldefrag(urljoin(url, a.attributes.get("href") or ""))[0]
                            if href.startswith(base) and allow.match(href[len(base):]) \\
                                    and href not in seen:
                                seen.add(href)
                                queue.put_nowait(href)
                    finally:
                        queue.task_done()
            workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
            await queue.join()
            for w in workers:
                w.cancel()
        print(fetched)

    asyncio.run(main())
''')

SCRAPY_SPIDER = textwrap.dedent('''
    import re, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor

    base, concurrency = sys.argv[1], int(sys.argv[2])
    count = {"n": 0}

    class Follow(scrapy.Spider):
        name = "follow"
        start_urls = [base + "/related/NATO"]
        # allow_domains would drop everything: Scrapy's domain match does not take IP hosts.
        extractor = LinkExtractor(allow=(base + r"/related/", base + r"/info/"))

        def parse(self, response):
            count["n"] += 1
            for link in self.extractor.extract_links(response):
                yield response.follow(link.url, self.parse)

    process = CrawlerProcess(settings={
        "LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency, "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False,
        "DEPTH_LIMIT": 0, "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    })
    process.crawl(Follow)
    process.start()
    print(count["n"])
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_site(pages: int, latency: int, page_kb: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "scraper", "testsite", "--port", str(port), "--pages", str(pages),
         "--page-kb", str(page_kb), "--latency-ms", str(latency), "--prerender"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):  # --prerender renders every page before it answers
        try:
            urllib.request.urlopen(base + "/robots.txt", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the built-in site did not start")


def warm(base: str) -> None:
    """Render every page once so that no contender pays for the site's first renders."""
    subprocess.run([PYTHON, "-c", AIOHTTP_LOOP, base, "32"], check=True,
                   stdout=subprocess.DEVNULL)


def run_timed(cmd: list[str], cwd: str | None = None,
              env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the child, its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of process `pid`, of its running children, and of its children that
    ended and were waited for (a PostgreSQL server: the postmaster, its background
    processes, and the backends of connections already closed). Read from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = text[text.rfind(")") + 2:].split()
        # fields[1] is the parent's PID; [11:13] utime, stime; [13:15] the waited children's
        if int(stat.parent.name) == pid:
            total += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == pid:
            total += sum(int(f) for f in fields[11:13])
    return total / CLOCK_TICKS


def run_scraper(base: str, concurrency: int, workdir: str,
                source: str | None = None,
                archive: str | None = None) -> tuple[float, float, int]:
    """One crawl by this checkout's scraper, or with `source` by the one in that folder (a
    checkout of another commit, put first on PYTHONPATH), into `archive` (default: a new
    SQLite file)."""
    port = base.rsplit(":", 1)[1]
    config = Path(workdir, f"bench-{concurrency}.yaml")
    archive = archive or str(Path(workdir, f"bench-{concurrency}-{time.monotonic_ns()}.db"))
    config.write_text(textwrap.dedent(f"""\
        name: bench
        start_urls: ["http://127.0.0.1:{port}/related/NATO"]
        parser: auto
        follow: [related, more_info]
        scope: {{domains: [127.0.0.1], include: ["^/related/", "^/info/"]}}
        max_depth: 100
        politeness: {{concurrency: {concurrency}, delay: 0, robots_txt: true}}
        network: {{allow_loopback: true}}
        """))
    env = None if source is None else {**os.environ, "PYTHONPATH": source}
    # `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH: the
    # baseline must run in its own folder, or it would time this checkout's package.
    wall, cpu, out = run_timed([PYTHON, "-m", "scraper", "crawl", str(config), "--archive",
                                str(archive), "-q", "--format", "json", "--no-progress"],
                               cwd=source, env=env)
    fetched = sum(r["fetched"] + r["not_modified"] for r in json.loads(out))
    return wall, cpu, fetched


def spread(values: list[float]) -> str:
    return f"{min(values):.0f}-{max(values):.0f}" if len(values) > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--page-kb", type=int, default=60)
    parser.add_argument("--latency", default="0,50")
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--rounds", type=int, default=1,
                        help="crawls per contender and setting, taken in turns; the table shows "
                             "medians and the range (on a shared machine one crawl can take "
                             "a quarter longer than the next)")
    parser.add_argument("--skip-scrapy", action="store_true")
    parser.add_argument("--baseline", metavar="DIR", default=None,
                        help="also crawl with the scraper package of this folder (e.g. a "
                             "`git worktree` of an older commit), in the same rounds, and "
                             "print this checkout's pages/s as a share of it")
    parser.add_argument("--postgres", action="store_true",
                        help="also crawl into PostgreSQL (a throwaway cluster on loopback, "
                             "a fresh database per crawl), in the same rounds, and print its "
                             "pages/s as a share of SQLite's and the server's CPU ms per page")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
        found = subprocess.run([PYTHON, "-c", "import scraper; print(scraper.__file__)"],
                               check=False, cwd=args.baseline, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": args.baseline})
        if not found.stdout.strip().startswith(os.path.join(args.baseline, "scraper")):
            parser.error(f"--baseline {args.baseline}: it has no scraper package of its own "
                         f"(Python imported {found.stdout.strip() or found.stderr.strip()})")
    contenders = (["scraper"] + (["postgres"] if args.postgres else [])
                  + (["baseline"] if args.baseline else []) + ["aiohttp loop"]
                  + ([] if args.skip_scrapy else ["scrapy"]))
    # (contender, latency, concurrency) -> [(pages, pages/s, CPU ms per page), ...]
    runs: dict[tuple[str, int, int], list[tuple[int, float, float]]] = {}
    # (latency, concurrency) -> [the PostgreSQL server's CPU ms per page, ...]
    server_cpu: dict[tuple[int, int], list[float]] = {}
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        server = start_postgres(stack) if args.postgres else None
        # From a file: Scrapy reads its callbacks' source, which -c lacks.
        spider = Path(workdir, "spider.py")
        spider.write_text(SCRAPY_SPIDER)
        for latency in [int(x) for x in args.latency.split(",")]:
            site, base = start_site(args.pages, latency, args.page_kb)
            try:
                warm(base)
                for conc in [int(x) for x in args.concurrency.split(",")]:
                    for _ in range(args.rounds):
                        for name in contenders:
                            if name == "postgres":
                                assert server is not None and server.pid is not None
                                database = server.url(server.new_database())
                                server_before = process_tree_cpu_seconds(server.pid)
                                wall, cpu, n = run_scraper(base, conc, workdir,
                                                           archive=database)
                                server_cpu.setdefault((latency, conc), []).append(
                                    1000 * (process_tree_cpu_seconds(server.pid)
                                            - server_before) / max(n, 1))
                            elif name in ("scraper", "baseline"):
                                wall, cpu, n = run_scraper(
                                    base, conc, workdir,
                                    args.baseline if name == "baseline" else None)
                            else:
                                script = (["-c", AIOHTTP_LOOP] if name == "aiohttp loop"
                                          else [str(spider)])
                                wall, cpu, out = run_timed([PYTHON, *script, base, str(conc)])
                                n = int(out.split()[-1])
                            runs.setdefault((name, latency, conc), []).append(
                                (n, n / wall, 1000 * cpu / max(n, 1)))
            finally:
                site.terminate()
                site.wait()
    print_table(runs, contenders, args.rounds, server_cpu)


def start_postgres(stack: contextlib.ExitStack) -> PostgresServer:
    """A throwaway PostgreSQL cluster on loopback, removed when `stack` closes."""
    from postgres_harness import PostgresServer, missing_reason

    reason = missing_reason()
    if reason is not None:
        sys.exit(f"--postgres: {reason}")
    server = PostgresServer.create()
    stack.callback(server.destroy)
    print(f"PostgreSQL {server.version} on {server.host}:{server.port}", file=sys.stderr)
    return server


def ratio_line(name: str, ours: list[float], theirs: list[float], rounds: int) -> str:
    """Ours as a share of theirs, the median of the rounds' ratios (each round's crawls ran
    one after the other, under the same load from the rest of the machine)."""
    shares = [100 * a / b for a, b in zip(ours, theirs, strict=True)]
    line = f"{statistics.median(shares):.0f}% of {name}"
    if rounds > 1:
        line += f" (rounds: {', '.join(f'{r:.0f}%' for r in shares)})"
    return line


def print_table(runs: dict[tuple[str, int, int], list[tuple[int, float, float]]],
                contenders: list[str], rounds: int,
                server_cpu: dict[tuple[int, int], list[float]]) -> None:
    print(f"{'contender':14} {'latency':>7} {'conc':>4} {'pages':>6} {'pages/s':>8} "
          f"{'range':>9} {'CPU ms/page':>11}")
    settings = sorted({(latency, conc) for _, latency, conc in runs})
    for latency, conc in settings:
        for name in contenders:
            got = runs[(name, latency, conc)]
            rates = [rate for _, rate, _ in got]
            print(f"{name:14} {latency:>7} {conc:>4} {got[-1][0]:>6} {statistics.median(rates):>8.0f} "
                  f"{spread(rates):>9} {statistics.median([c for _, _, c in got]):>11.2f}")
        ours = [rate for _, rate, _ in runs[("scraper", latency, conc)]]
        # Each round's crawls ran one after the other: a ratio within a round compares two
        # crawls under the same load from the rest of the machine.
        vs_loop = [100 * a / b for a, (_, b, _) in zip(ours, runs[("aiohttp loop", latency,
                                                                    conc)])]
        line = f"{statistics.median(vs_loop):.0f}% of aiohttp loop"
        if rounds > 1:
            line += f" (rounds: {', '.join(f'{r:.0f}%' for r in vs_loop)})"
        if "baseline" in contenders:
            vs_base = [100 * a / b for a, (_, b, _) in zip(ours, runs[("baseline", latency,
                                                                        conc)])]
            line += f"  {statistics.median(vs_base):.0f}% of baseline"
            if rounds > 1:
                line += f" (rounds: {', '.join(f'{r:.0f}%' for r in vs_base)})"
        if "scrapy" in contenders:
            vs_scrapy = [a / b for a, (_, b, _) in zip(ours, runs[("scrapy", latency, conc)])]
            line += f"  {statistics.median(vs_scrapy):.1f}x scrapy"
        print(f"{'-> ratio':14} {latency:>7} {conc:>4}  {line}")
        if "postgres" in contenders:
            pg = [rate for _, rate, _ in runs[("postgres", latency, conc)]]
            print(f"{'-> postgres':14} {latency:>7} {conc:>4}  "
                  f"{ratio_line('sqlite (target: 70%)', pg, ours, rounds)}; server CPU "
                  f"{statistics.median(server_cpu[(latency, conc)]):.2f} ms/page")
    print(f"(machine: {os.cpu_count()} cores; site in its own process; medians of {rounds} "
          f"round(s))")


if __name__ == "__main__":
    main()
