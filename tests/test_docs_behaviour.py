"""What the docs say a crawl and an export do is what they do: each test checks the behaviour
and the sentence of the docs that describes it, so that neither drifts alone."""

from __future__ import annotations

from pathlib import Path

from scraper.config import load_config_text
from scraper.crawl.frontier import follow_kinds
from scraper.models import page_to_dict
from scraper.parse import parse_page
from tests.paths import REPO

DOCS = REPO / "docs"
SEED = Path(__file__).parent / "data" / "pages" / "listing-seed.html"


def doc_row(name: str, key: str) -> str:
    """The table row of docs/NAME that documents `key`."""
    rows = [line for line in (DOCS / name).read_text(encoding="utf-8").splitlines()
            if line.startswith(f"| `{key}`")]
    assert rows, f"docs/{name} has no row for {key}"
    return rows[0]


def test_following_related_follows_the_next_listing_page_and_config_md_says_so() -> None:
    config = load_config_text("name: t\nstart_urls: [https://wiki.example.org/]\n"
                              "follow: [related]\n", "t.yaml")
    assert "next" in follow_kinds(config)
    assert "next page too" in doc_row("config.md", "follow")


def test_a_cut_summary_loses_its_ellipsis_and_export_md_says_so() -> None:
    page = parse_page(SEED.read_bytes(), "http://127.0.0.1:8000/related/X")
    record = page_to_dict(page)
    assert record["summary_truncated"] is True
    assert not record["summary"].rstrip().endswith(("...", "…"))
    assert page.entries and all(not e.summary.endswith(("...", "…")) for e in page.entries)
    row = doc_row("export.md", "summary")
    assert "is removed" in row and "summary_truncated" in row
    assert "keep their" not in row
