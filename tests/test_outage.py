"""Guarantee 2 of issue 16: an outage is a failure, not a postponement.

A host that cannot be reached (connection refused, a name that does not resolve, a
robots.txt that cannot be read) makes its URLs failures retried on the failure back-off, never
rescheduled after `recrawl_after`; the summary says so, and a run in which every fetch failed
exits 4. A start URL refused by the config (a redirect out of scope) waits minutes, not
`recrawl_after`, and the summary names it. All over real HTTP on loopback.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hostile_helpers import (
    closed_port,
    config_yaml,
    offline_resolver,
    outcomes,
    query,
    run_measured,
    scraper_cmd,
)

from scraper.cli.app import EXIT_ALL_FAILED

PAGE = b"<html><head><title>Up</title></head><body><p>The site is up again.</p></body></html>"


class _Site(BaseHTTPRequestHandler):
    robots_status = 404
    redirect_to: str | None = None
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path == "/robots.txt":
            self.send_response(self.robots_status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        return None


class Server:
    """A loopback site on a fixed address and port, started and stopped at will: the same
    URLs are down, then up."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, **attrs: object) -> None:
        self.host = host
        self.port = port or closed_port(host)
        self.handler = type("Handler", (_Site,), {"seen": [], **attrs})
        self._httpd: ThreadingHTTPServer | None = None

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> None:
        self._httpd = ThreadingHTTPServer((self.host, self.port), self.handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@pytest.fixture
def server() -> Iterator[Server]:
    site = Server()
    yield site
    site.stop()


def _config(tmp_path: Path, urls: list[str], *, robots: bool = False, extra: str = "",
            domains: list[str] | None = None, concurrency: int = 4) -> Path:
    scope = f"scope: {{domains: {json.dumps(domains)}}}\n" if domains else ""
    path = tmp_path / "site.yaml"
    path.write_text(config_yaml(urls, name="site",
                                politeness={"robots_txt": robots, "concurrency": concurrency},
                                network={"attempts": 2},
                                extra="recrawl_after: 30d\n" + scope + extra))
    return path


def _crawl(config: Path, db: Path, *args: str) -> tuple[int, str, str]:
    run = run_measured(scraper_cmd("crawl", str(config), "--archive", str(db), *args),
                       timeout=120)
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, run.stdout, run.stderr


def _frontier(db: Path) -> dict[str, tuple[datetime, int]]:
    return {url: (datetime.fromisoformat(due), attempts) for url, due, attempts in query(
        db, "SELECT url, next_due, attempts FROM frontier")}


def _make_due(db: Path) -> None:
    """What the clock does between cron runs: every URL waiting for its retry is due."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE frontier SET next_due = ? WHERE attempts > 0 OR next_due < ?",
                     ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
                      (datetime.now(UTC) + timedelta(hours=1)).isoformat()))
    conn.close()


@pytest.mark.parametrize("robots", [False, True])
def test_a_first_run_against_a_site_that_is_down(server: Server, tmp_path: Path,
                                                 robots: bool) -> None:
    urls = [server.url("/a"), server.url("/b"), server.url("/c")]
    config, db = _config(tmp_path, urls, robots=robots), tmp_path / "a.db"
    code, out, _ = _crawl(config, db)
    assert code == EXIT_ALL_FAILED
    assert f"host unreachable: 3 URLs (127.0.0.1:{server.port}), retried from " in out
    assert "nothing was due" not in out
    # Failures retried on the back-off (minutes), never after recrawl_after (30 days).
    frontier = _frontier(db)
    assert set(frontier) == set(urls)
    for due, attempts in frontier.values():
        assert attempts == 1
        assert due - datetime.now(UTC) < timedelta(minutes=6)
    seen = outcomes(db, full_urls=True)
    assert all(seen.of(u) == "failed" for u in urls)
    if robots:
        assert all("robots.txt unreachable" in seen.reason(u) for u in urls)

    # Run again at once: nothing is due yet, and the summary says why.
    code, out, _ = _crawl(config, db)
    assert code == 0
    assert "nothing was due: 3 failed URLs wait for a retry from " in out

    # The site comes back; at the next run the start URLs are fetched.
    server.start()
    _make_due(db)
    code, out, _ = _crawl(config, db, "--format", "json")
    assert code == 0
    (summary,) = json.loads(out)
    assert summary["fetched"] == 3 and summary["failed"] == 0


def test_a_down_host_costs_one_round_of_connection_attempts(server: Server,
                                                            tmp_path: Path) -> None:
    urls = [server.url(f"/p{i}") for i in range(40)]
    config, db = _config(tmp_path, urls, concurrency=1), tmp_path / "a.db"
    code, out, _ = _crawl(config, db, "--format", "json")
    assert code == EXIT_ALL_FAILED
    (summary,) = json.loads(out)
    assert summary["failed"] == 40
    # The first URL was tried (attempts: 2); the rest were failed at once.
    attempts = sorted(a for (a,) in query(db, "SELECT attempts FROM failures"))
    assert attempts.count(0) >= 35
    assert all("host unreachable earlier in this run" in r or "cannot connect" in r
               for (r,) in query(db, "SELECT reason FROM failures"))


def test_robots_txt_that_answers_5xx_is_a_failure_not_a_skip(tmp_path: Path) -> None:
    site = Server(robots_status=503)
    site.start()
    try:
        config, db = _config(tmp_path, [site.url("/a")], robots=True), tmp_path / "a.db"
        code, out, _ = _crawl(config, db)
    finally:
        site.stop()
    assert code == EXIT_ALL_FAILED
    assert "host unreachable: 1 URL " in out
    assert query(db, "SELECT count(*) FROM skips") == [(0,)]
    ((reason,),) = query(db, "SELECT reason FROM failures")
    assert "robots.txt unreachable (HTTP 503" in reason
    (due, _), = _frontier(db).values()
    assert due - datetime.now(UTC) < timedelta(minutes=6)


def test_a_name_that_does_not_resolve_is_an_unreachable_host(tmp_path: Path) -> None:
    import asyncio

    from scraper.archive import Archive
    from scraper.config import load_config_text
    from scraper.crawl import crawl

    config = load_config_text(config_yaml(["http://wiki.invalid/a"], name="site",
                                          network={"attempts": 1}), "site.yaml")
    with offline_resolver(), Archive.open(str(tmp_path / "a.db")) as archive:
        (result,) = asyncio.run(crawl([config], archive))
    assert result.stats.failed == 1
    assert result.stats.extra["unreachable"] == {"wiki.invalid": 1}
    ((reason,),) = query(tmp_path / "a.db", "SELECT reason FROM failures")
    assert "wiki.invalid" in reason


def test_a_start_url_redirected_out_of_scope_is_said_and_does_not_wait(tmp_path: Path) -> None:
    target = Server(host="127.0.0.2")
    target.start()
    origin = Server(redirect_to=target.url("/landing"))
    origin.start()
    try:
        start = origin.url("/")
        config, db = _config(tmp_path, [start], domains=["127.0.0.1"]), tmp_path / "a.db"
        code, out, _ = _crawl(config, db)
        assert code == 0  # a refusal is not a failed fetch
        assert f"start URL refused: {start}: redirected out of scope to " \
               f"{target.url('/landing')}" in out
        (due, _), = _frontier(db).values()
        assert due - datetime.now(UTC) < timedelta(minutes=6)  # not recrawl_after (30 days)

        # The config is fixed; at the next run the start URL is fetched.
        config, _ = _config(tmp_path, [start], domains=["127.0.0.1", "127.0.0.2"]), None
        _make_due(db)
        code, out, _ = _crawl(config, db, "--format", "json")
        assert code == 0
        (summary,) = json.loads(out)
        assert summary["fetched"] == 1
    finally:
        origin.stop()
        target.stop()


def test_validate_refuses_a_start_url_out_of_scope(tmp_path: Path) -> None:
    config = _config(tmp_path, ["http://127.0.0.2:8/x"], domains=["127.0.0.1"])
    run = run_measured(scraper_cmd("validate", str(config)), timeout=60)
    assert run.returncode == 2
    assert "start_urls[0]" in run.stderr and "outside the scope" in run.stderr


def test_anything_a_stage_raises_for_one_url_is_that_urls_failure(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catch at the crawl's seams holds for exceptions nobody foresaw: a fetch, a parse
    and a store that raise for one URL each; the others are stored and the run completes."""
    import asyncio

    import scraper.crawl.parse_pool
    from scraper.archive import Archive
    from scraper.config import load_config_text
    from scraper.crawl import SiteCrawl, crawl
    from scraper.crawl.fetch import Fetcher

    fetch, parse, save = Fetcher.fetch, scraper.crawl.parse_pool.parse_and_encode, SiteCrawl._save

    async def fetch_or_break(self: Fetcher, url: str, **kwargs: object) -> object:
        if url.endswith("/fetch-breaks"):
            raise KeyError("a bug in a library")
        return await fetch(self, url, **kwargs)  # type: ignore[arg-type]

    def parse_or_break(request: scraper.crawl.parse_pool.ParseRequest) -> object:
        if request.url.endswith("/parse-breaks"):
            raise MemoryError("the parser ran out")
        return parse(request)

    def save_or_break(self: SiteCrawl, run_id: int, item: object, *args: object,
                      **kwargs: object) -> object:
        if getattr(item, "url", "").endswith("/store-breaks"):
            raise UnicodeEncodeError("utf-8", "\udc80", 0, 1, "surrogates not allowed")
        return save(self, run_id, item, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Fetcher, "fetch", fetch_or_break)
    monkeypatch.setattr(scraper.crawl.parse_pool, "parse_and_encode", parse_or_break)
    monkeypatch.setattr(SiteCrawl, "_save", save_or_break)
    server.start()
    paths = ["/fetch-breaks", "/parse-breaks", "/store-breaks", "/fine"]
    config = load_config_text(config_yaml([server.url(p) for p in paths], name="site"),
                              "site.yaml")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        (result,) = asyncio.run(crawl([config], archive))
    assert result.status == "completed"
    assert (result.stats.fetched, result.stats.failed) == (1, 3)
    seen = outcomes(tmp_path / "a.db")
    assert seen.of("/fine") == "fetched"
    assert "KeyError" in seen.reason("/fetch-breaks")
    assert "could not be parsed (MemoryError" in seen.reason("/parse-breaks")
    assert "could not be stored (UnicodeEncodeError" in seen.reason("/store-breaks")
    assert query(tmp_path / "a.db", "PRAGMA integrity_check") == [("ok",)]
