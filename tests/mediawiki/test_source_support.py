"""Helpers shared by the `source: mediawiki` tests (test_source*.py); it holds no tests."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

import httpx
from mediawiki_harness import DATA_DIR, LoggedRequest, MediaWikiServer

from scraper.archive import Archive
from scraper.config import CrawlConfig, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.mediawiki import MediaWikiClient
from scraper.timeutil import utcnow

UA = "scraper-tests/1.0 (mailto:tests@example.org)"
MANIFEST = json.loads((DATA_DIR / "pages.json").read_text(encoding="utf-8"))
HISTORY_TITLES = ["Helsinki Final Act", "Treaty on Conventional Armed Forces in Europe"]
ARTICLES = [p["title"] for p in MANIFEST["pages"]
            if "file" in p and ":" not in p["title"]] + HISTORY_TITLES
REDIRECTS = {p["title"]: p["text"].split("[[")[1].rstrip("]")
             for p in MANIFEST["pages"] if p.get("text", "").startswith("#REDIRECT")}
# Every main-namespace page that is not a redirect.
ALL_PAGES = ["Main Page", *ARTICLES]


def wiki_config(wiki: MediaWikiServer, mediawiki: str = "{}", *, start: str = "Main Page",
                extra: str = "", name: str = "wiki", delay: float = 0) -> CrawlConfig:
    """A `source: mediawiki` config for the test wiki; `mediawiki` is the block in YAML flow
    style."""
    text = textwrap.dedent(f"""\
        name: {name}
        start_urls: ["{wiki.page_url(start)}"]
        source: mediawiki
        mediawiki: {mediawiki}
        politeness: {{delay: {delay}, user_agent: "{UA}"}}
        network: {{allow_loopback: true, backoff_base: 0.05, backoff_max: 0.2}}
        """) + textwrap.dedent(extra)
    return load_config_text(text, "wiki.yaml")


def run_crawl(config: CrawlConfig, archive: Archive, *,
              clock: Callable[[], datetime] = utcnow, **limits: Any) -> RunResult:
    return asyncio.run(crawl([config], archive, limits=CrawlLimits(**limits), clock=clock))[0]


def with_client(wiki: MediaWikiServer, body: Callable[[MediaWikiClient], Awaitable[Any]]) -> Any:
    """Ask the wiki's API directly (what the wiki itself reports)."""
    async def main() -> Any:
        async with httpx.AsyncClient(timeout=30) as http:
            return await body(MediaWikiClient(http, wiki.api_url, user_agent=UA))

    return asyncio.run(main())


def is_page_view(request: LoggedRequest) -> bool:
    return not request.is_api and request.path != "/robots.txt"


def viewed_titles(requests: Iterable[LoggedRequest]) -> list[str]:
    """Titles of the page views among `requests`, as the wiki names them."""
    out = []
    for request in requests:
        if is_page_view(request):
            path = request.path
            title = path[len("/wiki/"):] if path.startswith("/wiki/") else \
                request.params.get("title", path)
            out.append(title.replace("_", " "))
    return out


def api_kinds(requests: Iterable[LoggedRequest]) -> list[str]:
    """What each API request asked: "siteinfo", "recentchanges", "info", "extracts", ..."""
    kinds = []
    for request in requests:
        if not request.is_api:
            continue
        p = request.params
        kinds.append(p.get("meta") or p.get("list") or p.get("generator")
                     or p.get("prop", "").split("|")[0] or p.get("action", "?"))
    return kinds
