"""`source: mediawiki` under limits and trouble, against a real MediaWiki: max_pages, the
deadline, an unusable API, api.php discovery, title batching, and the `scraper crawl` command."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from mediawiki_harness import MediaWikiServer
from test_source_support import (
    ALL_PAGES,
    ARTICLES,
    HISTORY_TITLES,
    UA,
    api_kinds,
    run_crawl,
    viewed_titles,
    wiki_config,
)

from scraper.archive import Archive
from scraper.cli import main
from scraper.config import load_config_text
from scraper.crawl import crawl
from scraper.testsite import TestSite

pytestmark = pytest.mark.mediawiki

EVERY_PAGE = "{allpages_namespace: 0}"


def stored_urls(archive: Archive) -> set[str]:
    return {snap.url for _, snap, _ in archive.iter_versions()}


def test_max_pages_stops_and_the_next_run_finishes_without_refetching(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, EVERY_PAGE)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        first = run_crawl(config, archive, max_pages=4)
        assert first.status == "max_pages"
        assert len(viewed_titles(mediawiki.request_log())) == 1 + 4  # discovery + 4 views
        assert len(stored_urls(archive)) == first.stats.new_versions == 4
        mediawiki.reset_request_log()
        # No completed run yet: the next run enumerates again and fetches only the rest.
        second = run_crawl(config, archive)
        assert second.status == "completed"
        assert len(viewed_titles(mediawiki.request_log())) == len(ALL_PAGES) - 4
        assert second.stats.not_modified == 4
        assert stored_urls(archive) == {mediawiki.page_url(t) for t in ALL_PAGES}
        mediawiki.reset_request_log()
        assert run_crawl(config, archive, max_pages=1).status == "completed"
        assert api_kinds(mediawiki.request_log()) == ["siteinfo", "recentchanges"]


def test_deadline_stops_the_run_and_the_next_run_finishes(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    every_page = f'{{allpages_namespace: 0, api: "{mediawiki.api_url}"}}'
    with Archive.open(str(tmp_path / "a.db")) as archive:
        mediawiki.reset_request_log()
        assert run_crawl(wiki_config(mediawiki, every_page), archive,
                         max_time=1e-6).status == "max_time"
        assert mediawiki.request_log() == []  # the time was up before the first request
        # 0.25 s between request starts: the whole wiki takes over 4 s, so 2 s cuts it.
        slow = wiki_config(mediawiki, every_page, delay=0.25)
        cut = run_crawl(slow, archive, max_time=2.0)
        assert cut.status == "max_time"
        kept = stored_urls(archive)
        assert len(kept) < len(ALL_PAGES)
        mediawiki.reset_request_log()
        rest = run_crawl(wiki_config(mediawiki, every_page), archive)
        assert rest.status == "completed"
        assert len(viewed_titles(mediawiki.request_log())) == len(ALL_PAGES) - len(kept)
        assert all(len(archive.history(url)) == 1 for url in stored_urls(archive))


def test_an_unusable_api_fails_the_run_and_leaves_no_sync_point(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    bad = wiki_config(mediawiki, f'{{api: "{mediawiki.base_url}/no-such-api.php"}}')
    with Archive.open(str(tmp_path / "a.db")) as archive:
        failed = run_crawl(bad, archive)
        assert failed.status == "failed"
        assert failed.stats.failed == 1
        assert archive.stats()["failures"] == 1
        assert stored_urls(archive) == set()
        # The next good run is a first run: nothing was synchronised.
        good = wiki_config(mediawiki, f'{{api: "{mediawiki.api_url}"}}')
        mediawiki.reset_request_log()
        result = run_crawl(good, archive)
        assert result.status == "completed"
        assert "recentchanges" not in api_kinds(mediawiki.request_log())
        assert stored_urls(archive) == {mediawiki.page_url("Main Page")}


def test_api_found_from_the_start_page_then_from_the_archive(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, "{titles: [Cold War]}")
    assert config.mediawiki is not None and config.mediawiki.api is None
    with Archive.open(str(tmp_path / "a.db")) as archive:
        mediawiki.reset_request_log()
        run_crawl(config, archive)
        first = mediawiki.request_log()
        # The start page is asked for once, as it is, to read its api.php link.
        assert [r.uri for r in first].count("/wiki/Main_Page") == 1
        mediawiki.reset_request_log()
        run_crawl(config, archive)
        # Later runs read the link from the archived copy.
        assert api_kinds(mediawiki.request_log()) == ["siteinfo", "recentchanges"]
        assert len(mediawiki.request_log()) == 2


def test_titles_are_asked_for_fifty_at_a_time(mediawiki: MediaWikiServer,
                                              tmp_path: Path) -> None:
    missing = [f"No such page {i}" for i in range(60 - len(ARTICLES))]
    titles = ", ".join([*ARTICLES, *missing])
    with Archive.open(str(tmp_path / "a.db")) as archive:
        mediawiki.reset_request_log()
        result = run_crawl(wiki_config(mediawiki, f"{{titles: [{titles}]}}"), archive)
        assert result.status == "completed"
        info = [r for r in mediawiki.request_log() if r.is_api and "info" in
                r.params.get("prop", "")]
        sizes = sorted(len(r.params["titles"].split("|")) for r in info)
        assert sizes == [11, 50]  # 61 titles: the start page, 14 articles, 46 missing ones
        assert stored_urls(archive) == {mediawiki.page_url(t) for t in ALL_PAGES}
        assert all(r.user_agent == UA for r in mediawiki.request_log())
        extracts = [r for r in mediawiki.request_log() if r.params.get("prop") == "extracts"]
        assert all(len(r.params["titles"].split("|")) <= 20 for r in extracts)


def test_scraper_crawl_command_with_backfill(mediawiki: MediaWikiServer,
                                             tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    config = tmp_path / "wiki.yaml"
    config.write_text(textwrap.dedent(f"""\
        name: wiki
        start_urls: ["{mediawiki.page_url(HISTORY_TITLES[0])}"]
        source: mediawiki
        mediawiki:
          api: "{mediawiki.api_url}"
          titles: ["{HISTORY_TITLES[1]}"]
        politeness: {{delay: 0, user_agent: "{UA}"}}
        network: {{allow_loopback: true}}
        archive: "{db}"
        """), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["crawl", str(config), "--backfill", "10", "--format",
                                  "json", "--no-progress", "-q"])
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.output)
    assert summary["status"] == "completed"
    assert summary["new_versions"] == 4 + 3
    history = runner.invoke(main, ["history", mediawiki.page_url(HISTORY_TITLES[0]),
                                   "--archive", str(db), "--format", "json"])
    assert history.exit_code == 0, history.output
    assert "2019-03-14T09:12:00Z" in history.output  # the first revision's wiki timestamp
    again = runner.invoke(main, ["crawl", str(config), "--format", "json", "--no-progress",
                                 "-q"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)[0]["new_versions"] == 0


def test_a_wiki_config_beside_an_html_config_in_one_crawl(mediawiki: MediaWikiServer,
                                                          tmp_path: Path) -> None:
    # Both share the crawl's archive: the HTML crawl writes from the archive thread while the
    # wiki run reads and writes through the same gate.
    with TestSite(pages=40) as site:
        html = load_config_text(textwrap.dedent(f"""\
            name: testsite
            start_urls: ["{site.url('/related/NATO')}"]
            politeness: {{delay: 0}}
            network: {{allow_loopback: true}}
            """), "site.yaml")
        wiki = wiki_config(mediawiki, EVERY_PAGE)
        with Archive.open(str(tmp_path / "a.db")) as archive:
            results = asyncio.run(crawl([html, wiki], archive))
            assert [r.status for r in results] == ["completed", "completed"]
            assert results[0].stats.new_versions > 10
            assert results[1].stats.new_versions == len(ALL_PAGES)
            sites = {s for s, _, _ in archive.iter_versions()}
            assert sites == {"testsite", "wiki"}
            again = asyncio.run(crawl([html, wiki], archive))
            assert again[1].status == "completed" and again[1].stats.new_versions == 0
