"""Exports of an archive built from the built-in site's real pages (rendered, then parsed):
entries deduplicated across its listing pages, an edit seen through --as-of, WARC bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from scraper.archive import Archive
from scraper.cli import main
from scraper.models import FetchResult
from scraper.parse import parse_page
from scraper.testsite import SiteModel, info_path, related_path, render_article, render_listing
from scraper.timeutil import iso

BASE = "http://127.0.0.1:8000"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
T_EDIT = T0 + timedelta(days=2)
EDITED = "Warsaw_Pact"
NEW_SENTENCE = "A sentence added by the test's edit."


def listing_urls(model: SiteModel) -> list[tuple[str, str, int]]:
    """(url, slug, page number) of every listing page of the site."""
    out = []
    for slug in model.slugs:
        for number in range(1, model.listing_pages(slug) + 1):
            out.append((BASE + related_path(slug, number), slug, number))
    return out


def save_page(archive: Archive, run: int, url: str, body: bytes, when: datetime) -> None:
    fetch = FetchResult(url=url, final_url=url, status=200,
                        headers=(("Content-Type", "text/html; charset=utf-8"),),
                        body=body, fetched_at=when, elapsed_s=0.01)
    archive.save(run, "testpedia", fetch, parse_page(body, url),
                 next_due=when + timedelta(days=1))


@pytest.fixture(scope="module")
def site_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, SiteModel, SiteModel]:
    """Every listing page of a 40-topic site and 10 articles, crawled at T0; then one topic is
    edited and the listing pages that show it are crawled again at T_EDIT."""
    before = SiteModel(seed=3, pages=40)
    after = SiteModel(seed=3, pages=40)
    path = str(tmp_path_factory.mktemp("site") / "archive.db")
    with Archive.open(path) as archive:
        run = archive.start_run(["testpedia"], {}, T0)
        for i, (url, slug, number) in enumerate(listing_urls(before)):
            save_page(archive, run, url, render_listing(before, slug, number,
                                                        markup=("divs", "table", "bare")[i % 3]),
                      T0 + timedelta(seconds=i))
        for slug in before.slugs[:10]:
            save_page(archive, run, BASE + info_path(slug), render_article(before, slug),
                      T0 + timedelta(hours=1))
        after.edit(EDITED, prepend_sentence=NEW_SENTENCE, now=T_EDIT.timestamp())
        for i, (url, slug, number) in enumerate(listing_urls(after)):
            shown = {e.slug for e in after.listing(slug, number).entries}
            if EDITED in shown:
                body = render_listing(after, slug, number, markup=("divs", "table", "bare")[i % 3])
                save_page(archive, run, url, body, T_EDIT + timedelta(seconds=i))
    return path, before, after


def export(path: str, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["export", "--archive", path, "-o", "-", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout_bytes.splitlines()]


def expected_entries(model: SiteModel) -> dict[str, set[str]]:
    """more_info URL -> the listing pages showing it, from the site model itself."""
    where: dict[str, set[str]] = {}
    for url, slug, number in listing_urls(model):
        for entry in model.listing(slug, number).entries:
            where.setdefault(BASE + entry.more_info, set()).add(url)
    return where


def test_entries_are_deduplicated_across_the_sites_listing_pages(site_archive: Any) -> None:
    path, _, after = site_archive
    rows = export(path, "--records", "entries")
    expected = expected_entries(after)
    occurrences = sum(len(pages) for pages in expected.values())
    assert len(rows) == len(expected) < occurrences  # duplicates existed and were merged
    assert [r["more_info"] for r in rows] == sorted(expected)  # each once, sorted
    titles = {BASE + info_path(slug): after.topic(slug).title for slug in after.slugs}
    for row in rows:
        assert set(row["listing_pages"]) == expected[row["more_info"]]
        assert row["listing_pages"] == sorted(row["listing_pages"])
        assert row["title"] == titles[row["more_info"]]
        assert row["related"] and row["related"].startswith(BASE + "/related/")
        assert [s["name"] for s in row["search_links"]] == ["Wikipedia", "Google", "Baidu"]
        assert row["site"] == "testpedia"
    assert any(len(r["listing_pages"]) > 2 for r in rows)


def test_entries_as_of_before_the_edit_show_the_old_summary(site_archive: Any) -> None:
    path, before, _ = site_archive
    url = BASE + info_path(EDITED)
    now = {r["more_info"]: r for r in export(path, "--records", "entries")}
    then = {r["more_info"]: r for r in export(path, "--records", "entries",
                                               "--as-of", iso(T_EDIT - timedelta(seconds=1)))}
    assert NEW_SENTENCE in now[url]["summary"]
    assert NEW_SENTENCE not in then[url]["summary"]
    assert set(then) == set(expected_entries(before))
    # Listing pages that were not recrawled still count: the dedup spans every page.
    assert then[url]["listing_pages"] == now[url]["listing_pages"]


def test_pages_as_of_and_since_around_the_edit(site_archive: Any) -> None:
    path, before, after = site_archive
    edited_pages = {url for url, slug, n in listing_urls(after)
                    if EDITED in {e.slug for e in after.listing(slug, n).entries}}
    total = len(listing_urls(before)) + 10
    latest = export(path)
    assert len(latest) == total
    assert {r["url"] for r in latest if r["version"] == 2} == edited_pages
    assert all(r["version"] == 1 for r in export(path, "--as-of", iso(T_EDIT - timedelta(
        microseconds=1))))
    assert {r["url"] for r in export(path, "--since", iso(T_EDIT))} == edited_pages
    assert len(export(path, "--all-versions")) == total + len(edited_pages)


def test_warc_bodies_are_the_rendered_pages(site_archive: Any, tmp_path: Path) -> None:
    path, before, _ = site_archive
    target = tmp_path / "site.warc.gz"
    result = CliRunner().invoke(main, ["export", "--archive", path, "-o", str(target),
                                       "--as-of", iso(T0 + timedelta(days=1))])
    assert result.exit_code == 0, result.output
    rendered = {BASE + info_path(s): render_article(before, s) for s in before.slugs[:10]}
    seen = 0
    with target.open("rb") as fh:
        for record in ArchiveIterator(fh):
            uri = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type == "response" and uri in rendered:
                assert record.content_stream().read() == rendered[uri]
                seen += 1
    assert seen == 10
