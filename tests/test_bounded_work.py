"""Guarantee 4 of issue 16: bounded work per page, over real HTTP on loopback.

Markup that would make the tree builder quadratic (deep nesting, thousands of attributes on one
element) is refused before parsing, as that URL's failure; robots.txt is read up to Google's
500 KiB; cookies per host are capped; `--max-time` ends the process within seconds of the
limit whatever a page does, with the run row finished.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from hostile_helpers import config_yaml, make_config, outcomes, query, run_crawl, run_measured
from hypothesis import given, settings
from hypothesis import strategies as st
from local_http import serve
from paths import CORPUS

from scraper.cli.crawl_cmds import MAX_TIME_GRACE
from scraper.crawl.client import MAX_COOKIES_PER_DOMAIN
from scraper.crawl.fetch import ROBOTS_MAX_BYTES
from scraper.errors import ParseError
from scraper.parse import parse_page
from scraper.parse.bounds import check_markup_bounds

NORMAL = b"<html><head><title>Fine</title></head><body><p>An ordinary page.</p></body></html>"
DEEP = b"<html><body>" + b"<div>" * 400_000 + b"deep"  # Lexbor: hours
ATTRIBUTES = b"<html><body><div " + b" ".join(b"a%d=1" % i for i in range(200_000)) + b">x</div>"
VALUELESS = b"<html><body><p " + b" ".join(b"x%d" % i for i in range(100_000)) + b">x</p>"
BODIES = {"/normal": NORMAL, "/deep": DEEP, "/attributes": ATTRIBUTES, "/valueless": VALUELESS,
          # Sloppy but ordinary: 40,000 unclosed <p> and <li> are siblings, not nesting.
          "/sloppy": b"<html><body>" + b"<p>para" * 20_000 + b"<ul>" + b"<li>item" * 20_000}


class _Pages(BaseHTTPRequestHandler):
    cookies_sent: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.cookies_sent.append(self.headers.get("Cookie"))
        body = BODIES.get(self.path.split("?")[0], NORMAL)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if self.path.startswith("/cookies"):
            for i in range(90):  # 90 cookies a page (aiohttp reads 128 headers), some huge
                size = 8000 if i % 10 == 0 else 30
                self.send_header("Set-Cookie", f"k{self.path[-1]}{i}={'v' * size}; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def site() -> Iterator[str]:
    _Pages.cookies_sent = []
    with serve(_Pages) as base:
        yield base


def test_markup_that_would_take_hours_is_refused_as_that_urls_failure(site: str,
                                                                      tmp_path: Path) -> None:
    urls = [f"{site}{path}" for path in BODIES]
    started = time.monotonic()
    (result,) = run_crawl(make_config(urls), tmp_path / "a.db")
    assert time.monotonic() - started < 60  # unbounded, this run would take hours
    assert result.status == "completed"
    seen = outcomes(tmp_path / "a.db")
    assert seen.of("/normal") == "fetched" and seen.of("/sloppy") == "fetched"
    assert seen.of("/deep") == "failed"
    assert "nested too deeply" in seen.reason("/deep")
    for key in ("/attributes", "/valueless"):
        assert seen.of(key) == "failed"
        assert "attributes" in seen.reason(key)


def test_the_corpus_is_within_bounds() -> None:
    pages = sorted(CORPUS.parent.rglob("*.html"))
    assert pages
    for page in pages:
        check_markup_bounds(page.read_bytes(), str(page))


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 40_000), tag=st.sampled_from(["div", "section", "table", "p"]))
def test_what_is_passed_parses_quickly_and_what_is_refused_says_why(depth: int,
                                                                      tag: str) -> None:
    html = b"<html><body>" + f"<{tag}>x".encode() * depth
    started = time.monotonic()
    try:
        parse_page(html, "http://127.0.0.1/x")
    except ParseError as exc:
        assert "nested too deeply" in str(exc)
    assert time.monotonic() - started < 10  # generous: a blow-up takes minutes


def test_robots_txt_is_read_up_to_500_kib(tmp_path: Path) -> None:
    padding = b"# " + b"x" * (ROBOTS_MAX_BYTES + 10_000) + b"\n"
    robots = b"User-agent: *\nDisallow: /before\n" + padding + b"Disallow: /after\n"

    class Robots(_Pages):
        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(robots)))
                self.end_headers()
                self.wfile.write(robots)
                return
            super().do_GET()

    with serve(Robots) as base:
        config = make_config([f"{base}/before", f"{base}/after", f"{base}/normal"],
                             politeness={"robots_txt": True},
                             network={"max_body_bytes": 100_000})  # robots.txt is not a page
        (result,) = run_crawl(config, tmp_path / "a.db")
    seen = outcomes(tmp_path / "a.db")
    assert seen.of("/before") == "skipped" and "robots.txt" in seen.reason("/before")
    # The rule past the cap is not read, as Google does not read it.
    assert seen.of("/after") == "fetched" and seen.of("/normal") == "fetched"
    assert result.stats.failed == 0


def test_cookies_per_host_are_capped(site: str, tmp_path: Path) -> None:
    urls = [f"{site}/cookies{i}" for i in range(6)] + [f"{site}/normal?{i}" for i in range(6)]
    config = make_config(urls, politeness={"concurrency": 1})
    run_crawl(config, tmp_path / "a.db")
    sent = [c for c in _Pages.cookies_sent if c]
    assert sent  # cookies are kept and sent back...
    for header in sent:  # ...but never more than the caps
        assert header.count("=") <= MAX_COOKIES_PER_DOMAIN
        assert len(header) < MAX_COOKIES_PER_DOMAIN * 4200
        assert "v" * 5000 not in header  # a cookie over 4096 bytes is dropped


class _Trickle:
    """Answers every request with headers, then a byte every 0.3 s: no read timeout ever
    fires, and the whole answer would take hours."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                         b"Content-Length: 100000\r\n\r\n<html>")
            while not self.stop.is_set():
                conn.sendall(b"x")
                time.sleep(0.3)
        except OSError:
            pass
        finally:
            conn.close()


def _max_time_run(tmp_path: Path, urls: list[str], *, prelude: str = "") -> tuple[float, int]:
    config = tmp_path / "c.yaml"
    config.write_text(config_yaml(urls, name="slow", politeness={"robots_txt": True},
                                  network={"timeout": 30, "total_timeout": 3600}))
    db = tmp_path / "a.db"
    code = (prelude + "import sys\nfrom scraper.cli import main\n"
            f"sys.argv = ['scraper', 'crawl', {str(config)!r}, '--archive', {str(db)!r},"
            " '--max-time', '3', '-q']\nmain()\n")
    import sys

    started = time.monotonic()
    run = run_measured([sys.executable, "-c", code], timeout=120)
    elapsed = time.monotonic() - started
    assert "Traceback" not in run.stderr, run.stderr
    ((status, ended),) = query(db, "SELECT status, ended_at FROM runs")
    assert status == "max_time" and ended  # the run row is finished
    return elapsed, run.returncode


def test_max_time_ends_a_run_whose_pages_never_finish(tmp_path: Path) -> None:
    server = _Trickle()
    try:
        urls = [f"http://127.0.0.1:{server.port}/p{i}" for i in range(10)]
        elapsed, code = _max_time_run(tmp_path, urls)
    finally:
        server.stop.set()
        server.sock.close()
    assert code == 0
    assert elapsed < 3 + 5


def test_max_time_ends_the_process_when_a_lookup_never_returns(tmp_path: Path) -> None:
    # A resolver that never answers holds a thread that asyncio waits for on the way out:
    # the watchdog ends the process MAX_TIME_GRACE after the limit, the run row finished.
    hang = ("import socket, time\n_real = socket.getaddrinfo\n"
            "def _hang(host, *a, **k):\n"
            "    if str(host).endswith('.stuck'):\n        time.sleep(600)\n"
            "    return _real(host, *a, **k)\nsocket.getaddrinfo = _hang\n")
    elapsed, code = _max_time_run(tmp_path, ["http://wiki.stuck/a"], prelude=hang)
    assert code == 1
    assert elapsed < 3 + MAX_TIME_GRACE + 5


def test_urls_longer_than_the_cap_are_not_queued(site: str, tmp_path: Path) -> None:
    from scraper.urls import MAX_URL_CHARS, normalise_url

    long_path = "/x" + "a" * MAX_URL_CHARS
    with pytest.raises(ValueError, match="longer than"):
        normalise_url(site + long_path)
    BODIES["/links"] = (b'<html><body><p>Links.</p><a href="%s">long</a><a href="/normal">ok</a>'
                        b"</body></html>" % long_path.encode())
    try:
        config = make_config([f"{site}/links"], follow=["internal"])
        (result,) = run_crawl(config, tmp_path / "a.db")
    finally:
        del BODIES["/links"]
    queued = [u for (u,) in query(tmp_path / "a.db", "SELECT url FROM frontier")]
    assert sorted(queued) == [f"{site}/links", f"{site}/normal"]
    assert result.stats.failed == 0
