"""Benchmark: the shared PostgreSQL frontier's claims per second with 1 and 4 workers.

Each worker is a process with its own connection that claims due URLs in batches and
finishes each one (lease taken, then given up with a new next_due: the frontier's part of
fetching a page), until the frontier has none due. Runs on a throwaway PostgreSQL cluster on
loopback (tests/postgres_harness.py), so it needs PostgreSQL's server programs and psycopg.

    .venv/bin/python tests/bench/bench_postgres_frontier.py [--urls 20000] [--batch 10]

The issue's target: at least 2,000 claims/s with 4 workers.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from postgres_harness import PostgresServer

from scraper.archive.location import parse_archive_location
from scraper.archive.postgres import schema
from scraper.archive.postgres.core import PostgresCore
from scraper.archive.postgres.frontier import SharedFrontier
from scraper.models import FrontierItem

SITE = "bench"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=30)


def worker(url: str, batch: int, start: multiprocessing.synchronize.Event,
           counts: multiprocessing.queues.Queue[int]) -> None:
    core = PostgresCore(parse_archive_location(url))
    frontier = SharedFrontier.join(core)
    start.wait()
    done = 0
    while items := frontier.claim(SITE, T0, batch):
        for item in items:
            frontier.finish(item.url, fetched_at=T0, next_due=LATER, status=200)
        done += len(items)
    frontier.leave()
    core.close()
    counts.put(done)


def run(server: PostgresServer, workers: int, urls: int, batch: int) -> float:
    name = server.new_database()
    url = server.url(name)
    core = PostgresCore(parse_archive_location(url))
    schema.migrate(core)
    SharedFrontier.join(core).enqueue(
        [FrontierItem(url=f"https://bench.example/p{i:06d}", site=SITE) for i in range(urls)],
        T0)
    core.run(lambda conn: conn.execute("ANALYZE frontier"))
    core.close()
    start = multiprocessing.Event()
    counts: multiprocessing.queues.Queue[int] = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(url, batch, start, counts))
             for _ in range(workers)]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # let every worker connect before the clock starts
    began = time.perf_counter()
    start.set()
    claimed = sum(counts.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    server.drop_database(name)
    if claimed != urls:
        raise SystemExit(f"claimed {claimed} URLs of {urls}: the frontier lost or doubled some")
    return claimed / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=10, help="URLs per claim")
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting; best kept")
    args = parser.parse_args()
    server = PostgresServer.create()
    try:
        print(f"PostgreSQL {server.version} on {server.host}:{server.port};"
              f" {args.urls} URLs, claims of {args.batch}, each URL claimed then finished")
        for workers in (1, 4):
            rates = [run(server, workers, args.urls, args.batch) for _ in range(args.repeat)]
            print(f"{workers} worker{'s' if workers > 1 else ''}: {max(rates):8.0f} claims/s"
                  f" (runs: {', '.join(f'{r:.0f}' for r in rates)})")
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
