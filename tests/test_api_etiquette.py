"""Every retry counts in a run's summary: a page's, its robots.txt's (over real HTTP on
loopback), and the MediaWiki client's maxlag back-off, as a function. The MediaWiki client's
retries against a real wiki are in tests/mediawiki/test_source_etiquette.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from hostile_helpers import config_yaml, make_config, query, run_crawl, run_measured, scraper_cmd
from local_http import serve

from scraper.mediawiki.api import maxlag_wait

PAGE = b"<html><head><title>Back</title></head><body><p>Served after a while.</p></body></html>"
ROBOTS = b"User-agent: *\nDisallow: /private\n"


class _Busy(BaseHTTPRequestHandler):
    """Answers 503 with Retry-After `busy[path]` times per path, then the page (or the
    robots.txt); /always is never available."""

    busy: ClassVar[dict[str, int]] = {}
    seen: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.seen.append(self.path)
            left = self.busy.get(self.path, 0)
            if left:
                self.busy[self.path] = left - 1
        if left or self.path == "/always":
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, kind = (ROBOTS, "text/plain") if self.path == "/robots.txt" else (PAGE, "text/html")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def site() -> Iterator[str]:
    _Busy.busy, _Busy.seen = {}, []
    with serve(_Busy) as base:
        yield base


# Retry-After: 1 is cut to 0.1 s, so that the tests wait little.
NETWORK = {"attempts": 4, "retry_after_max": 0.1}


def test_a_page_answering_503_twice_shows_two_retries(site: str, tmp_path: Path) -> None:
    _Busy.busy = {"/page": 2}
    config = tmp_path / "site.yaml"
    config.write_text(config_yaml([f"{site}/page"], name="busy", network=NETWORK))
    db = tmp_path / "a.db"
    run = run_measured(scraper_cmd("crawl", str(config), "--archive", str(db),
                                   "--format", "json"), timeout=120)
    assert run.returncode == 0, run.stderr
    (summary,) = json.loads(run.stdout)
    assert summary["fetched"] == 1 and summary["retried"] == 2
    assert query(db, "SELECT retried FROM runs") == [(2,)]
    assert _Busy.seen == ["/page"] * 3


def test_retries_of_robots_txt_count_too(site: str, tmp_path: Path) -> None:
    _Busy.busy = {"/robots.txt": 2}
    config = make_config([f"{site}/page"], network=NETWORK, politeness={"robots_txt": True})
    (result,) = run_crawl(config, tmp_path / "a.db")
    assert result.stats.fetched == 1
    assert _Busy.seen == ["/robots.txt"] * 3 + ["/page"]
    assert result.stats.retried == 2


def test_a_page_that_stays_unavailable_counts_its_retries_once(site: str,
                                                               tmp_path: Path) -> None:
    _Busy.busy = {"/page": 1}
    config = make_config([f"{site}/page", f"{site}/always"], network=NETWORK)
    (result,) = run_crawl(config, tmp_path / "a.db")
    assert result.stats.fetched == 1 and result.stats.failed == 1
    assert result.stats.retried == 1 + 3  # /page once, /always until attempts ran out
    assert query(tmp_path / "a.db", "SELECT attempts FROM failures") == [(4,)]


@pytest.mark.parametrize(("retry_after", "waits"), [
    (5.0, [5.0, 10.0, 20.0, 40.0, 60.0]),  # MediaWiki's own Retry-After, doubled, capped
    (None, [5.0, 10.0, 20.0, 40.0, 60.0]),  # none given: MediaWiki's 5 s
    (0.0, [0.5, 1.0, 2.0, 4.0, 8.0]),  # "retry now" still backs off, from `backoff`
])
def test_maxlag_waits_grow(retry_after: float | None, waits: list[float]) -> None:
    assert [maxlag_wait(retry_after, n, backoff=0.5, longest=60.0) for n in range(5)] == waits
