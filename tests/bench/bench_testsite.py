"""Benchmark of the built-in site's server: requests per second, and server CPU per request.

The site runs in its own process (`python -m scraper testsite`), so the figures are those of
ONE core serving; the client is a raw-socket asyncio loop over several keep-alive
connections, with one request in flight per connection or several pipelined. The client
costs CPU too (both share the machine), so the server's own CPU time per request, read from
/proc, gives its capacity: requests per CPU-second.

    .venv/bin/python tests/bench/bench_testsite.py [--seconds 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

PYTHON = sys.executable


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_site(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([PYTHON, "-m", "scraper", "testsite", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError("the built-in site did not start")
    return proc, url


async def client(host: str, port: int, paths: list[str], depth: int, stop_at: float,
                 counts: list[int], extra: str = "") -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = 0
    i = 0
    try:
        while time.perf_counter() < stop_at:
            batch = []
            for _ in range(depth):
                batch.append(f"GET {paths[i % len(paths)]} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                             f"User-Agent: bench{extra}\r\n\r\n")
                i += 1
            writer.write("".join(batch).encode())
            for _ in range(depth):
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length and not head.startswith(b"HTTP/1.1 304"):
                    await reader.readexactly(length)
                n += 1
    finally:
        counts.append(n)
        writer.close()


async def run_load(url: str, paths: list[str], connections: int, depth: int, seconds: float,
                   extra: str = "") -> int:
    host, port = url.removeprefix("http://").split(":")
    counts: list[int] = []
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(*(client(host, int(port), paths[k::connections] or paths, depth,
                                  stop_at, counts, extra) for k in range(connections)))
    return sum(counts)


def measure(label: str, url: str, pid: int, paths: list[str], connections: int, depth: int,
            seconds: float, extra: str = "") -> None:
    asyncio.run(run_load(url, paths, connections, depth, 0.5, extra))  # warm the page cache
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    n = asyncio.run(run_load(url, paths, connections, depth, seconds, extra))
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    print(f"{label:44} {n / wall:9,.0f} req/s   server CPU {1e6 * cpu / n:6.1f} µs/req "
          f"= {n / cpu if cpu else float('inf'):9,.0f} req per CPU-second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    print(f"built-in site: {args.pages} topics, {args.connections} keep-alive connections, "
          f"{args.seconds:.0f} s per run, {os.cpu_count()} CPUs\n")

    proc, url = start_site("--pages", str(args.pages), "--prerender")
    try:
        import urllib.request

        topics = urllib.request.urlopen(url + "/_control/topics").read().decode()
        import json

        slugs = [t["slug"] for t in json.loads(topics)["topics"]]
        from scraper.testsite.content import info_path, related_path

        listings = [related_path(s) for s in slugs]
        articles = [info_path(s) for s in slugs]
        c = args.connections
        measure("listing pages, 1 in flight per connection", url, proc.pid, listings, c, 1,
                args.seconds)
        measure("listing pages, 8 pipelined per connection", url, proc.pid, listings, c, 8,
                args.seconds)
        measure("articles, 8 pipelined per connection", url, proc.pid, articles, c, 8,
                args.seconds)
        measure("robots.txt, 8 pipelined per connection", url, proc.pid, ["/robots.txt"], c, 8,
                args.seconds)
    finally:
        proc.terminate()
        proc.wait(10)

    proc, url = start_site("--pages", "2000", "--page-kb", "60", "--prerender")
    try:
        from scraper.testsite.content import SiteModel, related_path

        model = SiteModel(pages=2000, page_kb=60)
        paths = [related_path(s) for s in model.slugs]
        measure("60 KB listing pages (2,000-page site), 8 pipelined", url, proc.pid, paths,
                args.connections, 8, args.seconds)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
