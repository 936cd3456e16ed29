"""The HTML diff opens in a real headless browser (Debian's chromium) and shows both sides."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.diff import diff_pages, render_html
from scraper.models import Link, Page

pytestmark = pytest.mark.browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = ("headless chromium not installed: no chromium, chromium-browser or google-chrome "
               "on PATH (Debian: apt-get install -y chromium; .ci/run installs it)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI installs it: a missing browser is a broken CI, not a skip
    pytest.skip(message)


def browser(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-extensions",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


OLD = Page(url="http://127.0.0.1:8000/wiki/Oslo", kind="article", title="Oslo",
           summary="Oslo is the capital of Norway.",
           text="Oslo lies at the end of a fjord.\n\nIt was founded around 1040.",
           links=(Link("http://127.0.0.1:8000/wiki/Bergen", "Bergen", "see_also"),),
           infobox=(("population", "709,000"),))
NEW = replace(OLD, summary="Oslo is the capital and most populous city of Norway.",
              text="Oslo lies at the end of a long fjord.\n\nIt was founded around 1040.",
              links=(Link("http://127.0.0.1:8000/wiki/Trondheim", "Trondheim", "see_also"),),
              infobox=(("population", "717,000"),))


def test_html_diff_renders_both_sides_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "diff.html"
    page.write_text(render_html(diff_pages(OLD, NEW)), encoding="utf-8")
    done = browser("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    tree = LexborHTMLParser(done.stdout)  # the DOM as the browser built it
    old_side = " ".join(n.text() for n in tree.css("td.old"))
    new_side = " ".join(n.text() for n in tree.css("td.new"))
    assert "Oslo is the capital of Norway." in old_side
    assert "Oslo is the capital and most populous city of Norway." in new_side
    assert sorted(n.text() for n in tree.css("td.old del")) == [
        "709,000", "Bergen http://127.0.0.1:8000/wiki/Bergen"]
    inserted = [n.text() for n in tree.css("td.new ins")]
    assert inserted.count("and most populous city ") == 1
    assert inserted.count("long ") == 1 and inserted.count("717,000") == 1
    assert tree.css_first("title").text() == "Diff: Oslo"
    # And it paints: a screenshot of the page is a real, non-trivial PNG.
    shot = tmp_path / "diff.png"
    browser(f"--screenshot={shot}", "--window-size=1000,700", page.as_uri(),
            profile=tmp_path / "profile")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
