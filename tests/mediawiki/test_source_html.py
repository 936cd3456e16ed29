"""The same wiki crawled as plain HTML (`source: html`, mediawiki parser) and through
`source: mediawiki` gives the same pages: titles, summaries, related links."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mediawiki_harness import MediaWikiServer
from test_source_support import UA, run_crawl, wiki_config

from scraper.archive import Archive
from scraper.config import load_config_text
from scraper.models import Page, content_hash

pytestmark = pytest.mark.mediawiki

START = "North Atlantic Treaty Organization"


def latest_pages(archive: Archive, site: str) -> dict[str, Page]:
    return {snap.url: page for s, snap, page in archive.iter_versions(site=site)}


def test_html_crawl_and_wiki_crawl_agree(mediawiki_shared: MediaWikiServer,
                                         tmp_path: Path) -> None:
    wiki = mediawiki_shared
    html_config = load_config_text(textwrap.dedent(f"""\
        name: html
        start_urls: ["{wiki.page_url(START)}"]
        parser: mediawiki
        follow: [see_also, internal]
        max_depth: 1
        scope:
          include: ["^/wiki/"]
          exclude: ['^/wiki/[^/?]*:']   # Special:, Category:, Template: pages
        politeness: {{delay: 0, user_agent: "{UA}"}}
        network: {{allow_loopback: true}}
        """), "html.yaml")
    # Two archives: an archive keys pages by URL, whatever the crawl.
    with Archive.open(str(tmp_path / "html.db")) as archive:
        assert run_crawl(html_config, archive).status == "completed"
        html = latest_pages(archive, "html")
    with Archive.open(str(tmp_path / "wiki.db")) as archive:
        assert run_crawl(wiki_config(wiki, "{follow_links: true}", start=START),
                         archive).status == "completed"
        api = latest_pages(archive, "wiki")
    both = sorted(set(html) & set(api))
    assert wiki.page_url(START) in both
    assert len(both) >= 8, both
    # The wiki crawl reaches the start page's links with redirects resolved; the HTML crawl
    # stores a redirect's title under its own URL, so only those may differ.
    for url in set(api) - set(html):
        assert url in {p.canonical_url for p in html.values()}, url
    for url in both:
        a, b = html[url], api[url]
        assert a.title == b.title, url
        assert a.summary == b.summary and b.summary, url
        assert a.links_of("see_also") == b.links_of("see_also"), url
        assert a.links == b.links, url
        assert (a.categories, a.infobox, a.canonical_url) == \
            (b.categories, b.infobox, b.canonical_url), url
        assert a.revision_id == b.revision_id, url
        assert content_hash(a) == content_hash(b), url
    assert any(api[url].links_of("see_also") for url in both)
