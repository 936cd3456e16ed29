"""`scraper serve` in a real browser: Playwright drives Debian's chromium (its executable path;
no browser download) through search, a page's timeline, a version and a diff, and checks that
an archived page's scripts do not run and that nothing it names is requested."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from serve_helpers import HOSTILE_URL, NEW_SUMMARY, ServeArchive, build_archive

pytestmark = pytest.mark.browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI installs it: a missing browser is a broken CI, not a skip
    pytest.skip(message)


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    _missing("headless chromium not installed: no chromium, chromium-browser or google-chrome "
             "on PATH (Debian: apt-get install -y chromium; .ci/run installs it)")
    raise AssertionError("unreachable")


class Watcher:
    """A loopback HTTP server that records every request: what an archived page would have
    fetched, had anything it names been requested."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        watcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                watcher.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(b"watched")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module", autouse=True)
def needs_chromium() -> None:
    """Skip (or fail under CI) before any archive is built for the tests."""
    chromium()


@pytest.fixture(scope="module")
def watcher() -> Iterator[Watcher]:
    w = Watcher()
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(scope="module")
def served(watcher: Watcher, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[ServeArchive, str]]:
    """`scraper serve` (the command, as a person starts it) on a free loopback port."""
    archive = build_archive(str(tmp_path_factory.mktemp("browser") / "archive.db"),
                            watch_url=watcher.url)
    proc = subprocess.Popen([sys.executable, "-m", "scraper", "serve", "--archive",
                             archive.location, "--port", "0"],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        assert found, f"scraper serve said: {line!r}"
        yield archive, found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr is not None:
            proc.stderr.close()


BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Headless chromium leaves an out-of-process frame (the sandboxed stored page is one: its
# origin is opaque) blank in screenshots; in one process it is painted. The sandbox and the
# page's policy hold either way: the scripts test runs with the default process model.
PAINT_FRAMES_ARGS = ["--disable-site-isolation-trials",
                     "--disable-features=IsolateOrigins,site-per-process"]


@contextmanager
def launched_browser(args: list[str]) -> Iterator[Any]:
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def page() -> Iterator[Any]:
    with launched_browser(BROWSER_ARGS) as opened:
        yield opened


@pytest.fixture
def painting_page() -> Iterator[Any]:
    with launched_browser(BROWSER_ARGS + PAINT_FRAMES_ARGS) as opened:
        yield opened


def test_search_timeline_version_and_diff(served: tuple[ServeArchive, str], painting_page: Any,
                                          tmp_path: Path) -> None:
    archive, base = served
    page = painting_page
    page.goto(base + "/")
    assert "Recent changes" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

    # Search from the box in the header.
    page.fill("input[name=q]", "edited serve tests")
    page.click("header button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?q=edited"))
    results = page.locator("ol.results li")
    assert results.count() >= 1
    assert page.locator("ol.results mark").count() >= 1
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

    # The edited page's timeline: two versions, newest first, with the gist of the edit.
    page.click(f'ol.results a[href*="{archive.edited_url.rsplit("/", 1)[1]}"]:text-is("NATO")')
    page.wait_for_url(re.compile(r"/page\?url="))
    rows = page.locator("table.timeline tr.version")
    assert rows.count() == 2
    assert "summary edited" in rows.nth(0).inner_text()
    assert "first version" in rows.nth(1).inner_text()
    page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)

    # Version 2: its extracted fields, and the stored page in its sandboxed frame.
    rows.nth(0).locator("a", has_text="v2").click()
    page.wait_for_url(re.compile(r"/version\?.*v=2"))
    assert NEW_SUMMARY in page.inner_text("dd.summary")
    frame = page.frame_locator("iframe.stored")
    assert "NATO" in frame.locator("h1").first.inner_text()
    page.screenshot(path=str(tmp_path / "version.png"), full_page=True)
    # The frame is below the fold: scrolled to, it is painted (its own screenshot).
    page.locator("iframe.stored").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.locator("iframe.stored").screenshot(path=str(tmp_path / "stored-page.png"))

    # The diff with the version before, through the link on the version page.
    page.click("nav.pager a:has-text('diff with v1')")
    page.wait_for_url(re.compile(r"/diff\?"))
    assert page.locator("td.new ins").count() >= 1 and page.locator("td.old del").count() >= 1
    assert "32 (serve test)" in page.inner_text("table.diff")
    assert "v1 → v2" in page.inner_text("h1")
    page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)

    # Compare two versions chosen on the timeline (a plain form, no script).
    page.click("nav.pager a:has-text('timeline')")
    page.check("input[name=from][value='1']")
    page.check("input[name=to][value='2']")
    page.click("form.compare button")
    page.wait_for_url(lambda url: "/diff?" in url
                      and {k: v for k, v in parse_qs(urlsplit(url).query).items()
                           if k != "url"} == {"from": ["1"], "to": ["2"]})
    assert page.locator("td.new ins").count() >= 1
    for shot in ("home", "search", "timeline", "version", "stored-page", "diff"):
        data = (tmp_path / f"{shot}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, shot


def test_diff_previous_and_next_navigation(served: tuple[ServeArchive, str], page: Any) -> None:
    _, base = served
    page.goto(base + "/diff?" + f"url={HOSTILE_URL}&from=1&to=2")
    assert page.locator("nav.pager a[rel=prev]").count() == 0  # v1 -> v2 is the first pair
    assert page.locator("nav.pager a[rel=next]").count() == 0
    assert "Edit 2: a page with" in page.inner_text("table.diff")
    page.goto(base + "/version?" + f"url={HOSTILE_URL}&v=1")
    page.click("nav.pager a[rel=next]")
    page.wait_for_url(re.compile(r"v=2"))
    page.click("nav.pager a[rel=prev]")
    page.wait_for_url(re.compile(r"v=1"))


def test_an_archived_pages_scripts_do_not_run(served: tuple[ServeArchive, str], page: Any,
                                              watcher: Watcher, tmp_path: Path) -> None:
    _, base = served
    watcher.paths.clear()
    page.goto(base + "/version?" + f"url={HOSTILE_URL}&v=2")
    frame_element = page.wait_for_selector("iframe.stored")
    frame = frame_element.content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    # The frame shows the page as stored: its inline scripts never changed it.
    assert "SCRIPT-DID-NOT-RUN" in frame.inner_text("#lead")
    assert frame.locator("body[data-ran]").count() == 0
    # Nor the page around it.
    assert page.locator("body[data-pwned]").count() == 0
    assert page.title() != "pwned" and "Hostile" in page.title()
    # The stored body opened alone (its own address) runs nothing either.
    alone = page.context.new_page()
    alone.goto(base + "/body?" + f"url={HOSTILE_URL}&v=2")
    assert "SCRIPT-DID-NOT-RUN" in alone.inner_text("#lead")
    assert alone.title() != "pwned"
    alone.screenshot(path=str(tmp_path / "body.png"))
    # Its meta refresh (0 s), style sheet, images, frame and fetch() would each have reached
    # the watcher by now.
    time.sleep(1.5)
    assert watcher.paths == []
    assert alone.url.startswith(base)  # the meta refresh did not navigate it away
    assert frame.url.startswith(base + "/body")
