"""The crawl stage: frontier -> fetch -> parse -> archive.

- run.py: one run of several configs at once (`crawl`); loop.py: each config's part
  (SiteCrawl), the loop frontier -> fetch -> parse -> archive
- source.py: what a page source gets from the crawl (CrawlContext), and the sources by name
- frontier.py: the links to follow and when a URL is due again (pure)
- fetch.py: polite, retried GETs (robots.txt, per-host gates); answers.py reads an answer's
  body under the caps; client.py makes the shared HTTP client
- netpolicy.py: the address policy applied on every connection
- parse_pool.py: where pages are parsed (threads, or worker processes)
- archive_gate.py: the one thread that uses the archive during a crawl
- events.py: what a crawl tells as it goes; alerts.py: parser breakage seen across a run

The names below are loaded on first use: a parse worker process imports parse_pool alone,
and should not pay for the HTTP stack that loop.py pulls in (about 250 ms a process).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scraper.crawl.events import CrawlEvent, EventSink
    from scraper.crawl.loop import CrawlLimits, RunResult, SiteCrawl
    from scraper.crawl.run import crawl

__all__ = ["CrawlEvent", "CrawlLimits", "EventSink", "RunResult", "SiteCrawl", "crawl"]

_HOMES = {"CrawlEvent": "events", "EventSink": "events", "CrawlLimits": "loop",
          "RunResult": "loop", "SiteCrawl": "loop", "crawl": "run"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'scraper.crawl' has no attribute {name!r}")
    return getattr(importlib.import_module(f"scraper.crawl.{home}"), name)
