"""`scraper parse` of answers from a real MediaWiki 1.39 agrees with what the wiki source reads.

The same page is read three ways: the rendered page view through the article parser (what
a wiki crawl stores), and the action=parse and action=query answers through `scraper parse`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from mediawiki_harness import MediaWikiServer

from scraper.cli import main
from scraper.mediawiki import MediaWikiClient
from scraper.mediawiki.plan import summary_from_extract
from scraper.parse import parse_page

pytestmark = pytest.mark.mediawiki

UA = "scraper-tests/1.0 (mailto:tests@example.org)"
TITLE = "Cold War"


def parse_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["parse", *args, "--allow-loopback", "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_saved_answers_read_as_the_wiki_source_reads_the_page(
        mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared
    page_url = wiki.page_url(TITLE)
    view = httpx.get(page_url, timeout=30)
    from_view = parse_page(view.content, page_url, parser="mediawiki",
                           content_type=view.headers["content-type"])

    async def extract() -> str:
        async with httpx.AsyncClient(timeout=30) as http:
            client = MediaWikiClient(http, wiki.api_url, user_agent=UA)
            return (await client.extracts([TITLE]))[TITLE]

    textextract = asyncio.run(extract())
    title = quote(TITLE.replace(" ", "_"))

    parsed = parse_json(f"{wiki.api_url}?action=parse&page={title}&format=json&formatversion=2"
                        "&prop=text|revid|displaytitle|categories", "--url", page_url)
    assert parsed["parser"] == "mediawiki-parse"
    assert parsed["title"] == from_view.title == TITLE
    assert parsed["revision_id"] == from_view.revision_id
    assert parsed["summary"] == from_view.summary
    assert [(f["key"], f["value"]) for f in parsed["infobox"]] == list(from_view.infobox)
    content_links = {(ln.kind, ln.url) for ln in from_view.links}
    assert {(ln["kind"], ln["url"]) for ln in parsed["links"]} <= content_links
    assert sorted(parsed["categories"]) == sorted(from_view.categories)

    queried = parse_json(f"{wiki.api_url}?action=query&prop=extracts|revisions|categories"
                         f"&exintro=1&explaintext=1&titles={title}&format=json&formatversion=2")
    assert queried["parser"] == "mediawiki-query"
    assert queried["title"] == TITLE
    assert queried["revision_id"] == from_view.revision_id
    assert queried["summary"] == summary_from_extract(textextract)
