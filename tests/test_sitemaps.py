"""Crawls seeded from sitemaps over real HTTP on loopback: the built-in site's sitemap index
with gzip children reaches every topic, a recrawl fetches only the pages whose lastmod moved
(both archive backends), and sitemaps that break the protocol's caps or are no sitemaps at
all are recorded failures while the run goes on."""

from __future__ import annotations

import asyncio
import gzip
import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from local_http import serve

from scraper.archive import Archive
from scraper.config import CrawlConfig, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.testsite import TestSite

PAGES = 120  # three child sitemaps of 50, 50 and 20 articles


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=PAGES) as running:
        running.sitemaps = True
        yield running


def make_config(body: str) -> CrawlConfig:
    text = textwrap.dedent("""\
        name: test
        network: {allow_loopback: true, backoff_base: 0.05, backoff_max: 0.2, attempts: 2}
        politeness: {concurrency: 4, delay: 0}
        """) + textwrap.dedent(body)
    return load_config_text(text, "test.yaml")


def run(config: CrawlConfig, archive: Any, **limits: Any) -> RunResult:
    return asyncio.run(crawl([config], archive, limits=CrawlLimits(**limits)))[0]


def page_requests(site: TestSite) -> list[str]:
    return sorted(r.path for r in site.stats().log if r.path.startswith(("/info/", "/related/")))


def article_paths(site: TestSite) -> set[str]:
    return {f"/info/{slug}" for slug in site.model.slugs}


def test_robots_txt_names_the_index_of_gzip_children(site: TestSite) -> None:
    robots = httpx.get(site.url("/robots.txt")).text
    assert f"Sitemap: {site.url('/sitemap.xml')}" in robots
    index = httpx.get(site.url("/sitemap.xml"))
    assert index.headers["content-type"] == "application/xml"
    assert index.text.count("<sitemap>") == 3
    child = httpx.get(site.url("/sitemaps/topics-3.xml.gz"))
    assert child.headers["content-type"] == "application/gzip"
    assert gzip.decompress(child.content).count(b"<url>") == PAGES - 100
    assert httpx.get(site.url("/sitemaps/topics-4.xml.gz")).status_code == 404
    site.sitemaps = False
    assert "Sitemap:" not in httpx.get(site.url("/robots.txt")).text
    assert httpx.get(site.url("/sitemap.xml")).status_code == 404


@pytest.mark.parametrize("seeds", ["sitemaps", "robots"])
def test_a_crawl_seeded_from_the_sitemap_index_reaches_every_topic(
        site: TestSite, tmp_path: Path, seeds: str) -> None:
    if seeds == "sitemaps":
        config = make_config(f"""\
            sitemaps: ["{site.url('/sitemap.xml')}"]
            max_depth: 0
            """)
    else:  # the start host's robots.txt names the index
        config = make_config(f"""\
            start_urls: ["{site.url('/')}"]
            start: sitemap
            max_depth: 0
            """)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run(config, archive)
        stored = {unquote(urlsplit(snap.url).path) for _, snap, _ in archive.iter_versions()}
    assert result.status == "completed"
    assert result.stats.failed == 0
    assert article_paths(site) <= stored
    stats = site.stats()
    assert stats.count("/sitemap.xml") == 1
    for number in (1, 2, 3):
        assert stats.count(f"/sitemaps/topics-{number}.xml.gz") == 1
    assert [p for p in page_requests(site) if p.startswith("/related/")] == []


def test_a_recrawl_fetches_only_the_pages_whose_lastmod_moved(
        site: TestSite, any_archive_location: str) -> None:
    config = make_config(f"""\
        sitemaps: ["{site.url('/sitemap.xml')}"]
        max_depth: 0
        recrawl_after: 30d
        """)
    with Archive.open(any_archive_location) as archive:
        first = run(config, archive)
        assert first.stats.fetched == PAGES
        # The site's lastmod has whole seconds: an edit in the second of the last fetch
        # would read as older than that fetch.
        time.sleep(1.1)
        edited = [site.model.slugs[i] for i in (3, 60, 110)]  # one in each child sitemap
        for slug in edited:
            site.edit(slug, append_sentence="A new sentence for the sitemap test.")
        site.reset_stats()
        second = run(config, archive)
        assert second.status == "completed"
        assert page_requests(site) == sorted(f"/info/{slug}" for slug in edited)
        assert second.stats.fetched == 3
        assert second.stats.new_versions == 3
        site.reset_stats()
        third = run(config, archive)
        assert page_requests(site) == []
        assert third.stats.fetched == 0
        assert site.stats().count("/sitemap.xml") == 1  # read again, nothing due


def test_sitemaps_behind_a_login_are_read_with_the_request_settings(
        site: TestSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEMAP_PASSWORD", "s3cret-for-sitemaps")
    site.require_access("^/(sitemap|robots)", basic=("archivist", "s3cret-for-sitemaps"))
    body = f"""\
        start_urls: ["{site.url('/')}"]
        start: sitemap
        max_depth: 0
        """
    with Archive.open(str(tmp_path / "without.db")) as archive:
        without = run(make_config(body), archive)
    # robots.txt answers 401: no Sitemap: lines, so only the start URL.
    assert without.stats.fetched == 1
    login = "request: {auth: {basic: {user: archivist, password: '${SITEMAP_PASSWORD}'}}}\n"
    with Archive.open(str(tmp_path / "with.db")) as archive:
        with_login = run(make_config(body + login), archive)
    assert with_login.stats.failed == 0
    assert with_login.stats.fetched == PAGES + 1
    sent = [r for r in site.received() if r.target.startswith("/sitemap")]
    assert len(sent) == 1 + 3  # the index and its children, with the login only
    assert all("authorization" in r.headers for r in sent)


# -- sitemaps that are no sitemaps, or too large ---------------------------------------------

def _urlset(urls: list[str], padding: int = 0) -> bytes:
    pad = " " * padding
    body = "".join(f"<url><loc>{u}</loc></url>{pad}" for u in urls)
    return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{body}</urlset>").encode()


class _Sitemaps(BaseHTTPRequestHandler):
    """Sitemaps by path (set `routes` before serving), small HTML pages under /p/."""

    routes: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.startswith("/p/"):
            found = ("text/html", f"<html><head><title>{path}</title></head><body>"
                                  f"<p>{path}</p></body></html>".encode())
        else:
            found = self.routes.get(path)  # type: ignore[assignment]
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        kind, body = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _failures(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT url, reason FROM failures").fetchall()
    return {urlsplit(url).path: reason for url, reason in rows}


def test_broken_sitemaps_are_recorded_failures_and_the_run_goes_on(tmp_path: Path) -> None:
    with serve(_Sitemaps) as base:
        good = gzip.compress(_urlset([f"{base}/p/{i}" for i in range(3)]))
        _Sitemaps.routes = {
            "/good.xml.gz": ("application/octet-stream", good),
            "/malformed.xml": ("application/xml",
                               b"<urlset><url><loc>http://x/</loc></urlset>"),
            "/page.xml": ("text/html", b"<html><body>Not found</body></html>"),
            "/feed.xml": ("application/xml", b"<rss><channel></channel></rss>"),
            "/broken.xml.gz": ("application/gzip", good[:20] + b"\x00" * 40 + good[60:]),
            "/cut.xml.gz": ("application/gzip", good[: len(good) // 2]),
        }
        names = [*_Sitemaps.routes, "/missing.xml"]
        config = make_config("sitemaps: [" + ", ".join(f'"{base}{n}"' for n in names) + "]\n")
        with Archive.open(str(tmp_path / "a.db")) as archive:
            result = run(config, archive)
            frontier = archive.frontier_count("test")
    assert result.status == "completed"
    assert result.stats.fetched == 3  # the good sitemap's pages
    assert frontier == 3  # no sitemap entered the frontier
    failures = _failures(tmp_path / "a.db")
    assert set(failures) == {"/malformed.xml", "/page.xml", "/feed.xml", "/broken.xml.gz",
                             "/cut.xml.gz", "/missing.xml"}
    assert "not a well-formed sitemap" in failures["/malformed.xml"]
    assert "not a sitemap" in failures["/page.xml"] and "text/html" in failures["/page.xml"]
    assert "root element is <rss>" in failures["/feed.xml"]
    assert "gzip" in failures["/broken.xml.gz"]
    assert "cut short" in failures["/cut.xml.gz"]
    assert "404" in failures["/missing.xml"]
    assert result.stats.failed == 6


def test_the_protocol_caps_truncate_or_refuse_a_sitemap_and_the_run_goes_on(
        tmp_path: Path) -> None:
    with serve(_Sitemaps) as base:
        many = _urlset([f"{base}/p/{i}" for i in range(50_001)])
        # 55 entries padded with 1 MB of whitespace each: 55 MB once inflated, 60 KB sent.
        bomb = gzip.compress(_urlset([f"{base}/p/bomb{i}" for i in range(55)], 1 << 20))
        assert len(bomb) < 1 << 20
        _Sitemaps.routes = {"/many.xml": ("application/xml", many),
                            "/bomb.xml.gz": ("application/gzip", bomb)}
        config = make_config(f'sitemaps: ["{base}/many.xml", "{base}/bomb.xml.gz"]\n')
        with Archive.open(str(tmp_path / "a.db")) as archive:
            result = run(config, archive, max_pages=2)
            queued = archive.frontier_count("test")
            last = archive.frontier_item(f"{base}/p/50000")
    assert result.status == "max_pages"
    assert result.stats.fetched == 2
    assert queued == 50_000  # the first 50,000 of the file, none of the bomb's
    assert last is None
    failures = _failures(tmp_path / "a.db")
    assert "more than 50,000 entries" in failures["/many.xml"]
    assert "the first 50,000 were read" in failures["/many.xml"]
    assert "more than 52,428,800 bytes" in failures["/bomb.xml.gz"]
    assert "compression bomb" in failures["/bomb.xml.gz"]


def test_sitemap_urls_out_of_scope_are_skipped(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scraper.crawl")
    with serve(_Sitemaps) as base:
        _Sitemaps.routes = {"/s.xml": ("text/xml", _urlset(
            [f"{base}/p/in", f"{base}/other/out", "http://elsewhere.example/p/x",
             "mailto:someone@example.org"]))}
        config = make_config(f"""\
            sitemaps: ["{base}/s.xml"]
            scope: {{include: ["^/p/"]}}
            """)
        with Archive.open(str(tmp_path / "a.db")) as archive:
            result = run(config, archive)
            urls = {item for item in (f"{base}/p/in", f"{base}/other/out")
                    if archive.frontier_item(item) is not None}
    assert result.stats.fetched == 1
    assert urls == {f"{base}/p/in"}
    # The run's one line on its sitemaps counts what was left out, and why.
    [summary] = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "sitemaps"]
    fields = summary.fields  # type: ignore[attr-defined]
    assert (fields["urls"], fields["queued"], fields["out_of_scope"], fields["bad_urls"]) == (
        3, 1, 2, 1)  # the mailto: <loc> is no URL
    assert "3 URLs listed, 1 new, 0 due again by lastmod, 2 out of scope" in summary.getMessage()


def test_scraper_crawl_from_the_sitemaps_of_a_scraper_testsite_process(tmp_path: Path) -> None:
    site = subprocess.Popen([sys.executable, "-m", "scraper", "testsite", "--port", "0",
                             "--pages", "60", "--sitemaps"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert site.stdout is not None
        base = site.stdout.readline().strip()
        assert httpx.get(base + "/_control/settings", timeout=10).json()["sitemaps"] is True
        config = tmp_path / "maps.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: maps
            start_urls: ["{base}/"]
            start: sitemap
            max_depth: 0
            network: {{allow_loopback: true}}
            politeness: {{delay: 0}}
            """))
        crawl_run = subprocess.run([sys.executable, "-m", "scraper", "crawl", str(config),
                                    "--archive", str(tmp_path / "a.db")],
                                   check=False, capture_output=True, text=True, timeout=300)
        assert crawl_run.returncode == 0, crawl_run.stderr
    finally:
        site.terminate()
        site.communicate(timeout=60)
    with sqlite3.connect(tmp_path / "a.db") as conn:
        urls = {row[0] for row in conn.execute("SELECT url FROM pages")}
    assert len(urls) == 61  # the home page and the 60 articles the sitemaps list
    assert sum("/info/" in url for url in urls) == 60


def test_crawl_url_fetches_the_given_url_without_reading_the_sitemaps(
        site: TestSite, tmp_path: Path) -> None:
    config = make_config(f"""\
        sitemaps: ["{site.url('/sitemap.xml')}"]
        max_depth: 0
        """)
    wanted = site.url(f"/info/{site.model.slugs[5]}")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run(config, archive, urls=(wanted,))
    assert result.stats.fetched == 1
    assert page_requests(site) == [f"/info/{site.model.slugs[5]}"]
    assert site.stats().count("/sitemap.xml") == 0
