"""Wiki API etiquette against a real MediaWiki behind a loopback proxy that answers `maxlag`,
503 or 429 some of the time: lag is waited out with a growing back-off, a wiki that stays
lagged fails the run once (api.php is not looked for again, nothing is waited for twice), and
every retry is counted in the run's summary."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_proxy import FaultProxy, Reply, fault_proxy
from mediawiki_harness import MediaWikiServer
from test_source_support import UA, run_crawl

from scraper.archive import Archive
from scraper.config import CrawlConfig, load_config_text
from scraper.mediawiki import MaxLagError, MediaWikiClient

pytestmark = pytest.mark.mediawiki

START = "/wiki/Main_Page"
MAXLAG_RETRIES = 5  # MediaWikiClient's default: six refusals end a request
# Short waits: a Retry-After of 5 s (MediaWiki's own) is cut to RETRY_AFTER_MAX.
NETWORK = "{allow_loopback: true, backoff_base: 0.05, backoff_max: 0.2, retry_after_max: 0.2}"


def maxlag_reply(retry_after: str = "5") -> Reply:
    """MediaWiki's answer to a request whose maxlag the replicas' lag exceeds."""
    body = json.dumps({"error": {"code": "maxlag", "info": "Waiting for db2: 7 seconds lagged",
                                 "host": "db2", "lag": 7, "type": "db"}}).encode()
    return Reply(200, body, (("Content-Type", "application/json; charset=utf-8"),
                             ("Retry-After", retry_after), ("MediaWiki-API-Error", "maxlag"),
                             ("X-Database-Lag", "7")))


def status_reply(status: int, retry_after: str = "1") -> Reply:
    return Reply(status, b"busy", (("Content-Type", "text/plain"),
                                   ("Retry-After", retry_after)))


class Refuse:
    """A proxy rule: the first `times` api.php requests get `reply` (None: every one)."""

    def __init__(self, reply: Reply, times: int | None = None) -> None:
        self.reply = reply
        self.times = times
        self.given = 0

    def __call__(self, method: str, path: str, params: dict[str, str]) -> Reply | None:
        if path != "/api.php" or (self.times is not None and self.given >= self.times):
            return None
        self.given += 1
        return self.reply


@pytest.fixture
def proxy(mediawiki: MediaWikiServer) -> Iterator[FaultProxy]:
    with fault_proxy(mediawiki.base_url) as running:
        yield running


def config(proxy: FaultProxy, *, api: bool = True) -> CrawlConfig:
    """The wiki's start page through the proxy; api.php named, or found from the page."""
    block = f'{{api: "{proxy.base_url}/api.php"}}' if api else "{}"
    return load_config_text(textwrap.dedent(f"""\
        name: wiki
        start_urls: ["{proxy.base_url}{START}"]
        source: mediawiki
        mediawiki: {block}
        politeness: {{delay: 0, user_agent: "{UA}"}}
        network: {NETWORK}
        """), "wiki.yaml")


def failures(db: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT url, reason, attempts FROM failures").fetchall()


def stored_retries(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [r for (r,) in conn.execute("SELECT retried FROM runs ORDER BY id")]


def test_maxlag_a_few_times_is_waited_out_and_counted(proxy: FaultProxy,
                                                       tmp_path: Path) -> None:
    proxy.rule = Refuse(maxlag_reply(), times=3)
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        result = run_crawl(config(proxy), archive)
    assert result.status == "completed"
    assert result.stats.new_versions == 1  # Main Page
    assert result.stats.retried == 3
    assert stored_retries(db) == [3]
    api = proxy.requests("/api.php")
    assert [r.answered_by_proxy for r in api[:4]] == [True, True, True, False]
    # Each refusal waited (Retry-After 5 s, cut to retry_after_max) before the next ask.
    assert all(b.time - a.time >= 0.2 for a, b in itertools.pairwise(api[:4]))


def test_503_and_429_from_the_api_are_retried_and_counted(proxy: FaultProxy,
                                                          tmp_path: Path) -> None:
    answers = iter([status_reply(503), status_reply(429), status_reply(503)])
    proxy.rule = lambda method, path, params: next(answers, None) if path == "/api.php" \
        else None
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        result = run_crawl(config(proxy), archive)
    assert result.status == "completed" and result.stats.new_versions == 1
    # siteinfo: 503, 429, 503 (the default 4 attempts), then the real answer.
    assert result.stats.retried == 3
    assert stored_retries(db) == [3]


def test_a_wiki_that_stays_lagged_fails_the_run_once(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.rule = Refuse(maxlag_reply())
    db = tmp_path / "a.db"
    started = time.monotonic()
    with Archive.open(str(db)) as archive:
        result = run_crawl(config(proxy, api=False), archive)
    took = time.monotonic() - started
    assert result.status == "failed"
    assert result.stats.failed == 1 and result.stats.new_versions == 0
    assert result.stats.retried == MAXLAG_RETRIES
    # api.php was found once from the start page, then asked until the retries ran out.
    assert len(proxy.requests(START)) == 1
    assert len(proxy.requests("/api.php")) == MAXLAG_RETRIES + 1
    ((url, reason, attempts),) = failures(db)
    assert url == f"{proxy.base_url}/api.php"
    assert "maxlag" in reason and attempts == MAXLAG_RETRIES + 1
    # Five waits of at most retry_after_max (0.2 s) each, one round: about 2 s in all.
    assert took < 10


def test_lag_on_a_later_run_does_not_send_the_run_looking_for_api_php(
        proxy: FaultProxy, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        first = run_crawl(config(proxy, api=False), archive)
        assert first.status == "completed"
        proxy.reset()
        proxy.rule = Refuse(maxlag_reply())
        second = run_crawl(config(proxy, api=False), archive)
    assert second.status == "failed" and second.stats.failed == 1
    # The archived start page names api.php; a lagged api.php is no reason to fetch the
    # page again, nor to wait through a second round of refusals.
    assert proxy.requests(START) == []
    assert len(proxy.requests("/api.php")) == MAXLAG_RETRIES + 1
    assert second.stats.retried == MAXLAG_RETRIES


def test_an_archived_api_php_that_moved_is_found_again(proxy: FaultProxy,
                                                       tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        assert run_crawl(config(proxy, api=False), archive).status == "completed"
        proxy.reset()
        # The archived page's api.php answers 404 once: the page is fetched again for it.
        proxy.rule = Refuse(Reply(404, b"Not Found", (("Content-Type", "text/plain"),)), 1)
        again = run_crawl(config(proxy, api=False), archive)
    assert again.status == "completed"
    assert len(proxy.requests(START)) == 1


def test_maxlag_waits_double(proxy: FaultProxy) -> None:
    """The client over HTTP, its waits recorded: Retry-After first, then twice as long each
    time, never over retry_after_max."""
    proxy.rule = Refuse(maxlag_reply("2"))
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> Any:
        async with httpx.AsyncClient(timeout=30) as http:
            client = MediaWikiClient(http, f"{proxy.base_url}/api.php", user_agent=UA,
                                     retry_after_max=10.0, sleep=record)
            with pytest.raises(MaxLagError) as info:
                await client.siteinfo()
            return client, info.value

    client, error = asyncio.run(main())
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert client.retries == MAXLAG_RETRIES and error.attempts == MAXLAG_RETRIES + 1
    assert error.retry_after == 2.0 and error.lag == 7.0
