"""The seam between the crawl and a page source: what a source gets from the crawl
(CrawlContext), and the sources by the config's `source:` value.

The crawl's own source, `html`, follows links from page to page (SiteCrawl's loop). Another
source (such as `mediawiki`, which asks a wiki's API what changed) is named here as
"module:function" and imported on first use: the crawl never imports it, and it sees the
crawl only through CrawlContext, never SiteCrawl itself (tests/test_layout.py holds both to
that). A source fetches through the context's fetcher (the site's politeness and robots.txt
come with it), writes through its archive gate, and reports every page through store,
record_failure, emit and the counts, so that the run's summary, events and alerts stay in
one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, cast

# A source sends the config's request: settings with its own requests (the MediaWiki API
# client does): it takes them from here (CrawlContext.credentials, made once per run), as it
# takes everything of the crawl.
from scraper.crawl.credentials import SiteCredentials
from scraper.errors import ConfigError

if TYPE_CHECKING:
    from scraper.archive import ArchiveBackend
    from scraper.config import CrawlConfig
    from scraper.crawl.archive_gate import ArchiveGate
    from scraper.crawl.fetch import Fetcher
    from scraper.crawl.parse_pool import ParsePool
    from scraper.errors import PageFailure
    from scraper.models import FetchResult, FrontierItem, Page, RevisionMeta

__all__ = ["BUILT_IN_SOURCE", "SOURCES", "CrawlContext", "PageSource", "RunCounts",
           "SiteCredentials", "load_source"]

# The source SiteCrawl runs itself: links followed from the start URLs.
BUILT_IN_SOURCE = "html"
# Every other `source:` value the config accepts, and where its PageSource is.
SOURCES: Mapping[str, str] = {
    "mediawiki": "scraper.mediawiki.source:crawl_wiki",
}


@dataclass(slots=True)
class RunCounts:
    """What one config's run has done so far; the run's summary is made of it."""

    fetched: int = 0
    new_versions: int = 0
    unchanged: int = 0
    not_modified: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    started: int = 0  # pages begun, held to max_pages
    failures: list[str] = field(default_factory=list)
    unreachable: dict[str, int] = field(default_factory=dict)  # host -> URLs failed
    start_skips: list[str] = field(default_factory=list)  # start URLs refused, and why
    claims_lost: int = 0  # pages dropped: their claim ran out and another worker took it

    @property
    def ended(self) -> int:
        """Pages done with, whatever the outcome."""
        return self.fetched + self.not_modified + self.failed + self.skipped


class CrawlContext(Protocol):
    """What one config's run offers the source that fills it."""

    @property
    def config(self) -> CrawlConfig: ...
    @property
    def archive(self) -> ArchiveBackend:
        """Call it through `db` from the event loop: the archive thread may be writing."""
    @property
    def db(self) -> ArchiveGate: ...
    @property
    def fetcher(self) -> Fetcher:
        """Shared by every config of the crawl: one politeness gate and robots.txt per host."""
    @property
    def credentials(self) -> SiteCredentials | None:
        """The config's `request:` settings for its hosts' requests, made once per run (None
        when it has none)."""
    @property
    def parsers(self) -> ParsePool: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def deadline(self) -> float | None:
        """time.monotonic() at which the run must end (--max-time), or None."""
    @property
    def max_pages(self) -> int | None: ...
    @property
    def counts(self) -> RunCounts: ...
    @property
    def done(self) -> set[str]:
        """URLs this run has dealt with: none is fetched twice in a run."""

    def store(self, run_id: int, item: FrontierItem, result: FetchResult, page: Page, *,
              next_due: datetime, discovered: Sequence[FrontierItem] = (),
              revision: RevisionMeta | None = None) -> None:
        """Save one parsed fetch (a new version or a sighting), count it and report it."""

    def record_failure(self, run_id: int, item: FrontierItem, exc: PageFailure) -> None:
        """Record a URL that could not be fetched, count it and report it."""

    def count_retry(self) -> None:
        """One more request repeated, counted as it is made."""

    def emit(self, kind: str, url: str, *, status: int | None = None,
             version: int | None = None, detail: str = "") -> None:
        """Tell the event sink (progress bars) about one page."""

    def recrawl_due(self, url: str, now: datetime) -> datetime:
        """When `url`, fetched `now`, is due again (its recrawl rule or recrawl_after)."""

    def gone_recheck_due(self, now: datetime) -> datetime:
        """When a page found gone `now` is checked again."""


# One run of a config: returns the run's status (completed, max_pages, max_time, failed).
PageSource = Callable[[CrawlContext, int], Awaitable[str]]


def load_source(name: str) -> PageSource:
    """The PageSource for a config's `source: name`, imported now."""
    target = SOURCES.get(name)
    if target is None:
        known = ", ".join(sorted([BUILT_IN_SOURCE, *SOURCES]))
        raise ConfigError(f"{name!r} is not a page source (known: {known})", key="source")
    module_name, _, function = target.partition(":")
    return cast(PageSource, getattr(importlib.import_module(module_name), function))
