"""The whole job offline on the built-in site: crawl, edit pages, recrawl, diff, export."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scraper.archive import Archive, ArchiveBackend
from scraper.config import CrawlConfig, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.diff import PageDiff, diff_pages
from scraper.export import ExportOptions, export_to_path
from scraper.lock import ArchiveLock
from scraper.models import Snapshot
from scraper.testsite import TestSite

# The pages the demo edits between its two crawls, and how.
EDITS: tuple[tuple[str, dict[str, object]], ...] = (
    ("NATO", {"summary": "The North Atlantic Treaty Organization (NATO) is a military alliance"
                         " of 32 member states. This sentence was edited by the demo.",
              "infobox": {"Members": "32 (demo edit)"}}),
    ("Cold War", {"append_sentence": "The demo added this sentence."}),
    ("Warsaw Pact", {"reorder_sections": True}),
)

CONFIG = """\
name: demo
start_urls: ["{base}/related/NATO"]
parser: auto
follow: [related, more_info]
scope: {{domains: [127.0.0.1], include: ["^/related/", "^/info/"]}}
max_depth: 2
recrawl_after: 0s
politeness: {{concurrency: 8, delay: 0, robots_txt: true}}
network: {{allow_loopback: true}}
"""


@dataclass(frozen=True, slots=True)
class DemoResult:
    base_url: str
    archive_path: str
    export_path: str
    first: RunResult
    second: RunResult
    edited_url: str
    history: tuple[Snapshot, ...]
    diff: PageDiff
    exported: int


def run_demo(workdir: str | os.PathLike[str] = "archive/demo", *, pages: int = 60,
             say: Callable[[str], None] = lambda line: None) -> DemoResult:
    """Serve the built-in site on a free loopback port, crawl it, edit pages, recrawl, diff
    an edited page and export the archive. The demo's own archive (demo.db in `workdir`)
    is made anew each time; nothing else is touched."""
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    archive_path = str(folder / "demo.db")
    export_path = str(folder / "pages.jsonl")
    with ArchiveLock(archive_path):
        for leftover in (archive_path, archive_path + "-wal", archive_path + "-shm",
                         export_path):
            if os.path.exists(leftover):
                os.remove(leftover)
        with TestSite(pages=pages) as site:
            base_url = site.base_url
            say(f"1. Serving the built-in encyclopedia site ({pages} topics) at {site.base_url}")
            config = load_config_text(CONFIG.format(base=site.base_url), "<demo config>")
            with Archive.open(archive_path) as archive:
                first = _crawl(config, archive)
                say(f"2. Crawled it: {first.stats.fetched} pages, {first.stats.new_versions} "
                    f"versions stored in {first.stats.elapsed_s:.1f} s")
                for name, changes in EDITS:
                    site.edit(name, **changes)
                say("3. Edited pages on the site: " + ", ".join(name for name, _ in EDITS))
                second = _crawl(config, archive)
                say(f"4. Recrawled: {second.stats.new_versions} new versions, "
                    f"{second.stats.not_modified} not modified (conditional GET), "
                    f"{second.stats.unchanged} unchanged")
                edited_url = site.url("/info/NATO")
                history = tuple(archive.history(edited_url))
                diff = diff_pages(archive.page(edited_url, history[-2].version),
                                  archive.page(edited_url, history[-1].version),
                                  old_meta=history[-2], new_meta=history[-1])
                exported = export_to_path(archive, export_path, ExportOptions(format="jsonl"),
                                          force=True).records
    return DemoResult(base_url, archive_path, export_path, first, second, edited_url,
                      history, diff, exported)


def _crawl(config: CrawlConfig, archive: ArchiveBackend) -> RunResult:
    return asyncio.run(crawl([config], archive, limits=CrawlLimits()))[0]
