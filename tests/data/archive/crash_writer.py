"""Saves page versions into an archive in a loop until killed (tests/test_archive_crash.py).

Usage: python crash_writer.py ARCHIVE SEED [SAVES]  (SAVES: stop after that many, else never)
Prints "ready" once the first save is committed, so the parent knows when to start its clock.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

from scraper.archive import Archive
from scraper.models import CrawlStats, FetchResult, FrontierItem, Link, Page


def main() -> None:
    path, seed = sys.argv[1], int(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
    rng = random.Random(seed)
    words = [f"w{n}" for n in range(3000)]
    texts = {n: [rng.choice(words) for _ in range(6000)] for n in range(6)}
    clock = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=seed)
    with Archive.open(path, full_copy_every=rng.randint(1, 12)) as archive:
        run = archive.start_run(["crash"], {"seed": seed}, clock)
        saves = 0
        while limit is None or saves < limit:
            n = rng.randrange(len(texts))
            url = f"http://crash.test/page/{n}"
            text = texts[n]
            if rng.random() < 0.8:  # else an unchanged recrawl
                for _ in range(rng.randint(1, 30)):
                    text[rng.randrange(len(text))] = rng.choice(words)
            body = ("<html><body><p>" + " ".join(text) + "</p></body></html>").encode()
            links = tuple(Link(f"http://crash.test/page/{rng.randrange(40)}", "x", "related")
                          for _ in range(rng.randint(0, 5)))
            clock += timedelta(seconds=1)
            if rng.random() < 0.1:
                archive.record_failure(run, "crash", url, reason="HTTP 503", attempts=2,
                                       status=503, now=clock, next_due=clock)
            page = Page(url, title=f"Page {n}", summary=" ".join(text[:12]),
                        text=" ".join(text[:200]), links=links)
            archive.save(run, "crash", FetchResult(url, url, 200, (), body, clock, 0.01), page,
                         next_due=clock + timedelta(days=1),
                         discovered=[FrontierItem(link.url, "crash", 1, url, "related")
                                     for link in links])
            saves += 1
            if saves == 1:
                print("ready", flush=True)
        archive.finish_run(run, CrawlStats(fetched=saves), status="completed", ended_at=clock)
    print("done", flush=True)


if __name__ == "__main__":
    main()
