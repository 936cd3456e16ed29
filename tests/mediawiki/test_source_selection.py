"""How the selection of a `source: mediawiki` crawl follows the wiki between runs, against a
real MediaWiki: pages joining a category, new links from a start page, a changed config, and a
page moved without a redirect."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mediawiki_harness import DATA_DIR, MediaWikiServer
from test_source_support import api_kinds, run_crawl, viewed_titles, wiki_config

from scraper.archive import Archive

pytestmark = pytest.mark.mediawiki


def stored_urls(archive: Archive) -> set[str]:
    return {snap.url for _, snap, _ in archive.iter_versions()}


def test_a_new_page_in_a_selected_category_is_picked_up(mediawiki: MediaWikiServer,
                                                         tmp_path: Path) -> None:
    config = wiki_config(mediawiki, "{categories: [Treaties]}")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        before = stored_urls(archive)
        mediawiki.edit("Treaty of Paris (1951)", "The '''Treaty of Paris''' of 1951 founded "
                       "the European Coal and Steel Community.\n\n[[Category:Treaties]]",
                       summary="New article")
        mediawiki.edit("Unrelated page", "Nothing about treaties here.", summary="New")
        # The wiki's timestamps are whole seconds: a run starting in the second of an edit
        # cannot know whether it saw the edit, and the next run would look at it again.
        time.sleep(1.05)
        mediawiki.reset_request_log()
        second = run_crawl(config, archive)
        assert second.status == "completed"
        assert stored_urls(archive) == before | {mediawiki.page_url("Treaty of Paris (1951)")}
        requests = mediawiki.request_log()
        assert viewed_titles(requests) == ["Treaty of Paris (1951)"]
        assert api_kinds(requests) == ["siteinfo", "recentchanges", "categorymembers",
                                       "info", "extracts"]
        # Edits to archived pages alone do not enumerate the category again.
        text = (DATA_DIR / "pages" / "North_Atlantic_Treaty.wiki").read_text(encoding="utf-8")
        mediawiki.edit("North Atlantic Treaty", text + "\nMore.", summary="more")
        mediawiki.reset_request_log()
        run_crawl(config, archive)
        assert "categorymembers" not in api_kinds(mediawiki.request_log())
        assert viewed_titles(mediawiki.request_log()) == ["North Atlantic Treaty"]


def test_a_page_newly_linked_from_a_start_page_is_picked_up(mediawiki: MediaWikiServer,
                                                           tmp_path: Path) -> None:
    start = "Collective security"
    config = wiki_config(mediawiki, "{follow_links: true}", start=start)
    text = (DATA_DIR / "pages" / "Collective_security.wiki").read_text(encoding="utf-8")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        assert mediawiki.page_url("Helsinki Final Act") not in stored_urls(archive)
        mediawiki.edit(start, text.replace("[[Warsaw Pact]]",
                                           "[[Warsaw Pact]] (compare the [[Helsinki Final Act]])",
                                           1), summary="Link the Final Act")
        mediawiki.reset_request_log()
        run_crawl(config, archive)
        assert sorted(viewed_titles(mediawiki.request_log())) == [start, "Helsinki Final Act"]
        assert mediawiki.page_url("Helsinki Final Act") in stored_urls(archive)
        assert len(archive.history(mediawiki.page_url(start))) == 2


def test_a_changed_selection_is_enumerated_again(mediawiki: MediaWikiServer,
                                                 tmp_path: Path) -> None:
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(wiki_config(mediawiki, "{titles: [Cold War]}"), archive)
        mediawiki.reset_request_log()
        run_crawl(wiki_config(mediawiki, "{titles: [Cold War, Warsaw Pact]}"), archive)
        requests = mediawiki.request_log()
        assert "recentchanges" not in api_kinds(requests)
        assert viewed_titles(requests) == ["Warsaw Pact"]  # Cold War is archived already
        # A different backfill or maxlag is no change of selection.
        mediawiki.reset_request_log()
        run_crawl(wiki_config(mediawiki, "{titles: [Cold War, Warsaw Pact], maxlag: 2}"),
                  archive)
        assert api_kinds(mediawiki.request_log()) == ["siteinfo", "recentchanges"]


def test_a_page_moved_without_a_redirect(mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, "{titles: [Warsaw Pact]}")
    old, new = mediawiki.page_url("Warsaw Pact"), mediawiki.page_url("Warsaw Pact (alliance)")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        mediawiki.move("Warsaw Pact", "Warsaw Pact (alliance)", reason="test",
                       redirect=False)
        second = run_crawl(config, archive)
        assert second.status == "completed"
        assert [s.version for s in archive.history(new)] == [1, 2]
        assert archive.page(new).title == "Warsaw Pact (alliance)"
        info = archive.page_info(old)
        assert info["gone"] is True and info["current_version"] == 1
