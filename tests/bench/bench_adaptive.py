"""Adaptive politeness against fixed delays, on the built-in site in overload mode (issue 20).

Serves the site in its own process as a server with `--capacity` workers of `--latency`
ms each (slower as more requests are in flight than that, 503 past twice as many), then
crawls it from scratch, once per setting: fixed delays from the sweep with a high
concurrency, and adaptive politeness (floor 0) with its default target_concurrency ("auto")
and at a few set ones. Prints for
each the pages/s, the 503s the site sent, the share of requests they were and the URLs
that failed; then, for each adaptive row, the fixed delay whose 503 share is nearest to
its own (the fastest of them on a tie) and whether adaptive met the issue's target: fewer
503s and no lower pages/s than it. `--capacity 0` serves the site without overload mode (its
default settings), to show that adaptive does not storm a site that answers at once.

    python tests/bench/bench_adaptive.py [--pages 150] [--capacity 4] [--latency 40]
        [--delays 0,0.005,0.01,0.015,0.02,0.04] [--targets auto,1,4] [--concurrency 16]
        [--rounds 1] [--retry-after]

Run it under `flock /tmp/bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from scraper.archive import Archive
from scraper.config import load_config_text
from scraper.crawl import CrawlLimits, crawl

PYTHON = sys.executable


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    pages_per_s: float
    fetched: int
    failed: int
    requests: int
    refused: int  # 503s the site sent

    @property
    def refused_share(self) -> float:
        return self.refused / self.requests if self.requests else 0.0


def start_site(pages: int, overload: str | None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [PYTHON, "-m", "scraper", "testsite", "--port", "0", "--pages", str(pages),
         *(["--overload", overload] if overload else []), "--prerender"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"the site did not start (said {url!r})")
    return proc, url


def control(base: str, name: str, data: dict[str, object] | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base}/_control/{name}", method="POST" if data is not None else "GET",
        data=None if data is None else json.dumps(data).encode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


def crawl_once(base: str, label: str, politeness: str, folder: Path) -> Outcome:
    control(base, "reset", {"stats": True})
    config = load_config_text(textwrap.dedent(f"""\
        name: bench
        start_urls: ["{base}/related/NATO"]
        follow: [related, more_info]
        max_depth: 100
        network: {{allow_loopback: true}}
        politeness: {{robots_txt: false, {politeness}}}
        """), "bench.yaml")
    path = folder / f"{label.replace(' ', '_')}-{time.monotonic_ns()}.db"
    with Archive.open(str(path)) as archive:
        (result,) = asyncio.run(crawl([config], archive, limits=CrawlLimits()))
    stats = control(base, "stats?log=0")
    by_status = stats["by_status"]
    assert isinstance(by_status, dict)
    requests = stats["requests"]
    assert isinstance(requests, int)
    s = result.stats
    return Outcome(label, s.fetched / s.elapsed_s if s.elapsed_s else 0.0, s.fetched,
                   s.failed, requests, int(by_status.get("503", 0)))


def median_outcome(runs: list[Outcome]) -> Outcome:
    """The run with the median pages/s (its 503s with it: one real run, not a mix)."""
    return sorted(runs, key=lambda o: o.pages_per_s)[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=150)
    parser.add_argument("--capacity", type=int, default=4, help="0: no overload mode")
    parser.add_argument("--latency", type=float, default=40.0, help="ms per answer")
    parser.add_argument("--delays", default="0,0.005,0.01,0.015,0.02,0.04")
    parser.add_argument("--targets", default="auto,1,4",
                        help='"auto" is the default: the key left out')
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--retry-after", action="store_true",
                        help="the site's 503s carry Retry-After: 1")
    args = parser.parse_args()
    # The 503s that run out of attempts are counted in the table, not logged one by one.
    logging.getLogger("scraper").setLevel(logging.ERROR)
    overload = None if args.capacity == 0 else (f"capacity={args.capacity},latency_ms={args.latency:g},"
                f"reject_above={2 * args.capacity}"
                + (",retry_after=1" if args.retry_after else ""))
    settings = [(f"fixed {float(d):g} s", f"concurrency: {args.concurrency}, delay: {d}")
                for d in args.delays.split(",")]
    settings += [("adaptive default" if t == "auto" else f"adaptive T={float(t):g}",
                  f"concurrency: {args.concurrency}, delay: 0, adaptive: true"
                  + ("" if t == "auto" else f", target_concurrency: {t}"))
                 for t in args.targets.split(",")]
    proc, base = start_site(args.pages, overload)
    print(f"site: {overload or 'no overload'} ({args.pages} topics), crawl concurrency {args.concurrency}, "
          f"{args.rounds} round(s), median by pages/s; load avg {os.getloadavg()[0]:.2f}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            outcomes = [median_outcome([crawl_once(base, label, politeness, Path(tmp))
                                        for _ in range(args.rounds)])
                        for label, politeness in settings]
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"{'setting':<16} {'pages/s':>8} {'fetched':>8} {'failed':>7} {'requests':>9} "
          f"{'503s':>6} {'503 share':>10}")
    for o in outcomes:
        print(f"{o.label:<16} {o.pages_per_s:8.1f} {o.fetched:8d} {o.failed:7d} "
              f"{o.requests:9d} {o.refused:6d} {o.refused_share:10.1%}")
    fixed = [o for o in outcomes if o.label.startswith("fixed")]
    print()
    for o in outcomes:
        if not o.label.startswith("adaptive") or not fixed:
            continue
        near = min(fixed, key=lambda f: (abs(f.refused_share - o.refused_share),
                                         -f.pages_per_s))
        met = o.refused <= near.refused and o.pages_per_s >= near.pages_per_s
        print(f"{o.label}: nearest 503 share among fixed delays is {near.label} "
              f"({near.refused_share:.1%} vs {o.refused_share:.1%}); pages/s "
              f"{o.pages_per_s:.1f} vs {near.pages_per_s:.1f}, 503s {o.refused} vs "
              f"{near.refused}: {'target met' if met else 'target NOT met'}")
    best = max((f for f in fixed if f.refused == 0), key=lambda f: f.pages_per_s,
               default=None)
    if best is not None:
        print(f"fastest fixed delay without a 503: {best.label}, {best.pages_per_s:.1f} pages/s"
              f" (found by the sweep; adaptive needs none)")


if __name__ == "__main__":
    main()
