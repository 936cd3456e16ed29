"""Crawl throughput: scraper against Scrapy and a minimal aiohttp + selectolax loop.

Serves the built-in site (2,000 topics, 40-80 KB pages with 50-200 links) in its own
process, then crawls it with each contender in its own process, at each latency and
concurrency, and prints pages/s and CPU ms per page. Scrapy comes with the `bench` extra
(pip install -e '.[bench]').

    python tests/bench/bench_crawl.py [--pages 2000] [--latency 0,50] [--concurrency 16,64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable

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


def run_timed(cmd: list[str], cwd: str | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the child, its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def run_scraper(base: str, concurrency: int, workdir: str) -> tuple[float, float, int]:
    port = base.rsplit(":", 1)[1]
    config = Path(workdir, f"bench-{concurrency}.yaml")
    archive = Path(workdir, f"bench-{concurrency}-{time.monotonic_ns()}.db")
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
    wall, cpu, out = run_timed([PYTHON, "-m", "scraper", "crawl", str(config), "--archive",
                                str(archive), "-q", "--format", "json", "--no-progress"])
    fetched = sum(r["fetched"] + r["not_modified"] for r in json.loads(out))
    return wall, cpu, fetched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--page-kb", type=int, default=60)
    parser.add_argument("--latency", default="0,50")
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--skip-scrapy", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for latency in [int(x) for x in args.latency.split(",")]:
            site, base = start_site(args.pages, latency, args.page_kb)
            try:
                warm(base)
                for conc in [int(x) for x in args.concurrency.split(",")]:
                    wall, cpu, n = run_scraper(base, conc, workdir)
                    ours = n / wall
                    rows.append(("scraper", latency, conc, n, ours, 1000 * cpu / max(n, 1)))
                    wall, cpu, out = run_timed([PYTHON, "-c", AIOHTTP_LOOP, base, str(conc)])
                    n2 = int(out.split()[-1])
                    loop_rate = n2 / wall
                    rows.append(("aiohttp loop", latency, conc, n2, loop_rate,
                                 1000 * cpu / max(n2, 1)))
                    scrapy_rate = None
                    if not args.skip_scrapy:
                        # From a file: Scrapy reads its callbacks' source, which -c lacks.
                        spider = Path(workdir, "spider.py")
                        spider.write_text(SCRAPY_SPIDER)
                        wall, cpu, out = run_timed([PYTHON, str(spider), base, str(conc)])
                        n3 = int(out.split()[-1])
                        scrapy_rate = n3 / wall
                        rows.append(("scrapy", latency, conc, n3, scrapy_rate,
                                     1000 * cpu / max(n3, 1)))
                    vs_scrapy = f"{ours / scrapy_rate:.1f}x scrapy" if scrapy_rate else ""
                    rows.append(("-> ratio", latency, conc, 0, 0.0, 0.0,
                                 f"{100 * ours / loop_rate:.0f}% of aiohttp loop  {vs_scrapy}"))
            finally:
                site.terminate()
                site.wait()
    print(f"{'contender':14} {'latency':>7} {'conc':>4} {'pages':>6} {'pages/s':>8} "
          f"{'CPU ms/page':>11}")
    for row in rows:
        if row[0] == "-> ratio":
            print(f"{'':14} {row[1]:>7} {row[2]:>4}  {row[6]}")
            continue
        name, latency, conc, n, rate, cpu_ms = row[:6]
        print(f"{name:14} {latency:>7} {conc:>4} {n:>6} {rate:>8.0f} {cpu_ms:>11.2f}")
    print(f"(machine: {os.cpu_count()} cores; site in its own process)")


if __name__ == "__main__":
    main()
