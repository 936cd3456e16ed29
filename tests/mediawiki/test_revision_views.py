"""Revision views and red links on a real MediaWiki 1.39 (issue 17, "Extraction fidelity"):
an edit summary's links, shown in the revision box of the `?oldid=N` views that `source:
mediawiki` archives, are no links of the page; and a red link that turns blue when its page is
written makes no new version of the page linking it."""

from __future__ import annotations

import textwrap
import urllib.request
from pathlib import Path

import pytest
from mediawiki_harness import DATA_DIR, MediaWikiServer
from test_source_support import UA, run_crawl, wiki_config

from scraper.archive import Archive
from scraper.changes import diff_versions
from scraper.config import load_config_text

pytestmark = pytest.mark.mediawiki

COLD_WAR = (DATA_DIR / "pages" / "Cold_War.wiki").read_text(encoding="utf-8")


def test_edit_summary_links_are_no_links_of_the_archived_revision(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, start="Cold War")
    url = mediawiki.page_url("Cold War")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        assert run_crawl(config, archive).stats.new_versions == 1
        mediawiki.edit("Cold War", COLD_WAR.replace("In the 1970s tensions eased.",
                                                    "In the 1970s tensions eased for a time."),
                       summary="Détente wording; see [[Treaty of Brussels]] and "
                               "[[Partnership for Peace]]")
        assert run_crawl(config, archive).stats.new_versions == 1
        latest = archive.snapshot(url)
        assert "[[Treaty of Brussels]]" in latest.revision_comment  # kept as the metadata
        assert latest.final_url.endswith(f"?oldid={latest.revision_id}")
        assert b'id="mw-revision-info"' in archive.body(url)  # the view has the box
        page = archive.page(url)
        titles = {link.title for link in page.links}
        assert not titles & {"Treaty of Brussels", "Partnership for Peace"}, titles
        assert "Détente wording" not in page.text and "Harness" not in page.text
        assert latest.change_gist == "1 paragraph edited"
        d = diff_versions(archive, url)
        assert (d.links_added, d.links_removed) == ((), ())


def test_a_red_link_turning_blue_makes_no_new_version(mediawiki: MediaWikiServer,
                                                      tmp_path: Path) -> None:
    mediawiki.edit("Cold War", COLD_WAR.replace(
        "proxy wars.", "proxy wars, and an [[Arms race]].", 1), summary="Arms race")
    url = mediawiki.page_url("Cold War")
    config = load_config_text(textwrap.dedent(f"""\
        name: html
        start_urls: ["{url}"]
        parser: mediawiki
        max_depth: 0
        recrawl_after: 0s
        politeness: {{delay: 0, user_agent: "{UA}"}}
        network: {{allow_loopback: true}}
        """), "html.yaml")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        assert run_crawl(config, archive).stats.new_versions == 1
        assert b"title=Arms_race&amp;action=edit&amp;redlink=1" in archive.body(url)
        arms_race = [ln for ln in archive.page(url).links if ln.title == "Arms race"]
        assert [ln.url for ln in arms_race] == [mediawiki.page_url("Arms race")]

        mediawiki.edit("Arms race", "An '''arms race''' is a competition in armaments.",
                       summary="New page")
        mediawiki.run_jobs()  # the wiki marks the pages linking it as changed
        with urllib.request.urlopen(url, timeout=60) as answer:  # the wiki shows it blue
            body = answer.read()
        assert b'href="/wiki/Arms_race"' in body and b"title=Arms_race&amp;" not in body
        second = run_crawl(config, archive)
        # Fetched in full (the wiki says the page changed), and the same record.
        assert (second.stats.fetched, second.stats.not_modified) == (1, 0)
        assert second.stats.new_versions == 0
        assert len(archive.history(url)) == 1
