"""What the `scraper serve` tests share: an archive crawled from the built-in site with edited
pages and a hostile page, and the web view served by uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import uvicorn

from scraper.archive import Archive
from scraper.config import load_config_text
from scraper.crawl import CrawlLimits, crawl
from scraper.models import FetchResult
from scraper.parse import parse_page
from scraper.serve import ServeSettings, create_app
from scraper.serve.listening import listening_socket
from scraper.testsite import TestSite

CONFIG = """\
name: serve-test
start_urls: ["{base}/related/NATO"]
parser: auto
follow: [related, more_info]
scope: {{domains: [127.0.0.1], include: ["^/related/", "^/info/"]}}
max_depth: 1
recrawl_after: 0s
politeness: {{concurrency: 8, delay: 0, robots_txt: false}}
network: {{allow_loopback: true}}
"""

EDITED = "NATO"
NEW_SUMMARY = ("The North Atlantic Treaty Organization (NATO) is a military alliance of 32 "
               "member states. This sentence was edited for the serve tests.")
HOSTILE_URL = "http://127.0.0.1:9/info/Hostile"
HOSTILE_TITLE = "<script>document.title='pwned'</script>Hostile & \"quoted\" page"


def hostile_body(watch_url: str) -> bytes:
    """A page whose scripts, meta refresh, images and style sheets would reach `watch_url`
    (a loopback server the test watches) and change the DOM, were any of them let through."""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>{HOSTILE_TITLE.replace('<', '&lt;')}</title>
<meta http-equiv="refresh" content="0; url={watch_url}/refresh">
<link rel="stylesheet" href="{watch_url}/style.css">
<script>
  document.body && (document.body.dataset.ran = "yes");
  try {{ parent.document.body.setAttribute("data-pwned", "yes"); }} catch (e) {{}}
  try {{ top.document.title = "pwned"; }} catch (e) {{}}
  fetch("{watch_url}/fetch").catch(function () {{}});
  new Image().src = "{watch_url}/script-image";
</script>
</head><body>
<h1 id="firstHeading">Hostile page</h1>
<p id="lead">A page with a script in it. SCRIPT-DID-NOT-RUN</p>
<img src="{watch_url}/image.png" alt="">
<iframe src="{watch_url}/frame"></iframe>
<script>document.getElementById("lead").textContent = "SCRIPT-RAN";</script>
</body></html>""".encode()


@dataclass(frozen=True)
class ServeArchive:
    location: str
    base_url: str  # of the built-in site that was crawled (no longer served)
    edited_url: str


def build_archive(location: str, watch_url: str = "http://127.0.0.1:9") -> ServeArchive:
    """Crawl the built-in site into `location`, edit a page, crawl again, and store a hostile
    page (two versions) whose body would reach `watch_url`."""
    with TestSite(pages=12) as site, Archive.open(location) as archive:
        config = load_config_text(CONFIG.format(base=site.base_url), "<serve test config>")
        asyncio.run(crawl([config], archive, limits=CrawlLimits()))
        site.edit(EDITED, summary=NEW_SUMMARY, infobox={"Members": "32 (serve test)"})
        asyncio.run(crawl([config], archive, limits=CrawlLimits()))
        base_url, edited_url = site.base_url, site.url(f"/info/{EDITED}")
        run = archive.start_run(["serve-test"], {}, datetime.now(UTC))
        for n in (1, 2):
            body = hostile_body(watch_url).replace(b"A page with", f"Edit {n}: a page with".encode())
            when = datetime.now(UTC) + timedelta(seconds=n)
            fetch = FetchResult(url=HOSTILE_URL, final_url=HOSTILE_URL, status=200,
                                headers=(("Content-Type", "text/html; charset=utf-8"),),
                                body=body, fetched_at=when, elapsed_s=0.01)
            archive.save(run, "serve-test", fetch, parse_page(body, HOSTILE_URL),
                         next_due=when + timedelta(days=1),
                         change_gist="" if n == 1 else "summary: <b>edited</b>")
    return ServeArchive(location, base_url, edited_url)


@contextmanager
def serving(settings: ServeSettings) -> Iterator[str]:
    """The web view of `settings.archive` on a free loopback port, in a thread; yields its
    base URL."""
    app = create_app(settings)
    sock = listening_socket(settings.host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("scraper serve did not start")
        time.sleep(0.02)
    try:
        yield f"http://{settings.host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
